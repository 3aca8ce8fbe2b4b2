package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"likeness/internal/likenesstest"
)

// BenchmarkDecisionsAgainstFloor measures the HTTP decision route against
// its floor, in one run: the plain net/http server of `likeness bench-floor`
// (a Go map behind the same JSON question) and `likeness serve` (the built
// binary, SQLite, subjects and grants made through its API) both run
// pinned to core 1, and are driven in turn by the same load generator,
// `likeness bench`, pinned to core 0, with the same connections and
// duration. The server not being measured is stopped (SIGSTOP), so it takes
// no CPU from the other. Each round measures both, in alternating order,
// and the ratios (likeness over the floor) are given per round and as the
// median over rounds: the machine is shared, and its load drifts.
//
//	go test -run x -bench DecisionsAgainstFloor -benchtime 1x -timeout 30m ./cmd/likeness
//
// LIKENESS_FLOOR_ROUNDS (default 5), LIKENESS_FLOOR_DURATION (default 5s)
// and LIKENESS_FLOOR_CONNS (default 16) shape the run; single decisions go
// over LIKENESS_FLOOR_CONNS connections, batches of 10,000 over 2.
// LIKENESS_FLOOR_SERVE_BIN names another likeness binary to serve (an
// earlier version, to compare); the floor and the load generator stay this
// one.
func BenchmarkDecisionsAgainstFloor(b *testing.B) {
	bin := buildLikeness(b, "")
	rounds := envIntOr("LIKENESS_FLOOR_ROUNDS", 5)
	duration, err := time.ParseDuration(env("LIKENESS_FLOOR_DURATION", "5s"))
	if err != nil {
		b.Fatal(err)
	}
	conns := envIntOr("LIKENESS_FLOOR_CONNS", 16)
	if _, err := exec.LookPath("taskset"); err != nil {
		b.Log("taskset is not available: server and load generator are NOT pinned")
	}
	for _, run := range []struct {
		name         string
		conns, batch int
	}{{"single", conns, 0}, {"batch10k", 2, 10000}} {
		b.Run(run.name, func(b *testing.B) {
			for range b.N {
				floor := startPinned(b, bin, "floor")
				lk := startPinned(b, bin, "likeness")
				var tput, p99 []float64
				for round := range rounds {
					load := loadAvg()
					first, second := floor, lk
					if round%2 == 1 {
						first, second = lk, floor
					}
					first.bench(b, run.conns, run.batch, duration)
					second.bench(b, run.conns, run.batch, duration)
					f, l := floor.last, lk.last
					tput = append(tput, l.perSecond/f.perSecond)
					p99 = append(p99, float64(l.p99)/float64(f.p99))
					b.Logf("round %d (load %s → %s): floor %.0f decisions/s p99 %s | likeness %.0f decisions/s p99 %s | throughput %.2fx, p99 %.2fx",
						round+1, load, loadAvg(), f.perSecond, f.p99, l.perSecond, l.p99, tput[round], p99[round])
				}
				b.ReportMetric(median(tput), "throughput-ratio")
				b.ReportMetric(median(p99), "p99-ratio")
			}
		})
	}
}

// floorResult is what one `likeness bench` run printed.
type floorResult struct {
	perSecond float64
	p99       time.Duration
}

// benchServer is a server process of the floor benchmark, stopped
// (SIGSTOP) while it is not being measured.
type benchServer struct {
	kind, url, bin string
	cmd            *exec.Cmd
	last           floorResult
}

const floorBenchToken = "floor-bench-admin-token-0123456789"

// startPinned starts the server of kind ("floor" or "likeness") pinned to
// core 1, waits until it serves, stops it and has it killed when b ends.
func startPinned(b *testing.B, bin, kind string) *benchServer {
	b.Helper()
	addr := likenesstest.FreeAddr(b)
	args := []string{"bench-floor", "--addr", addr, "--token", floorBenchToken}
	serveBin := bin
	if kind == "likeness" {
		args = []string{"serve", "--addr", addr, "--data-dir", b.TempDir()}
		serveBin = env("LIKENESS_FLOOR_SERVE_BIN", bin)
	}
	s := &benchServer{kind: kind, url: "http://" + addr, bin: bin, cmd: pinned("1", serveBin, args...)}
	s.cmd.Env = append(os.Environ(), "LIKENESS_ADMIN_TOKEN="+floorBenchToken)
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGCONT)
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	})
	if err := waitServing(s.url, floorBenchToken, 2*time.Minute); err != nil {
		b.Fatalf("%s did not start: %v\n%s", kind, err, out.String())
	}
	s.cmd.Process.Signal(syscall.SIGSTOP)
	return s
}

// bench resumes the server, drives it with `likeness bench` pinned to core
// 0 (whose set-up of subjects also lets a resumed likeness catch up), and
// stops it again.
func (s *benchServer) bench(b *testing.B, conns, batch int, duration time.Duration) {
	b.Helper()
	s.cmd.Process.Signal(syscall.SIGCONT)
	defer s.cmd.Process.Signal(syscall.SIGSTOP)
	out, err := pinned("0", s.bin, "bench", "--url", s.url, "--token", floorBenchToken, "--duration", duration.String(),
		"--concurrency", strconv.Itoa(conns), "--subjects", "200", "--batch", strconv.Itoa(batch)).CombinedOutput()
	if err != nil {
		b.Fatalf("bench against %s: %v\n%s", s.kind, err, out)
	}
	s.last = parseBench(b, out)
}

// pinned is the command bin args, on core cpu when taskset is available.
func pinned(cpu, bin string, args ...string) *exec.Cmd {
	if _, err := exec.LookPath("taskset"); err != nil {
		return exec.Command(bin, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpu, bin}, args...)...)
}

// waitServing waits until the server at url answers an authorized GET of
// the notice: the floor at once, likeness once it has loaded.
func waitServing(url, token string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequest("GET", url+"/v1/notices/current", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	benchRate = regexp.MustCompile(`(?m)^decisions/s: (\d+)`)
	benchP99  = regexp.MustCompile(`p99 (\S+)`)
)

func parseBench(b *testing.B, out []byte) floorResult {
	b.Helper()
	rate, p99 := benchRate.FindSubmatch(out), benchP99.FindSubmatch(out)
	if rate == nil || p99 == nil {
		b.Fatalf("bench printed no figures:\n%s", out)
	}
	var r floorResult
	r.perSecond, _ = strconv.ParseFloat(string(rate[1]), 64)
	d, err := time.ParseDuration(string(p99[1]))
	if err != nil {
		b.Fatalf("bench p99 %q: %v", p99[1], err)
	}
	r.p99 = d
	return r
}

// loadAvg is the one-minute load average, for the record.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Split(bufio.ScanWords)
	s.Scan()
	return s.Text()
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func envIntOr(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
