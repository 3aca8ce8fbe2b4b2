package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkDecisionsAgainstFloor measures the HTTP decision route against
// its floor, in one run: the plain net/http server of `likeness bench-floor`
// (a Go map behind the same JSON question) and then `likeness serve`
// (the built binary, SQLite, subjects and grants made through its API) are
// started in turn, each pinned to core 1, and driven by the same load
// generator, `likeness bench`, pinned to core 0, with the same connections
// and duration. Each round measures both; the ratios are likeness over the
// floor, per round and as the median over rounds.
//
//	go test -run x -bench DecisionsAgainstFloor -benchtime 1x -timeout 30m ./cmd/likeness
//
// LIKENESS_FLOOR_ROUNDS (default 3), LIKENESS_FLOOR_DURATION (default 10s)
// and LIKENESS_FLOOR_CONNS (default 16) shape the single-decision run; the
// batch run sends batches of 10,000 over 2 connections.
func BenchmarkDecisionsAgainstFloor(b *testing.B) {
	bin := buildLikeness(b, "")
	rounds := envIntOr("LIKENESS_FLOOR_ROUNDS", 3)
	duration, err := time.ParseDuration(envOr("LIKENESS_FLOOR_DURATION", "10s"))
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
				var tput, p99 []float64
				for round := range rounds {
					load := loadAvg()
					floor := floorRun(b, bin, "floor", run.conns, run.batch, duration)
					lk := floorRun(b, bin, "likeness", run.conns, run.batch, duration)
					tput = append(tput, lk.perSecond/floor.perSecond)
					p99 = append(p99, float64(lk.p99)/float64(floor.p99))
					b.Logf("round %d (load %s → %s): floor %.0f decisions/s p99 %s | likeness %.0f decisions/s p99 %s | throughput %.2fx, p99 %.2fx",
						round+1, load, loadAvg(), floor.perSecond, floor.p99, lk.perSecond, lk.p99, tput[round], p99[round])
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

// floorRun starts the server of kind ("floor" or "likeness") pinned to core
// 1, drives it with `likeness bench` pinned to core 0, stops it and returns
// what bench measured.
func floorRun(b *testing.B, bin, kind string, conns, batch int, duration time.Duration) floorResult {
	b.Helper()
	const token = "floor-bench-admin-token-0123456789"
	addr := freeAddr(b)
	var args []string
	if kind == "floor" {
		args = []string{"bench-floor", "--addr", addr, "--token", token}
	} else {
		args = []string{"serve", "--addr", addr, "--data-dir", b.TempDir()}
	}
	srv := pinned("1", bin, args...)
	srv.Env = append(os.Environ(), "LIKENESS_ADMIN_TOKEN="+token)
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	if err := waitServing("http://"+addr, token, 2*time.Minute); err != nil {
		b.Fatalf("%s did not start: %v\n%s", kind, err, srvOut.String())
	}
	out, err := pinned("0", bin, "bench", "--url", "http://"+addr, "--token", token, "--duration", duration.String(),
		"--concurrency", strconv.Itoa(conns), "--subjects", "200", "--batch", strconv.Itoa(batch)).CombinedOutput()
	if err != nil {
		b.Fatalf("bench against %s: %v\n%s", kind, err, out)
	}
	return parseBench(b, out)
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

func freeAddr(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
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

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envIntOr(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

