package decision

import (
	"bufio"
	"bytes"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness"
	"likeness/policy"
)

// The benchmarks share one engine holding benchSubjects subjects, each with
// a grant for every one of the benchPolicy's five purposes.
const benchSubjects = 1_000_000

const benchPolicy = `
organization: {name: Bench Corp, country: DE, contact: privacy@bench.example}
languages: [en]
purposes:
  p1: {title: {en: P1}, description: {en: P1}, data: [image, voice], recipients: [ml-de, cloud-us], retention: 1y, renew_every: 12mo}
  p2: {title: {en: P2}, description: {en: P2}, data: [voice, transcript], recipients: [ml-de], retention: 1y}
  p3: {title: {en: P3}, description: {en: P3}, data: [image, video], recipients: [ml-de, ads-us], retention: 1y, renew_every: 24mo}
  p4: {title: {en: P4}, description: {en: P4}, data: [biometric_template, image], recipients: [cloud-us], retention: 1y}
  p5: {title: {en: P5}, description: {en: P5}, data: [voice, image, video], recipients: [ml-de, jp-lab], retention: 1y}
recipients:
  ml-de:    {name: ML, country: DE}
  cloud-us: {name: Cloud, country: US, transfer: scc}
  ads-us:   {name: Ads, country: US, transfer: none}
  jp-lab:   {name: Lab, country: JP}
`

var benchPurposes = []string{"p1", "p2", "p3", "p4", "p5"}

var bench struct {
	once          sync.Once
	engine        *Engine
	loadTime      time.Duration
	bytesPerGrant float64
	reqs          []likeness.DecisionRequest // a sample of requests over random subjects
}

var idEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// benchID is a deterministic id shaped like likeness.NewID(prefix): the
// prefix, "_", and 26 base32 characters of 128 well-mixed bits.
func benchID(prefix string, n uint64) string {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], mix(n))
	binary.LittleEndian.PutUint64(raw[8:], mix(n^0x9e3779b97f4a7c15))
	var buf [40]byte
	b := append(buf[:0], prefix...)
	b = append(b, '_')
	b = idEnc.AppendEncode(b, raw[:])
	return string(b)
}

func benchPolicySet() *policy.Policy {
	p, err := policy.Parse("bench.yaml", []byte(benchPolicy))
	if err != nil {
		panic(err)
	}
	return p
}

// benchBase is when the bench's consents were given, about.
var benchBase = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// benchLoad builds the 1M × 5 index by Apply, subject by subject.
func benchLoad(p *policy.Policy) *Engine {
	e := New(p)
	e.Now = func() time.Time { return benchBase.Add(24 * time.Hour) }
	ev := likeness.ConsentEvent{Type: likeness.Grant, NoticeVersion: 1}
	var ledger int64
	for i := range uint64(benchSubjects) {
		id := benchID("sub", i)
		e.PutSubject(id, benchJurisdictions[i%uint64(len(benchJurisdictions))])
		ev.SubjectID = id
		for k, purpose := range benchPurposes {
			ledger++
			ev.ID = benchID("evt", uint64(ledger))
			ev.Purpose = purpose
			ev.Method = likeness.Checkbox
			if (i+uint64(k))%3 == 0 {
				ev.Method = likeness.Written
			}
			ev.Time = benchBase.Add(-time.Duration(ledger%86400) * time.Second)
			ev.LedgerIndex = ledger
			e.Apply(&ev)
		}
	}
	return e
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

var benchJurisdictions = []string{"EU-DE", "EU-FR", "GB", "US-CA", "US-IL", "EU-NL", "EU-DE", "CH"}

func benchSetup(b testing.TB) *Engine {
	b.Helper()
	bench.once.Do(func() {
		p := benchPolicySet()
		// Fewer collections while loading; the measurement below is after a
		// full collection either way.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		e := benchLoad(p)
		bench.loadTime = time.Since(start)

		runtime.GC()
		runtime.ReadMemStats(&after)
		_, grants := e.Stats()
		if grants != benchSubjects*len(benchPurposes) {
			panic(fmt.Sprintf("loaded %d grants, want %d", grants, benchSubjects*len(benchPurposes)))
		}
		bench.bytesPerGrant = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(grants)
		bench.engine = e

		// Requests over 256Ki random subjects, as real traffic would hit them:
		// far more than fits in cache, so this measures memory latency too.
		categories := map[string][]string{}
		recipients := map[string][]string{}
		for _, id := range benchPurposes {
			categories[id] = p.Purposes[id].Data
			recipients[id] = append([]string{""}, p.Purposes[id].Recipients...)
		}
		bench.reqs = make([]likeness.DecisionRequest, 1<<18)
		for i := range bench.reqs {
			x := mix(uint64(i) + 1<<40)
			purpose := benchPurposes[x%5]
			cs, rs := categories[purpose], recipients[purpose]
			bench.reqs[i] = likeness.DecisionRequest{
				SubjectID: benchID("sub", (x>>8)%benchSubjects),
				Purpose:   purpose,
				Category:  cs[(x>>40)%uint64(len(cs))],
				Recipient: rs[(x>>48)%uint64(len(rs))],
			}
		}
	})
	return bench.engine
}

// BenchmarkDecide is one in-process decision against 1M subjects × 5
// purposes. Budget: ≤ 1 µs, 0 allocations.
func BenchmarkDecide(b *testing.B) {
	e := benchSetup(b)
	reqs := bench.reqs
	allowed := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if e.Decide(&reqs[i&(len(reqs)-1)]).Allow {
			allowed++
		}
		i++
	}
	b.ReportMetric(float64(allowed)/float64(i), "allowed/op")
}

