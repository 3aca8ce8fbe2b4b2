package follow_test

import (
	"context"
	"testing"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/likenesstest"
	"likeness/internal/storetest"
)

// TestVerdictOnOneReplicaFlipsTheOthersDecisions: a consent held for a
// reviewer denies on both replicas; the approval recorded on A reaches B
// through the ledger it follows, and so does a later rejection of another
// consent.
func TestVerdictOnOneReplicaFlipsTheOthersDecisions(t *testing.T) {
	dsn, dir := storetest.Postgres(t), t.TempDir()
	p := likenesstest.ValidatingPolicy(t)
	a := likenesstest.New(t, likenesstest.Options{DSN: dsn, Dir: dir, Policy: p})
	b := likenesstest.New(t, likenesstest.Options{DSN: dsn, Dir: dir, Clock: a.Clock, Policy: p})
	fb := follower(b)
	ctx := context.Background()
	collector := likeness.WithActor(ctx, likeness.Actor{KeyID: "key_collector", Role: likeness.RoleCollector})
	reviewer := likeness.WithActor(ctx, likeness.Actor{Operator: "rita", Role: likeness.Role(likeness.OperatorReviewer)})

	grant := func(ext string) (string, *likeness.ConsentEvent) {
		t.Helper()
		sub, _, err := a.Subjects.CreateSubject(ctx, ext, "en", "EU-DE")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := a.Notices.Notice("en")
		evs, err := a.Consent.Grant(collector, &likeness.GrantRequest{SubjectID: sub.ID, Purposes: []string{"ai-training"},
			NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		return sub.ID, evs[0]
	}
	decideOnB := func(sub string) likeness.Decision {
		t.Helper()
		if err := fb.CatchUp(ctx, a.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		d, err := b.Consent.Decide(&likeness.DecisionRequest{SubjectID: sub, Purpose: "ai-training", Category: "image"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	yes, g1 := grant("replica-val-yes")
	no, g2 := grant("replica-val-no")
	for _, sub := range []string{yes, no} {
		if d := decideOnB(sub); d.Allow || !d.Reasons.Has(likeness.ReasonPendingValidation) {
			t.Fatalf("replica B before any verdict: %+v", d)
		}
	}
	if _, err := a.Consent.Validate(reviewer, g1.ID, consent.Approve, "checked"); err != nil {
		t.Fatal(err)
	}
	if d := decideOnB(yes); !d.Allow {
		t.Fatalf("replica B after A's approval: %+v", d)
	}
	if _, err := a.Consent.Validate(reviewer, g2.ID, consent.Reject, "not the person"); err != nil {
		t.Fatal(err)
	}
	if d := decideOnB(no); d.Allow || !d.Reasons.Has(likeness.ReasonValidationRejected) {
		t.Fatalf("replica B after A's rejection: %+v", d)
	}
	// B, restarted from the database alone, agrees.
	c := likenesstest.New(t, likenesstest.Options{DSN: dsn, Dir: dir, Clock: a.Clock, Policy: p})
	for sub, want := range map[string]bool{yes: true, no: false} {
		if d, _ := c.Consent.Decide(&likeness.DecisionRequest{SubjectID: sub, Purpose: "ai-training", Category: "image"}); d.Allow != want {
			t.Fatalf("a replica started after the verdicts decides %+v for %s", d, sub)
		}
	}
}
