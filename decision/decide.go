package decision

import (
	"time"

	"likeness"
	law "likeness/internal/jurisdiction"
)

// Decide answers one request. It denies unless the subject holds an active
// consent to the purpose at r.At (zero means e.Now()) that covers the
// category, the recipient and the transfer; every reason that applies is
// reported. Decision.EventID and EventTime name the consent event the answer
// rests on, on deny too when there is one (such as the withdrawal).
//
// A request naming an asset (and no subject) is decided for the asset's
// subject and category, and also denies when the asset is erased, past its
// retention deadline or unknown.
//
// Decide does not allocate.
func (e *Engine) Decide(r *likeness.DecisionRequest) likeness.Decision {
	var now time.Time
	if r.At.IsZero() {
		now = e.Now()
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.decide(r, now)
}

// DecideBatch decides rs[i] into out[i] under one read lock; requests
// without At are decided at one shared "now". out must be at least as long
// as rs.
func (e *Engine) DecideBatch(rs []likeness.DecisionRequest, out []likeness.Decision) {
	out = out[:len(rs)]
	var now time.Time
	for i := range rs {
		if rs[i].At.IsZero() {
			now = e.Now()
			break
		}
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	for i := range rs {
		out[i] = e.decide(&rs[i], now)
	}
}

// decide is Decide under the read lock; now is used when r.At is zero.
// It is kept as one function because it is the hot path (it must not
// allocate) and its checks read best in the order they are made.
func (e *Engine) decide(r *likeness.DecisionRequest, now time.Time) likeness.Decision {
	var d likeness.Decision
	if r.SubjectID == "" && r.AssetID != "" {
		return e.decideAsset(r, now)
	}
	if r.SubjectID == "" {
		d.Reasons = reasons(likeness.ReasonSubjectNotFound)
		return d
	}
	s, ok := e.subjects.get(r.SubjectID)
	if !ok {
		d.Reasons = reasons(likeness.ReasonSubjectNotFound)
		return d
	}
	if s.erased {
		d.Reasons = reasons(likeness.ReasonSubjectErased)
		return d
	}
	pid, ok := e.purposes.id(r.Purpose)
	if !ok || int(pid) >= len(e.rules) || !e.rules[pid].declared {
		d.Reasons = reasons(likeness.ReasonNoConsent)
		return d
	}
	rule := &e.rules[pid]
	at := r.At
	if at.IsZero() {
		at = now
	}

	var why likeness.Reasons
	var g *grant
	gs := e.slab.block(s.first, s.n)
	if i := findGrant(gs, pid); i >= 0 {
		g = &gs[i]
		d.EventID = e.ids.get(g.idOff, g.idLen)
		d.EventTime = g.micros
	}
	switch {
	case g == nil:
		why |= reasons(likeness.ReasonNoConsent)
	case g.state == stateWithdrawn:
		why |= reasons(likeness.ReasonWithdrawn)
	case g.state == stateExpired:
		why |= reasons(likeness.ReasonExpired)
	case g.state == statePending:
		why |= reasons(likeness.ReasonPendingValidation)
	case g.state == stateRejected:
		why |= reasons(likeness.ReasonValidationRejected)
	case g.micros > likeness.Micros(at):
		// Asked about a time before the consent was given.
		why |= reasons(likeness.ReasonNoConsent)
	default:
		if !rule.renew.IsZero() && !at.Before(rule.renew.AddTo(likeness.FromMicros(g.micros))) {
			why |= reasons(likeness.ReasonExpired)
		}
		if int64(g.notice) < rule.materialSince {
			why |= reasons(likeness.ReasonNeedsRenewal)
		}
		// BIPA: a written release before biometric data is collected or used.
		// Judged on the consent actually held; with none, no_consent says it.
		if g.method != methodWritten && s.juris.bipa && law.Biometric(r.Category) {
			why |= reasons(likeness.ReasonWrittenReleaseRequired)
		}
	}

	if !contains(rule.data, r.Category) {
		why |= reasons(likeness.ReasonCategoryNotCovered)
	}

	var rec recipientRule
	declared := false
	if r.Recipient != "" {
		rec, declared = e.recipients[r.Recipient]
		if !declared || !contains(rule.recipients, r.Recipient) {
			why |= reasons(likeness.ReasonRecipientNotDeclared)
		}
	}
	dest := r.Country
	if dest == "" {
		dest = rec.country
	}
	if !s.juris.transferAllowed(dest, rec.transfer, declared) {
		why |= reasons(likeness.ReasonTransferNotPermitted)
	}

	d.Reasons = why
	d.Allow = why == 0 && g != nil
	return d
}

func reasons(r likeness.Reason) likeness.Reasons { return likeness.Reasons(r) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