// BenchmarkDecideLatency times decisions one by one and reports the median
// and the 99th percentile (each includes the cost of reading the clock).
func BenchmarkDecideLatency(b *testing.B) {
	e := benchSetup(b)
	reqs := bench.reqs
	samples := make([]time.Duration, 0, 1<<20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := time.Now()
		e.Decide(&reqs[i&(len(reqs)-1)])
		if len(samples) < cap(samples) {
			samples = append(samples, time.Since(start))
		}
		i++
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkDecideBatch10k is one batch of 10,000 decisions under one lock.
// Budget: ≥ 1,000,000 decisions/s.
func BenchmarkDecideBatch10k(b *testing.B) {
	e := benchSetup(b)
	const n = 10_000
	out := make([]likeness.Decision, n)
	b.ReportAllocs()
	b.ResetTimer()
	start := 0
	for b.Loop() {
		// Each batch names other subjects, as real batches would.
		if start+n > len(bench.reqs) {
			start = 0
		}
		e.DecideBatch(bench.reqs[start:start+n], out)
		start += n
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkIndexMemory reports the heap the 1M × 5 index takes per grant
// (HeapAlloc after GC, before and after loading) and how long loading took.
// Budget: ≤ 100 bytes per grant.
func BenchmarkIndexMemory(b *testing.B) {
	benchSetup(b)
	for b.Loop() {
	}
	b.ReportMetric(bench.bytesPerGrant, "bytes/grant")
	b.ReportMetric(bench.loadTime.Seconds(), "load-s")
}

// BenchmarkDecide1Mx5 is one in-process decision against 1M subjects × 5
// purposes, over requests for random subjects. It reports the median of
// per-batch means (batches of 1,024 decisions, timed with one clock read
// each), which a busy machine disturbs less than the overall mean.
// Budget: ≤ 800 ns median, 0 allocations.
func BenchmarkDecide1Mx5(b *testing.B) {
	e := benchSetup(b)
	reqs := bench.reqs
	const batch = 1024
	var means []float64
	b.ReportAllocs()
	i, n := 0, 0
	start := time.Now()
	for b.Loop() {
		e.Decide(&reqs[i&(len(reqs)-1)])
		i++
		if n++; n == batch {
			now := time.Now()
			means = append(means, float64(now.Sub(start).Nanoseconds())/batch)
			start, n = now, 0
		}
	}
	if len(means) > 0 {
		slices.Sort(means)
		b.ReportMetric(means[len(means)/2], "median-ns/op")
	}
}

// BenchmarkLoadSnapshot1Mx5 loads a snapshot of the 1M × 5 index from
// memory into a fresh engine: the start-up path without the disk read.
// Budget: well under 3 s.
func BenchmarkLoadSnapshot1Mx5(b *testing.B) {
	e := benchSetup(b)
	var buf bytes.Buffer
	if err := e.WriteSnapshot(&buf, 42); err != nil {
		b.Fatal(err)
	}
	snap := buf.Bytes()
	buf = bytes.Buffer{}
	b.ReportMetric(float64(len(snap))/float64(benchSubjects*len(benchPurposes)), "snapshot-bytes/grant")
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		f := New(nil)
		if _, err := f.LoadSnapshot(bytes.NewReader(snap)); err != nil {
			b.Fatal(err)
		}
		if _, g := f.Stats(); g != benchSubjects*len(benchPurposes) {
			b.Fatalf("loaded %d grants", g)
		}
	}
	// CPU time spent, which a busy machine inflates less than wall time.
	b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkWriteSnapshot1Mx5 writes the 1M × 5 index to memory.
func BenchmarkWriteSnapshot1Mx5(b *testing.B) {
	e := benchSetup(b)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := e.WriteSnapshot(&buf, 42); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/(1<<20), "MiB")
}

const memChildEnv = "LIKENESS_DECISION_MEMORY_CHILD"

// BenchmarkProcessMemory1Mx5 builds the 1M × 5 index in a fresh process (this
// test binary, run again) and reports its whole-process RSS above the same
// process before loading, per grant: right after loading by Apply, after a
// collection returned freed memory to the OS (what an idle server settles
// at), and the same after loading from a snapshot file instead. Budget: ≤ 100 bytes per
// grant.
func BenchmarkProcessMemory1Mx5(b *testing.B) {
	for b.Loop() {
		for _, mode := range []string{"apply", "snapshot"} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestProcessMemoryChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), memChildEnv+"="+mode)
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("child: %v\n%s", err, out)
			}
			for line := range strings.Lines(string(out)) {
				name, v, ok := strings.Cut(strings.TrimSpace(line), "=")
				if f, err := strconv.ParseFloat(v, 64); ok && err == nil {
					b.ReportMetric(f, mode+"-"+name)
				}
			}
		}
	}
}

