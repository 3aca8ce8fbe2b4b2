package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"likeness"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) likeness.Store {
		db, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "likeness.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestPostgres(t *testing.T) {
	storetest.NeedPostgres(t)
	storetest.Run(t, func(t *testing.T) likeness.Store {
		db, err := sqlstore.Open(context.Background(), storetest.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestSQLiteTwoHandles(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (likeness.Store, likeness.Store) {
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "likeness.db")
		return open(t, dsn), open(t, dsn)
	})
}

func TestPostgresTwoHandles(t *testing.T) {
	storetest.NeedPostgres(t)
	storetest.RunShared(t, func(t *testing.T) (likeness.Store, likeness.Store) {
		dsn := storetest.Postgres(t)
		return open(t, dsn), open(t, dsn)
	})
}

func open(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestOpenRejectsUnknownDatabase(t *testing.T) {
	if _, err := sqlstore.Open(context.Background(), "mysql://x"); err == nil {
		t.Fatal("Open accepted an unknown database kind")
	}
}

func TestMigrationsRunOnceOnReopen(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "l.db")
	for range 2 {
		db, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		db.Close()
	}
}
