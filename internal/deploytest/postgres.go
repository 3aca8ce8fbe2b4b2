package deploytest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Postgres is a PostgreSQL server of the test's own, in a temporary folder on
// a free port, so a test can restart it without disturbing anything else.
type Postgres struct {
	bin, dir string
	Port     int
	asUser   string // run the server binaries as this user (postgres refuses root)
}

// PrivatePostgres starts a private PostgreSQL server for the test, or skips
// the test with one line when the server binaries are not installed.
// LIKENESS_TEST_POSTGRES_URL must be set too: private servers are only used
// where PostgreSQL tests are asked for.
func PrivatePostgres(t testing.TB) *Postgres {
	t.Helper()
	if os.Getenv("LIKENESS_TEST_POSTGRES_URL") == "" {
		t.Skip("PostgreSQL restart tests skipped: set LIKENESS_TEST_POSTGRES_URL")
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Skip("PostgreSQL restart tests skipped: no pg_ctl under /usr/lib/postgresql")
	}
	p := &Postgres{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "likeness-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("PostgreSQL restart tests skipped: running as root and there is no postgres user")
		}
		p.asUser = "postgres"
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	})
	if out, err := p.run("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.Port = freePort(t)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }

// URL is the connection URL of the server's "postgres" database.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
}

// Start starts the server and waits until it accepts connections.
func (p *Postgres) Start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.Port, p.dir)
	if out, err := p.run("pg_ctl", "-D", p.data(), "-o", opts, "-l", filepath.Join(p.dir, "log"), "-w", "-t", "30", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return nil
}

// Stop stops the server the way a crash or an operator's fast restart does:
// every connection is cut at once.
func (p *Postgres) Stop() error {
	if out, err := p.run("pg_ctl", "-D", p.data(), "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Restart stops the server, waits down for the given time, and starts it again.
func (p *Postgres) Restart(down time.Duration) error {
	if err := p.Stop(); err != nil {
		return err
	}
	time.Sleep(down)
	return p.Start()
}

func (p *Postgres) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(p.bin, name)
	var cmd *exec.Cmd
	if p.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	return cmd.CombinedOutput()
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
