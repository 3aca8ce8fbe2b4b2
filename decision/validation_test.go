package decision

import (
	"testing"
	"time"

	"likeness"
)

func pendingAt(e *Engine, subject, purpose string, at time.Time) *likeness.ConsentEvent {
	ev := event(likeness.Grant, subject, purpose, likeness.Verbal, at)
	ev.Validation = likeness.ValidationPending
	e.Apply(ev)
	return ev
}

func verdict(typ likeness.EventType, g *likeness.ConsentEvent, at time.Time) *likeness.ConsentEvent {
	ev := event(typ, g.SubjectID, g.Purpose, "", at)
	ev.Refers = g.ID
	return ev
}

func checkState(t *testing.T, e *Engine, subject, purpose string, want likeness.State) {
	t.Helper()
	if st, _ := e.State(subject, purpose, time.Time{}); st != want {
		t.Errorf("State = %s, want %s", st, want)
	}
}

func TestPendingGrantDeniesUntilValidated(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	g := pendingAt(e, "s1", "ai-training", t0)
	d := e.Decide(req("s1", "ai-training", "voice"))
	checkDecision(t, d, false, reasonSet(likeness.ReasonPendingValidation))
	if d.EventID != g.ID {
		t.Errorf("a pending decision rests on %q, want the grant %q", d.EventID, g.ID)
	}
	checkState(t, e, "s1", "ai-training", likeness.StatePendingValidation)
	if due := e.DueForRenewal(t0, 400*24*time.Hour, 0); len(due) != 0 {
		t.Errorf("a pending consent is listed for renewal: %v", due)
	}

	e.Apply(verdict(likeness.Validated, g, t0.Add(time.Hour)))
	d = e.Decide(req("s1", "ai-training", "voice"))
	checkDecision(t, d, true, 0)
	if d.EventID != g.ID || d.EventTime != likeness.Micros(t0) {
		t.Errorf("a validated decision rests on %q@%d, want the grant %q@%d", d.EventID, d.EventTime, g.ID, likeness.Micros(t0))
	}
	checkState(t, e, "s1", "ai-training", likeness.StateActive)

	// Replayed, the grant keeps its verdict; a later withdrawal still ends it.
	e.Apply(g)
	checkDecision(t, e.Decide(req("s1", "ai-training", "voice")), true, 0)
	e.Apply(event(likeness.Withdraw, "s1", "ai-training", "", t0.Add(2*time.Hour)))
	checkDecision(t, e.Decide(req("s1", "ai-training", "voice")), false, reasonSet(likeness.ReasonWithdrawn))
}

func TestRejectedGrantDeniesAndANewGrantCounts(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	g := pendingAt(e, "s1", "marketing", t0)
	e.Apply(verdict(likeness.ValidationRejected, g, t0.Add(time.Hour)))
	checkDecision(t, e.Decide(req("s1", "marketing", "image")), false, reasonSet(likeness.ReasonValidationRejected))
	checkState(t, e, "s1", "marketing", likeness.StateValidationRejected)
	e.Apply(g) // replayed
	checkState(t, e, "s1", "marketing", likeness.StateValidationRejected)
	// A later approval of the same grant cannot overturn the rejection.
	e.Apply(verdict(likeness.Validated, g, t0.Add(2*time.Hour)))
	checkState(t, e, "s1", "marketing", likeness.StateValidationRejected)

	grantAt(e, "s1", "marketing", likeness.Written, t0.Add(3*time.Hour))
	checkDecision(t, e.Decide(req("s1", "marketing", "image")), true, 0)
}

// A verdict counts only for the grant it names while that grant is the
// one standing: not for a later grant, nor before its grant is known.
func TestVerdictOnAnotherGrantChangesNothing(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	old := pendingAt(e, "s1", "ai-training", t0)
	newer := pendingAt(e, "s1", "ai-training", t0.Add(time.Hour))
	e.Apply(verdict(likeness.Validated, old, t0.Add(2*time.Hour)))
	checkDecision(t, e.Decide(req("s1", "ai-training", "voice")), false, reasonSet(likeness.ReasonPendingValidation))

	e.PutSubject("s2", "EU-DE")
	g := event(likeness.Grant, "s2", "ai-training", likeness.Verbal, t0)
	g.Validation = likeness.ValidationPending
	v := verdict(likeness.Validated, g, t0.Add(time.Hour))
	e.Apply(v) // before its grant: nothing to settle
	checkState(t, e, "s2", "ai-training", likeness.StateNone)
	e.Apply(g)
	e.Apply(v) // as the ledger replays them, in order
	checkState(t, e, "s2", "ai-training", likeness.StateActive)

	e.Apply(verdict(likeness.Validated, newer, t0.Add(3*time.Hour)))
	checkState(t, e, "s1", "ai-training", likeness.StateActive)
}
