package consent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/ledgerlog"
	"likeness/internal/likenesstest"
	"likeness/internal/storetest"
	"likeness/ledger"
)

// vfix is a deployment under validatingPolicy on SQLite or PostgreSQL.
type vfix struct {
	t *testing.T
	d *likenesstest.Deployment
}

func eachDB(t *testing.T, fn func(t *testing.T, f *vfix)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, &vfix{t: t, d: likenesstest.New(t, likenesstest.Options{Policy: likenesstest.ValidatingPolicy(t), Start: t0})})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.Postgres(t)
		fn(t, &vfix{t: t, d: likenesstest.New(t, likenesstest.Options{DSN: dsn, Policy: likenesstest.ValidatingPolicy(t), Start: t0})})
	})
}

var (
	collectorKey = likeness.Actor{KeyID: "key_collector", Role: likeness.RoleCollector}
	adminKey     = likeness.Actor{KeyID: "key_admin", Role: likeness.RoleAdmin}
	rita         = likeness.Actor{Operator: "rita", Role: likeness.Role(likeness.OperatorReviewer)}
	sam          = likeness.Actor{Operator: "sam", Role: likeness.Role(likeness.OperatorPrivacyOfficer)}
	audrey       = likeness.Actor{Operator: "audrey", Role: likeness.Role(likeness.OperatorAuditor)}
)

func as(a likeness.Actor) context.Context { return likeness.WithActor(context.Background(), a) }

func (f *vfix) subject(ext string, minor bool) string {
	f.t.Helper()
	create := f.d.Subjects.CreateSubject
	if minor {
		create = f.d.Subjects.CreateMinor
	}
	sub, _, err := create(context.Background(), ext, "en", "EU-DE")
	if err != nil {
		f.t.Fatal(err)
	}
	return sub.ID
}