// TestProcessMemoryChild is BenchmarkProcessMemory1Mx5's child; it runs
// only when that benchmark starts it.
func TestProcessMemoryChild(t *testing.T) {
	mode := os.Getenv(memChildEnv)
	if mode == "" {
		t.Skip("run by BenchmarkProcessMemory1Mx5")
	}
	grants := float64(benchSubjects * len(benchPurposes))
	if mode == "write" {
		f, err := os.Create(os.Getenv(memChildEnv + "_PATH"))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if err := benchLoad(benchPolicySet()).WriteSnapshot(w, 1); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(w.Flush(), f.Close()); err != nil {
			t.Fatal(err)
		}
		return
	}
	var snap *os.File
	if mode == "snapshot" {
		// Written by a process of its own, so this one holds only the index.
		path := filepath.Join(t.TempDir(), "decision.snap")
		cmd := exec.Command(os.Args[0], "-test.run=^TestProcessMemoryChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), memChildEnv+"=write", memChildEnv+"_PATH="+path)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("writer: %v\n%s", err, out)
		}
		var err error
		if snap, err = os.Open(path); err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
	}
	p := benchPolicySet()
	runtime.GC()
	debug.FreeOSMemory()
	empty := vmRSS(t)
	start := time.Now()
	var e *Engine
	if snap == nil {
		e = benchLoad(p)
	} else {
		e = New(p)
		if _, err := e.LoadSnapshot(snap); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	loaded := vmRSS(t)
	runtime.GC()
	debug.FreeOSMemory()
	idle := vmRSS(t)
	runtime.KeepAlive(e)
	fmt.Printf("rss-loaded-B/grant=%.1f\nrss-idle-B/grant=%.1f\nload-s=%.2f\n",
		float64(loaded-empty)/grants, float64(idle-empty)/grants, took.Seconds())
}

// vmRSS returns the process's resident set size in bytes.
func vmRSS(t testing.TB) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
