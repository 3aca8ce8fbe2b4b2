package decision

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
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

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

var benchJurisdictions = []string{"EU-DE", "EU-FR", "GB", "US-CA", "US-IL", "EU-NL", "EU-DE", "CH"}

func benchSetup(b *testing.B) *Engine {
	b.Helper()
	bench.once.Do(func() {
		p, err := policy.Parse("bench.yaml", []byte(benchPolicy))
		if err != nil {
			panic(err)
		}
		base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

		// Fewer collections while loading; the measurement below is after a
		// full collection either way.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()

		e := New(p)
		e.Now = func() time.Time { return base.Add(24 * time.Hour) }
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
				ev.Time = base.Add(-time.Duration(ledger%86400) * time.Second)
				ev.LedgerIndex = ledger
				e.Apply(&ev)
			}
		}
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
