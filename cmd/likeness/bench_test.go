package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
)

// BenchmarkLedgerVerifySQLite1M times `likeness ledger verify` over a real
// SQLite database holding 1,000,000 consent events and a stored checkpoint
// every 100,000. The setup (writing the events) is not timed.
//
//	go test -run x -bench LedgerVerifySQLite1M -benchtime 1x -timeout 30m ./cmd/likeness
func BenchmarkLedgerVerifySQLite1M(b *testing.B) {
	const total, batch = 1_000_000, 2000
	ctx := context.Background()
	dir := b.TempDir()
	c := config{dataDir: dir}
	d, err := c.open(ctx, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	sub, _, err := d.subjects.CreateSubject(ctx, "ledger-bench", "en", "EU-DE")
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < total; i += batch {
		evs := make([]*likeness.ConsentEvent, batch)
		for k := range evs {
			typ := likeness.Grant
			if (i+k)%2 == 1 {
				typ = likeness.Withdraw
			}
			evs[k] = &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub.ID, Purpose: d.policy.PurposeIDs[0],
				Type: typ, Method: likeness.Checkbox, NoticeVersion: 1, NoticeSHA256: strings.Repeat("ab", 32), Language: "en",
				Collector: "key_bench", Time: t0.Add(time.Duration(i+k) * time.Second)}
		}
		if err := d.store.AppendEvents(ctx, evs, ledgerlog.LeafHash); err != nil {
			b.Fatal(err)
		}
		if (i+batch)%100_000 == 0 {
			if err := d.consent.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			if _, _, err := d.ledger.Checkpoint(ctx, true); err != nil {
				b.Fatal(err)
			}
		}
	}
	d.Close()
	b.ResetTimer()
	for range b.N {
		var out strings.Builder
		if code := Run(ctx, []string{"ledger", "verify", "--data-dir", dir, "--db", "sqlite:" + filepath.Join(dir, "likeness.db")}, &out, io.Discard); code != 0 {
			b.Fatalf("ledger verify exit %d: %s", code, out.String())
		}
		if !strings.Contains(out.String(), "1000000 events") {
			b.Fatalf("verify saw: %s", out.String())
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds()*float64(b.N), "events/s")
}
