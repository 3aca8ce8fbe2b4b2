package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/storetest"
)

// validationBackends runs fn on a console under likenesstest's
// ValidatingPolicy, on SQLite and PostgreSQL.
func validationBackends(t *testing.T, fn func(t *testing.T, f *opFixture)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, newOperatorFixtureWith(t, likenesstest.Options{Policy: likenesstest.ValidatingPolicy(t)}))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, newOperatorFixtureWith(t, likenesstest.Options{DSN: storetest.Postgres(t), Policy: likenesstest.ValidatingPolicy(t)}))
	})
}

var collectorActor = likeness.Actor{KeyID: "key_collector", Role: likeness.RoleCollector}

// pending records a consent to ai-training by who, waiting for validation.
func (f *opFixture) pending(who likeness.Actor, ext string, method likeness.Method, evidence map[string]string) (sub string, ev *likeness.ConsentEvent) {
	f.t.Helper()
	ctx := context.Background()
	s, _, err := f.d.Subjects.CreateSubject(ctx, ext, "en", "EU-DE")
	if err != nil {
		f.t.Fatal(err)
	}
	n, _ := f.d.Notices.Notice("en")
	evs, err := f.d.Consent.Grant(likeness.WithActor(ctx, who), &likeness.GrantRequest{SubjectID: s.ID, Purposes: []string{"ai-training"},
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: method, Language: "en", Evidence: evidence})
	if err != nil {
		f.t.Fatal(err)
	}
	if evs[0].Validation != likeness.ValidationPending {
		f.t.Fatalf("the grant does not wait for validation: %+v", evs[0])
	}
	return s.ID, evs[0]
}

func (f *opFixture) allows(sub string) bool {
	f.t.Helper()
	d, err := f.d.Consent.Decide(&likeness.DecisionRequest{SubjectID: sub, Purpose: "ai-training", Category: "image"})
	if err != nil {
		f.t.Fatal(err)
	}
	return d.Allow
}

