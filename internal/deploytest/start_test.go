package deploytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"likeness/internal/storetest"
)

// TestReplicasStartTogetherOnAFreshDatabase starts three replicas at the same
// instant on an empty database, ten times over: every one must come up
// (migrations take turns, the first admin key is made once), and the admin
// key that one of them printed works on all three.
func TestReplicasStartTogetherOnAFreshDatabase(t *testing.T) {
	backends := map[string]func(t *testing.T, dir string) string{
		"sqlite": func(t *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "likeness.db") },
	}
	if os.Getenv(storetest.PostgresEnv) != "" {
		backends["postgres"] = func(t *testing.T, _ string) string { return storetest.Postgres(t) }
	} else {
		t.Log("PostgreSQL rounds skipped: " + storetest.PostgresEnv + " is not set")
	}
	const replicas = 3
	rounds := map[string]int{"sqlite": 3, "postgres": 10}
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			for round := range rounds[name] {
				t.Run(fmt.Sprint("round", round), func(t *testing.T) {
					dir := t.TempDir()
					opts := Options{DB: dsn(t, dir), DataDir: dir}
					var wg sync.WaitGroup
					started := make([]*Replica, replicas)
					errs := make([]error, replicas)
					for i := range replicas {
						wg.Go(func() { started[i], errs[i] = StartErr(t, opts, 60*time.Second) })
					}
					wg.Wait()
					for i, err := range errs {
						if err != nil {
							t.Fatalf("replica %d of %d did not come up: %v", i+1, replicas, err)
						}
					}
					var admin string
					printed := 0
					for _, r := range started {
						if k := r.AdminKey(); k != "" {
							admin = k
							printed++
						}
					}
					if printed != 1 {
						t.Fatalf("%d replicas printed a first admin key, want exactly 1", printed)
					}
					for i, r := range started {
						code, body, err := Do(context.Background(), "GET", r.URL+"/v1/audit", admin, nil)
						if err != nil || code != 200 {
							t.Fatalf("replica %d refuses the first admin key: %d %s %v", i+1, code, body, err)
						}
					}
				})
			}
		})
	}
}
