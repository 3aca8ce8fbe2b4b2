package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"likeness"
)

// auditCounts counts the access log's rows by action.
func (e *env) auditCounts() map[string]int {
	e.t.Helper()
	all, err := e.store.RecentAccess(context.Background(), 1<<20)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, a := range all {
		out[a.Action]++
	}
	return out
}

// postAll POSTs bodies[i] to paths[i] from 8 goroutines at once, as
// concurrent clients do, and returns the statuses.
func (e *env) postAll(paths []string, bodies [][]byte) []int {
	e.t.Helper()
	status := make([]int, len(paths))
	errs := make([]error, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				req, _ := http.NewRequest("POST", e.srv.URL+paths[i], bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+e.tokens[likeness.RoleCollector])
				res, err := e.srv.Client().Do(req)
				if err != nil {
					errs[i] = err
					continue
				}
				res.Body.Close()
				status[i] = res.StatusCode
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return status
}

const (
	createAction = "POST /v1/subjects"
	grantAction  = "POST /v1/subjects/{id}/consents"
)

func TestEveryAPIWriteLeavesExactlyOneAuditRow(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			e.subject("warm-up", "EU-DE") // a subject made before the counts are taken
			before := e.auditCounts()

			const subjects, grants = 40, 120
			var paths []string
			var bodies [][]byte
			for i := range subjects {
				paths = append(paths, "/v1/subjects")
				bodies = append(bodies, fmt.Appendf(nil, `{"external_id":"audit-%d","jurisdiction":"EU-DE"}`, i))
			}
			var ids []string
			for i, st := range e.postAll(paths, bodies) {
				if st != http.StatusCreated {
					t.Fatalf("create %d: status %d", i, st)
				}
			}
			for i := range subjects {
				sub, err := e.d.Subjects.SubjectByExternalID(context.Background(), fmt.Sprint("audit-", i))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, sub.ID)
			}
			paths, bodies = nil, nil
			purposes := []string{"ai-training", "marketing-personalization", "voice-transcription"}
			for i := range grants {
				paths = append(paths, "/v1/subjects/"+ids[i%subjects]+"/consents")
				bodies = append(bodies, e.grantBody(purposes[i/subjects]))
			}
			for i, st := range e.postAll(paths, bodies) {
				if st != http.StatusCreated {
					t.Fatalf("grant %d: status %d", i, st)
				}
			}
			// The same person created again: answered 200, a call that
			// changed nothing, audited once as before.
			if r := e.call(likeness.RoleCollector, "POST", "/v1/subjects", map[string]string{"external_id": "warm-up", "jurisdiction": "EU-DE"}); r.status != http.StatusOK {
				t.Fatalf("create again: %d %s", r.status, r.body)
			}
			// A keyed grant and its replay: one row for the two calls.
			body := e.grantBody("ai-training")
			for range 2 {
				if r, _ := e.keyed(likeness.RoleCollector, "POST", "/v1/subjects/"+ids[0]+"/consents", "audit-key", "", body); r.status != http.StatusCreated {
					t.Fatalf("keyed grant: %d %s", r.status, r.body)
				}
			}
			// A change that no group-committed write makes.
			if r := e.call(likeness.RoleCollector, "PATCH", "/v1/subjects/"+ids[1], map[string]string{"locale": "en"}); r.status != http.StatusOK {
				t.Fatalf("rectify: %d %s", r.status, r.body)
			}

			after := e.auditCounts()
			for action, want := range map[string]int{createAction: subjects + 1, grantAction: grants + 1, "PATCH /v1/subjects/{id}": 1} {
				if got := after[action] - before[action]; got != want {
					t.Errorf("%s: %d audit rows, want %d", action, got, want)
				}
			}
		})
	}
}

func TestAFailedGrantLeavesNoAuditRow(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			sub := e.subject("leaving", "EU-DE")
			before := e.auditCounts()
			// The erasure has begun: the append is refused inside the
			// group commit and rolled back with the audit row it carried.
			if _, err := e.store.BeginErasure(context.Background(), sub, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			if r := e.grant(sub, "ai-training"); r.status != http.StatusGone {
				t.Fatalf("grant during erasure: %d %s, want 410", r.status, r.body)
			}
			other := e.subject("staying", "EU-DE")
			before[createAction]++
			n := e.notice("en")
			if r := e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+other+"/consents", map[string]any{
				"purposes": []string{"ai-training"}, "notice_version": n.Version + 1, "notice_sha256": n.SHA256,
				"method": "checkbox", "language": "en"}); r.status != http.StatusConflict {
				t.Fatalf("grant of a stale notice: %d %s, want 409", r.status, r.body)
			}
			after := e.auditCounts()
			for _, action := range []string{grantAction, createAction} {
				if after[action] != before[action] {
					t.Errorf("%s: %d audit rows after failed calls, want %d", action, after[action], before[action])
				}
			}
		})
	}
}
