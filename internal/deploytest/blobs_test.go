package deploytest

import (
	"os"
	"strings"
	"testing"
	"time"

	"likeness/internal/storetest"
)

// TestReplicaThatCannotReadTheSharedBlobsIsRefused starts a replica on
// PostgreSQL with a local blob folder, then a second one on the same
// database with a folder of its own: it could not read a single asset the
// first stored, so it must refuse to start and say why. A third replica on
// the first's folder starts.
func TestReplicaThatCannotReadTheSharedBlobsIsRefused(t *testing.T) {
	if os.Getenv(storetest.PostgresEnv) == "" {
		t.Skip("blob layout test skipped: it needs PostgreSQL (" + storetest.PostgresEnv + ")")
	}
	dsn := storetest.Postgres(t)
	dir, shared := t.TempDir(), t.TempDir()
	first := Start(t, Options{DB: dsn, DataDir: dir, Args: []string{"--blobs", shared}}, 60*time.Second)

	_, err := StartErr(t, Options{DB: dsn, DataDir: dir, Args: []string{"--blobs", t.TempDir()}}, 60*time.Second)
	if err == nil {
		t.Fatal("a replica with a blob folder of its own started beside one with another folder")
	}
	if msg := err.Error(); !strings.Contains(msg, "shared blob store") || !strings.Contains(msg, "--adopt-blob-store") {
		t.Fatalf("refusal does not say why or what to do:\n%s", msg)
	}
	third := Start(t, Options{DB: dsn, DataDir: dir, Args: []string{"--blobs", shared}}, 60*time.Second)
	for _, r := range []*Replica{first, third} {
		if code, _, err := Do(t.Context(), "GET", r.URL+"/healthz", "", nil); err != nil || code != 200 {
			t.Errorf("replica on the shared folder: /healthz %d %v", code, err)
		}
	}
}
