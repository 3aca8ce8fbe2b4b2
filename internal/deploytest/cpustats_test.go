package deploytest

import (
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// usage is where the CPU time of a load phase went: the whole machine,
// the replicas, the database's backends and the load generator, as read
// from /proc before and after; and what the database's backends were
// waiting on, sampled from pg_stat_activity while it ran.
type usage struct {
	db       *sql.DB
	pids     []int // the replicas
	machine  [2]uint64
	procs    [3]float64 // CPU seconds: replicas, backends, this process
	backends []int
	commits  int64 // pg_stat_database's xact_commit at the start
	queries  int64 // this measurement's own transactions, not counted

	mu    sync.Mutex
	waits map[string]int
	stop  chan struct{}
	done  chan struct{}
}

// startUsage begins measuring a phase.
func startUsage(db *sql.DB, replicas []*Replica) *usage {
	u := &usage{db: db, waits: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, r := range replicas {
		u.pids = append(u.pids, r.cmd.Process.Pid)
	}
	u.backends = u.backendPids()
	u.commits = u.xactCommits()
	u.machine = machineTicks()
	u.procs = u.cpu()
	go u.sample()
	return u
}

// end stops measuring and describes the phase for grants acknowledged.
func (u *usage) end(grants int64) string {
	close(u.stop)
	<-u.done
	m := machineTicks()
	busy := float64(m[0]-u.machine[0]) / float64(max(1, m[1]-u.machine[1]))
	after := u.cpu()
	commits := float64(u.xactCommits()-u.commits-u.queries) / float64(max(1, grants))
	per := func(i int) float64 { return (after[i] - u.procs[i]) * 1000 / float64(max(1, grants)) }
	u.mu.Lock()
	defer u.mu.Unlock()
	var keys []string
	total := 0
	for k, n := range u.waits {
		keys = append(keys, k)
		total += n
	}
	slices.SortFunc(keys, func(a, b string) int { return u.waits[b] - u.waits[a] })
	var waits []string
	for _, k := range keys[:min(6, len(keys))] {
		waits = append(waits, fmt.Sprintf("%s %.0f%%", k, 100*float64(u.waits[k])/float64(max(1, total))))
	}
	return fmt.Sprintf("machine CPU busy %.0f%%; CPU ms per grant: replicas %.2f, PostgreSQL backends %.2f, load generator %.2f; "+
		"%.2f database transactions (reads included) per grant; busy backends sampled: %s",
		100*busy, per(0), per(1), per(2), commits, strings.Join(waits, ", "))
}

// sample counts what the database's busy backends wait on, every 10 ms.
func (u *usage) sample() {
	defer close(u.done)
	for {
		select {
		case <-u.stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
		u.mu.Lock()
		u.queries++
		u.mu.Unlock()
		rows, err := u.db.Query(`SELECT COALESCE(wait_event_type, 'CPU'), COALESCE(wait_event, ''), state, left(regexp_replace(query, '\s+', ' ', 'g'), 24)
			FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state NOT IN ('idle')`)
		if err != nil {
			continue
		}
		for rows.Next() {
			var typ, ev, state, q string
			if rows.Scan(&typ, &ev, &state, &q) == nil {
				key := typ + ":" + ev
				if typ == "Lock" || typ == "Client" {
					key += " (" + strings.TrimSpace(q) + ")"
				}
				u.mu.Lock()
				u.waits[key]++
				u.mu.Unlock()
			}
		}
		rows.Close()
	}
}

// xactCommits is the database's count of committed transactions; reading
// it is one more, which the next read counts.
func (u *usage) xactCommits() int64 {
	var n int64
	u.db.QueryRow(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	u.mu.Lock()
	u.queries++
	u.mu.Unlock()
	return n
}

func (u *usage) backendPids() []int {
	u.mu.Lock()
	u.queries++
	u.mu.Unlock()
	var pids []int
	rows, err := u.db.Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	for rows.Next() {
		var p int
		if rows.Scan(&p) == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// cpu reads the CPU seconds of the replicas, of the backends (those seen
// at the start and now: a backend that came or went meanwhile counts
// from zero or not at all) and of this process.
func (u *usage) cpu() [3]float64 {
	seen := map[int]bool{}
	var back float64
	for _, p := range append(u.backends, u.backendPids()...) {
		if !seen[p] {
			seen[p] = true
			back += procSeconds(strconv.Itoa(p))
		}
	}
	var reps float64
	for _, p := range u.pids {
		reps += procSeconds(strconv.Itoa(p))
	}
	return [3]float64{reps, back, procSeconds("self")}
}

// procSeconds is the user and system CPU time of a process, 0 if gone.
func procSeconds(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// machineTicks returns the machine's busy and total CPU ticks.
func machineTicks() [2]uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return [2]uint64{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var total, idle uint64
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseUint(f, 10, 64)
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return [2]uint64{total - idle, total}
}