func (f *opFixture) ledgerSize() int64 {
	f.t.Helper()
	n, err := f.d.Store.LedgerSize(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// signedIn is a client of the named operator, signed in.
func (f *opFixture) signedIn(name string) *client {
	f.t.Helper()
	c := f.fixture.client()
	if p := c.operatorLogin(name, operatorPassword, f.code(name)); p.Status != 200 || p.URL.Path != "/console" {
		f.t.Fatalf("%s signs in: %d at %s", name, p.Status, p.URL)
	}
	f.d.Clock.Add(30 * time.Second) // the next sign-in needs a later code
	return c
}

func TestReviewerApprovesInTheConsoleAndTheDecisionAllows(t *testing.T) {
	validationBackends(t, func(t *testing.T, f *opFixture) {
		f.create("rita", likeness.OperatorReviewer, true)
		sub, g := f.pending(collectorActor, "console-val-1", likeness.Checkbox, nil)
		f.d.Clock.Add(73 * time.Hour) // past the 72-hour deadline
		c := f.signedIn("rita")
		list := c.Get("/console/validations")
		if list.Status != 200 || !strings.Contains(list.Body, g.ID) || !strings.Contains(list.Body, "overdue") || !strings.Contains(list.Body, "Waiting (1)") {
			t.Fatalf("queue page: %d\n%s", list.Status, list.Body)
		}
		item := c.Get("/console/validations/" + g.ID)
		for _, want := range []string{"Train our portrait and voice AI models", "checkbox", "v1 (en)", g.NoticeSHA256, "key_collector", `id="approve"`, `id="reject"`} {
			if !strings.Contains(item.Body, want) {
				t.Fatalf("item page lacks %q:\n%s", want, item.Body)
			}
		}

		size := f.ledgerSize()
		if p := c.Post("/console/validations/"+g.ID, url.Values{"csrf": {csrfOf(t, item)}, "decision": {"approve"}, "reason": {"  "}}); p.Status != http.StatusBadRequest {
			t.Fatalf("approve without a reason: %d\n%s", p.Status, p.Body)
		}
		if p := c.Post("/console/validations/"+g.ID, url.Values{"decision": {"approve"}, "reason": {"ok"}}); p.Status != http.StatusForbidden {
			t.Fatalf("approve without a CSRF token: %d", p.Status)
		}
		if n := f.ledgerSize(); n != size || f.allows(sub) {
			t.Fatalf("refused forms wrote %d events (allows: %v)", n-size, f.allows(sub))
		}

		done := c.Post("/console/validations/"+g.ID, url.Values{"csrf": {csrfOf(t, item)}, "decision": {"approve"}, "reason": {"the person confirmed by phone"}})
		if done.Status != 200 || done.URL.Path != "/console/validations" || !strings.Contains(done.Body, "Approved: the consent counts") {
			t.Fatalf("approve: %d at %s\n%s", done.Status, done.URL, done.Body)
		}
		if !f.allows(sub) {
			t.Fatal("the decision still denies after approval in the console")
		}
		v, err := f.d.Store.Validation(context.Background(), g.ID)
		if err != nil || v.State != likeness.ValidationStateApproved || v.Reviewer != "operator:rita" {
			t.Fatalf("item after approval: %+v, %v", v, err)
		}
		if p := c.Get("/console/validations/" + g.ID); !strings.Contains(p.Body, "the person confirmed by phone") || strings.Contains(p.Body, `id="approve"`) {
			t.Fatalf("decided item page:\n%s", p.Body)
		}
		// A second verdict is refused with a clear page, and writes nothing.
		size = f.ledgerSize()
		if p := c.Post("/console/validations/"+g.ID, url.Values{"csrf": {csrfOf(t, item)}, "decision": {"reject"}, "reason": {"no"}}); p.Status != http.StatusConflict || !strings.Contains(p.Body, "already approved") {
			t.Fatalf("second verdict: %d\n%s", p.Status, p.Body)
		}
		if n := f.ledgerSize(); n != size {
			t.Fatalf("a refused verdict wrote %d events", n-size)
		}
		entries, _ := f.d.Store.RecentAccess(context.Background(), 20)
		found := false
		for _, e := range entries {
			found = found || e.Operator == "rita" && e.SubjectID == sub && strings.Contains(e.Action, "validation "+g.ID+" approved")
		}
		if !found {
			t.Fatalf("the approval is not in the audit log with the operator's name: %+v", entries)
		}
	})
}

func TestConsoleKeepsFourEyesAndAuditorsOut(t *testing.T) {
	validationBackends(t, func(t *testing.T, f *opFixture) {
		f.create("rita", likeness.OperatorReviewer, true)
		f.create("audrey", likeness.OperatorAuditor, true)
		rec, err := f.d.Vault.StoreRecording(context.Background(), mustSubject(t, f, "console-val-voice"), "audio/wav", strings.NewReader(string(likenesstest.WAV("yes", 50))))
		if err != nil {
			t.Fatal(err)
		}
		// rita records a spoken consent herself (say, at a kiosk).
		sub, g := f.pendingFor(likeness.Actor{Operator: "rita", Role: likeness.Role(likeness.OperatorReviewer)}, "console-val-voice", map[string]string{"recording": rec})
		rita := f.signedIn("rita")
		item := rita.Get("/console/validations/" + g.ID)
		if !strings.Contains(item.Body, "You recorded this consent") || strings.Contains(item.Body, `id="approve"`) {
			t.Fatalf("the collector's own item page:\n%s", item.Body)
		}
		size := f.ledgerSize()
		if p := rita.Post("/console/validations/"+g.ID, url.Values{"csrf": {csrfOf(t, item)}, "decision": {"approve"}, "reason": {"fine"}}); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "four eyes") {
			t.Fatalf("the collector approves: %d\n%s", p.Status, p.Body)
		}
		// She may still hear the recording, stating why.
		if p := rita.Post("/console/assets/"+rec+"/content", url.Values{"csrf": {csrfOf(t, item)}, "reason": {"checking the recording"}}); p.Status != 200 || p.Header.Get("Content-Type") != "audio/wav" {
			t.Fatalf("reviewer hears the recording: %d %s", p.Status, p.Header.Get("Content-Type"))
		}

		audrey := f.signedIn("audrey")
		ai := audrey.Get("/console/validations/" + g.ID)
		if ai.Status != 200 || strings.Contains(ai.Body, `id="approve"`) || strings.Contains(ai.Body, "Play the recording") {
			t.Fatalf("auditor's item page: %d\n%s", ai.Status, ai.Body)
		}
		if p := audrey.Post("/console/validations/"+g.ID, url.Values{"csrf": {csrfOf(t, ai)}, "decision": {"approve"}, "reason": {"fine"}}); p.Status != http.StatusForbidden {
			t.Fatalf("auditor approves: %d\n%s", p.Status, p.Body)
		}
		if p := audrey.Post("/console/assets/"+rec+"/content", url.Values{"csrf": {csrfOf(t, ai)}, "reason": {"curious"}}); p.Status != http.StatusForbidden {
			t.Fatalf("auditor hears the recording: %d", p.Status)
		}
		if n := f.ledgerSize(); n != size || f.allows(sub) {
			t.Fatalf("refused verdicts wrote %d events (allows: %v)", n-size, f.allows(sub))
		}
		log, err := f.d.Vault.AccessLog(context.Background(), sub, 10)
		if err != nil {
			t.Fatal(err)
		}
		heard := false
		for _, e := range log {
			heard = heard || e.Action == "evidence" && e.Allow && e.Operator == "rita" && e.Reason == "checking the recording"
		}
		if !heard {
			t.Fatalf("the person's access log does not say who heard their recording and why: %+v", log)
		}
	})
}

func mustSubject(t *testing.T, f *opFixture, ext string) string {
	t.Helper()
	s, _, err := f.d.Subjects.CreateSubject(context.Background(), ext, "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// pendingFor is pending for a subject already created, by verbal consent.
func (f *opFixture) pendingFor(who likeness.Actor, ext string, evidence map[string]string) (string, *likeness.ConsentEvent) {
	f.t.Helper()
	ctx := context.Background()
	s, err := f.d.Subjects.SubjectByExternalID(ctx, ext)
	if err != nil {
		f.t.Fatal(err)
	}
	n, _ := f.d.Notices.Notice("en")
	evs, err := f.d.Consent.Grant(likeness.WithActor(ctx, who), &likeness.GrantRequest{SubjectID: s.ID, Purposes: []string{"ai-training"},
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Verbal, Language: "en", Evidence: evidence})
	if err != nil {
		f.t.Fatal(err)
	}
	return s.ID, evs[0]
}