func (f *vfix) grant(by likeness.Actor, sub string, method likeness.Method, evidence map[string]string, purposes ...string) []*likeness.ConsentEvent {
	f.t.Helper()
	n, _ := f.d.Notices.Notice("en")
	evs, err := f.d.Consent.Grant(as(by), &likeness.GrantRequest{SubjectID: sub, Purposes: purposes,
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: method, Language: "en", Evidence: evidence})
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func (f *vfix) decide(sub, purpose string) likeness.Decision {
	f.t.Helper()
	d, err := f.d.Consent.Decide(&likeness.DecisionRequest{SubjectID: sub, Purpose: purpose, Category: "voice"})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *vfix) ledgerSize() int64 {
	f.t.Helper()
	n, err := f.d.Store.LedgerSize(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// verifyReceipt checks ev's receipt against the deployment's ledger key, a
// later checkpoint and the stored history, and returns its claims.
func (f *vfix) verifyReceipt(ev *likeness.ConsentEvent) *ledger.ReceiptClaims {
	f.t.Helper()
	ctx := context.Background()
	sub, err := f.d.Subjects.Subject(ctx, ev.SubjectID)
	if err != nil {
		f.t.Fatal(err)
	}
	rs, err := f.d.Ledger.Receipts(ctx, f.d.Notices.Policy(), sub, []*likeness.ConsentEvent{ev})
	if err != nil {
		f.t.Fatal(err)
	}
	v := f.d.Ledger.Signer().Verifier()
	c, err := v.VerifyReceipt(rs[0])
	if err != nil {
		f.t.Fatalf("receipt of the %s event does not verify: %v", ev.Type, err)
	}
	if c.Type != string(ev.Type) || c.Refers != ev.Refers || c.Validation != ev.Validation || c.Collector != ev.Collector {
		f.t.Fatalf("receipt claims %+v disagree with the event %+v", c, ev)
	}
	cp, signed, err := f.d.Ledger.Checkpoint(ctx, true)
	if err != nil {
		f.t.Fatal(err)
	}
	proof, err := f.d.Ledger.ConsistencyProof(c.Ledger.Size, cp.Size)
	if err != nil && c.Ledger.Size != cp.Size {
		f.t.Fatal(err)
	}
	if _, err := v.VerifyReceiptAgainst(rs[0], signed, proof); err != nil {
		f.t.Fatalf("receipt against the latest checkpoint: %v", err)
	}
	rep, err := ledger.Verify(ctx, ledgerlog.Source(f.d.Store), v)
	if err != nil || !rep.OK() {
		f.t.Fatalf("ledger verify: %+v, %v", rep, err)
	}
	return c
}

func TestConsentRequiringValidationDeniesUntilAReviewerApproves(t *testing.T) {
	eachDB(t, func(t *testing.T, f *vfix) {
		sub := f.subject("val-1", false)
		evs := f.grant(collectorKey, sub, likeness.Checkbox, nil, "ai-training", "voice-transcription")
		g := evs[0]
		if g.Validation != likeness.ValidationPending || !g.ValidationDue.Equal(t0.Add(72*time.Hour)) || g.Collector != "key_collector" {
			t.Fatalf("the ai-training grant: %+v; want pending, due in 72h, collected by key_collector", g)
		}
		if evs[1].Validation != "" {
			t.Fatalf("voice-transcription (checkbox, no validation) is pending: %+v", evs[1])
		}
		wantDeny(t, "before approval", f.decide(sub, "ai-training"), "pending_validation")
		wantAllow(t, "a purpose needing no validation", f.decide(sub, "voice-transcription"))
		if c := f.verifyReceipt(g); c.Validation != likeness.ValidationPending {
			t.Fatalf("the pending grant's receipt says validation %q", c.Validation)
		}

		q, err := f.d.Consent.Validations(context.Background(), likeness.ValidationStatePending, 0)
		if err != nil || len(q) != 1 || q[0].EventID != g.ID || !q[0].Due.Equal(g.ValidationDue) {
			t.Fatalf("queue = %+v, %v", q, err)
		}
		f.d.Clock.Add(time.Hour)
		ok, err := f.d.Consent.Validate(as(rita), g.ID, consent.Approve, "heard the recording; the person agrees")
		if err != nil {
			t.Fatal(err)
		}
		wantAllow(t, "after approval", f.decide(sub, "ai-training"))
		states, _, _ := f.d.Consent.Consents(context.Background(), sub)
		if states[0].Purpose != "ai-training" || states[0].State != likeness.StateActive {
			t.Fatalf("state after approval: %+v", states[0])
		}
		item, err := f.d.Consent.Validation(context.Background(), g.ID)
		if err != nil || item.State != likeness.ValidationStateApproved || item.Reviewer != "operator:rita" || item.OutcomeID != ok.ID ||
			item.Verdict == nil || item.Verdict.Evidence["reason"] != "heard the recording; the person agrees" {
			t.Fatalf("item after approval: %+v, %v", item, err)
		}
		c := f.verifyReceipt(ok)
		if c.Type != "validated" || c.Refers != g.ID || c.Collector != "operator:rita" || len(c.Purposes) != 1 || c.Purposes[0].ID != "ai-training" {
			t.Fatalf("approval receipt: %+v", c)
		}
		// Downstream hears of the consent once it counts, not before.
		if got := f.outboxTypes(sub); strings.Join(got, ",") != "consent.granted,consent.granted" {
			t.Fatalf("outbox: %v; want the plain grant and the approval", got)
		}
	})
}

func TestCollectorCannotValidateTheirOwnConsent(t *testing.T) {
	eachDB(t, func(t *testing.T, f *vfix) {
		sub := f.subject("val-2", false)
		byAdmin := f.grant(adminKey, sub, likeness.Checkbox, nil, "ai-training")[0]
		byRita := f.grant(rita, f.subject("val-3", false), likeness.Checkbox, nil, "ai-training")[0]
		if byRita.Collector != "operator:rita" {
			t.Fatalf("an operator's grant records collector %q", byRita.Collector)
		}
		size := f.ledgerSize()
		tries := []struct {
			who  likeness.Actor
			item *likeness.ConsentEvent
			what string
		}{
			{adminKey, byAdmin, "four eyes"},        // the admin key that recorded it
			{rita, byRita, "four eyes"},             // the operator who recorded it
			{audrey, byAdmin, "validate"},           // an auditor
			{collectorKey, byAdmin, "validate"},     // a collector key
			{likeness.Actor{}, byAdmin, "validate"}, // nobody
		}
		for _, try := range tries {
			for _, verdict := range []string{consent.Approve, consent.Reject} {
				_, err := f.d.Consent.Validate(as(try.who), try.item.ID, verdict, "looks fine")
				if likeness.ErrorCode(err) != likeness.EFORBIDDEN || !strings.Contains(likeness.ErrorMessage(err), try.what) {
					t.Errorf("%s by %q: %v; want forbidden (%s)", verdict, try.who.Name(), err, try.what)
				}
			}
		}
		if n := f.ledgerSize(); n != size {
			t.Fatalf("refused verdicts wrote %d events", n-size)
		}
		wantDeny(t, "after refused verdicts", f.decide(sub, "ai-training"), "pending_validation")
		// Someone else may.
		if _, err := f.d.Consent.Validate(as(rita), byAdmin.ID, consent.Approve, "checked"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.d.Consent.Validate(as(adminKey), byRita.ID, consent.Approve, "checked"); err != nil {
			t.Fatal(err)
		}
		wantAllow(t, "approved by another", f.decide(sub, "ai-training"))
	})
}

func TestRejectedConsentDeniesAndCannotBeDecidedAgain(t *testing.T) {
	eachDB(t, func(t *testing.T, f *vfix) {
		sub := f.subject("val-4", false)
		g := f.grant(collectorKey, sub, likeness.Verbal, map[string]string{"recording": "ast_x"}, "marketing-personalization")[0]
		if g.Validation != likeness.ValidationPending {
			t.Fatalf("a verbal consent is not pending under methods [voice]: %+v", g)
		}
		no, err := f.d.Consent.Validate(as(sam), g.ID, consent.Reject, "the recording is of someone else")
		if err != nil {
			t.Fatal(err)
		}
		wantDeny(t, "after rejection", f.decide(sub, "marketing-personalization"), "validation_rejected")
		states, hist, _ := f.d.Consent.Consents(context.Background(), sub)
		for _, st := range states {
			if st.Purpose == "marketing-personalization" && st.State != likeness.StateValidationRejected {
				t.Fatalf("state after rejection: %s", st.State)
			}
		}
		if last := hist[len(hist)-1]; last.Type != likeness.ValidationRejected || last.Evidence["reason"] != "the recording is of someone else" {
			t.Fatalf("history ends with %+v", last)
		}
		if c := f.verifyReceipt(no); c.Type != "validation_rejected" || c.Refers != g.ID {
			t.Fatalf("rejection receipt: %+v", c)
		}
		if got := f.outboxTypes(sub); strings.Join(got, ",") != "consent.rejected" {
			t.Fatalf("outbox: %v", got)
		}

		size := f.ledgerSize()
		if _, err := f.d.Consent.Validate(as(rita), g.ID, consent.Approve, "changed my mind"); likeness.ErrorCode(err) != likeness.ECONFLICT {
			t.Fatalf("approving a rejected consent: %v, want conflict", err)
		}
		for name, try := range map[string]struct {
			id, verdict, reason, code string
		}{
			"empty reason":   {g.ID, consent.Approve, "  ", likeness.EINVALID},
			"long reason":    {g.ID, consent.Approve, strings.Repeat("x", consent.MaxValidationReason+1), likeness.EINVALID},
			"bad verdict":    {g.ID, "maybe", "hm", likeness.EINVALID},
			"unknown item":   {"evt_unknown", consent.Approve, "ok", likeness.ENOTFOUND},
			"not validating": {f.grant(collectorKey, sub, likeness.Checkbox, nil, "voice-transcription")[0].ID, consent.Approve, "ok", likeness.ENOTFOUND},
		} {
			size = f.ledgerSize()
			if _, err := f.d.Consent.Validate(as(rita), try.id, try.verdict, try.reason); likeness.ErrorCode(err) != try.code {
				t.Errorf("%s: %v, want %s", name, err, try.code)
			}
			if n := f.ledgerSize(); n != size {
				t.Errorf("%s wrote %d events", name, n-size)
			}
		}
		if _, err := f.d.Consent.Validations(context.Background(), "lost", 0); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("unknown state filter: %v", err)
		}

		// Consenting again opens a new item; the old one stays rejected.
		again := f.grant(collectorKey, sub, likeness.Checkbox, nil, "marketing-personalization")[0]
		if again.Validation != "" || again.Type != likeness.Grant {
			t.Fatalf("a checkbox consent after a rejection: %+v", again)
		}
		wantAllow(t, "a new consent needing no validation", f.decide(sub, "marketing-personalization"))
	})
}

func TestGuardianConsentWaitsForValidation(t *testing.T) {
	eachDB(t, func(t *testing.T, f *vfix) {
		sub := f.subject("val-minor", true)
		g := f.grant(collectorKey, sub, likeness.Checkbox, map[string]string{"guardian": "Pat Parent"}, "voice-transcription")[0]
		if g.Validation != likeness.ValidationPending {
			t.Fatalf("a guardian's consent is not pending under methods [guardian]: %+v", g)
		}
		item, err := f.d.Consent.Validation(context.Background(), g.ID)
		if err != nil || !item.Guardian || item.Consent.Evidence["guardian"] != "Pat Parent" || item.Consent.NoticeVersion == 0 {
			t.Fatalf("what a reviewer sees: %+v, %v", item, err)
		}
		// A withdrawal makes the question moot: nothing is left to approve.
		if _, err := f.d.Consent.Withdraw(as(collectorKey), &likeness.WithdrawRequest{SubjectID: sub, Purpose: "voice-transcription"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.d.Consent.Validate(as(rita), g.ID, consent.Approve, "ok"); likeness.ErrorCode(err) != likeness.ECONFLICT {
			t.Fatalf("approving a withdrawn consent: %v, want conflict", err)
		}
		wantDeny(t, "withdrawn", f.decide(sub, "voice-transcription"), "withdrawn")
	})
}

func (f *vfix) outboxTypes(sub string) []string {
	f.t.Helper()
	rows, err := f.d.Store.SQL().Query(f.d.Store.Rebind(`SELECT type FROM outbox_messages WHERE subject_id = ? ORDER BY seq`), sub)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}
