package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
)

// TestCommittedWritesWakeListenersOnOtherConnections checks the push path
// replicas rely on: a subject created and a consent appended through one
// store handle are announced, after commit, to a listener on another.
func TestCommittedWritesWakeListenersOnOtherConnections(t *testing.T) {
	dsn := storetest.Postgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writer, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	kinds := make(chan string, 16)
	go reader.ListenChanges(ctx, func(kind string) { kinds <- kind })
	expect := func(want string) {
		t.Helper()
		for {
			select {
			case k := <-kinds:
				if k == want {
					return
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no %q notification within 5 s", want)
			}
		}
	}
	expect("") // connected

	sub := &likeness.Subject{ID: likeness.NewID("sub"), ExternalHash: "h1", Locale: "en", Jurisdiction: "EU-DE", CreatedAt: time.Now()}
	if _, _, err := writer.InsertSubject(ctx, sub, []byte("wrapped")); err != nil {
		t.Fatal(err)
	}
	expect("subject")
	ev := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub.ID, Purpose: "p", Type: likeness.Grant,
		Method: likeness.Checkbox, Time: time.Now()}
	if err := writer.AppendEvents(ctx, []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	expect("consent")
}

func TestSQLiteHasNoPushAndSaysSo(t *testing.T) {
	db, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.ListenChanges(context.Background(), func(string) {}); !errors.Is(err, sqlstore.ErrNoNotifications) {
		t.Fatalf("ListenChanges on SQLite: %v, want ErrNoNotifications", err)
	}
}
