package sqlstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"likeness"
	"likeness/internal/storetest"
)

// TestLedgerAndNewPeopleAreReadWholeAcrossPages shrinks the pages the
// ledger and the people created since a time are read in, so the reads
// cross several pages, and checks nothing is skipped or read twice: not an
// event at a page's edge, not a person created in the same microsecond as
// the last one of a page.
func TestLedgerAndNewPeopleAreReadWholeAcrossPages(t *testing.T) {
	defer func(e, s int) { eventPage, subjectPage = e, s }(eventPage, subjectPage)
	eventPage, subjectPage = 3, 3
	dsns := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "likeness.db") },
		"postgres": func(t *testing.T) string {
			storetest.NeedPostgres(t)
			return storetest.Postgres(t)
		},
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d, err := Open(ctx, dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
			// Ten people: one before t0, then nine in three groups that
			// share their creation time, so a page ends inside a group.
			before := &likeness.Subject{ID: likeness.NewID("sub"), ExternalHash: "h-before", Locale: "en", Jurisdiction: "EU-DE", CreatedAt: t0.Add(-time.Hour)}
			if _, _, err := d.InsertSubject(ctx, before, []byte("k")); err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for i := range 9 {
				s := &likeness.Subject{ID: likeness.NewID("sub"), ExternalHash: fmt.Sprintf("h-%d", i), Locale: "en", Jurisdiction: "EU-DE",
					CreatedAt: t0.Add(time.Duration(i/4) * time.Microsecond)}
				if _, _, err := d.InsertSubject(ctx, s, []byte("k")); err != nil {
					t.Fatal(err)
				}
				want[s.ID] = true
			}
			got, err := d.SubjectsCreatedSince(ctx, t0)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for i, s := range got {
				if seen[s.ID] || !want[s.ID] {
					t.Fatalf("person %d read twice or not created since t0", i)
				}
				seen[s.ID] = true
				if i > 0 && s.CreatedAt.Before(got[i-1].CreatedAt) {
					t.Fatalf("people out of creation order at %d", i)
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("read %d people created since t0, want %d", len(seen), len(want))
			}

			leaf := func(ev *likeness.ConsentEvent, idx int64) [32]byte {
				return sha256.Sum256(fmt.Appendf(nil, "%d/%s", idx, ev.ID))
			}
			for range 10 {
				ev := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: before.ID, Purpose: "p", Type: likeness.Grant,
					Method: likeness.Checkbox, NoticeVersion: 1, NoticeSHA256: "ab", Language: "en", Collector: "key_x", Time: t0}
				if err := d.AppendEvents(ctx, []*likeness.ConsentEvent{ev}, leaf); err != nil {
					t.Fatal(err)
				}
			}
			for _, from := range []int64{0, 2, 3, 9, 10} {
				next := from
				err := d.ForEachEvent(ctx, from, func(ev *likeness.ConsentEvent, h [32]byte) error {
					if ev.LedgerIndex != next || h != leaf(ev, next) {
						return fmt.Errorf("read index %d where %d was next", ev.LedgerIndex, next)
					}
					next++
					return nil
				})
				if err != nil || next != 10 {
					t.Fatalf("ForEachEvent from %d: read up to %d of 10: %v", from, next, err)
				}
			}
		})
	}
}
