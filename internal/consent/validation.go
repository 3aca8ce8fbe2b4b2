package consent

import (
	"context"
	"strings"
	"unicode/utf8"

	"likeness"
	"likeness/internal/authz"
)

// MaxValidationReason bounds the reason a reviewer gives for a verdict.
const MaxValidationReason = 1000

// Verdicts a reviewer gives.
const (
	Approve = "approve"
	Reject  = "reject"
)

// ValidationItem is one item of the validation queue with what a reviewer
// looks at before deciding.
type ValidationItem struct {
	*likeness.Validation
	// Consent is the grant or renewal waiting, its evidence opened: the
	// method, the notice version and hash, the language, and evidence
	// such as the recording (an asset id), the guardian's name or a
	// signature.
	Consent *likeness.ConsentEvent `json:"consent"`
	// Guardian says the person is a minor: a guardian gave the consent.
	Guardian bool `json:"guardian"`
	// Verdict is the reviewer's event once decided, its reason opened.
	Verdict *likeness.ConsentEvent `json:"verdict,omitempty"`
}

// Validations lists the queue in state (every state when ""), earliest
// deadline first, at most limit items (≤ 0: no limit). An unknown state is
// EINVALID.
func (s *Service) Validations(ctx context.Context, state string, limit int) ([]*likeness.Validation, error) {
	if state != "" && !likeness.ValidValidationState(state) {
		return nil, likeness.Errorf(likeness.EINVALID, "state %q is not one of pending, approved, rejected, superseded", state)
	}
	return s.store.Validations(ctx, state, limit)
}

// Validation returns one item of the queue with its evidence opened;
// ENOTFOUND if the event never waited for validation, EGONE once the
// person is erased (their evidence is unreadable).
func (s *Service) Validation(ctx context.Context, eventID string) (*ValidationItem, error) {
	v, err := s.store.Validation(ctx, eventID)
	if err != nil {
		return nil, err
	}
	sub, err := s.subjects.Subject(ctx, v.SubjectID)
	if err != nil {
		return nil, err
	}
	item := &ValidationItem{Validation: v, Guardian: sub.Guardian}
	evs := []*likeness.ConsentEvent{}
	if item.Consent, err = s.store.Event(ctx, v.EventID); err != nil {
		return nil, err
	}
	evs = append(evs, item.Consent)
	if v.OutcomeID != "" {
		if item.Verdict, err = s.store.Event(ctx, v.OutcomeID); err != nil {
			return nil, err
		}
		evs = append(evs, item.Verdict)
	}
	if err := s.openEvidence(ctx, sub.ID, evs); err != nil {
		return nil, err
	}
	return item, nil
}

// Validate records a reviewer's verdict on the consent eventID: Approve
// makes it count from then on, Reject leaves it ineffective. The verdict is
// a ledger event of its own (Validated or ValidationRejected) that refers to
// the consent, with the reviewer as its collector and the reason sealed as
// its evidence; the next decision on this replica sees it, other replicas
// when they follow the ledger.
//
// The caller must hold authz.ValidateConsent and must not be whoever
// recorded the consent (four eyes): EFORBIDDEN, and nothing is written. An
// empty or overlong reason or an unknown verdict is EINVALID, an unknown
// item ENOTFOUND, one already decided or replaced by a later event
// ECONFLICT; none of them writes anything.
func (s *Service) Validate(ctx context.Context, eventID, verdict, reason string) (*likeness.ConsentEvent, error) {
	typ := likeness.Validated
	switch verdict {
	case Approve:
	case Reject:
		typ = likeness.ValidationRejected
	default:
		return nil, likeness.Errorf(likeness.EINVALID, "decision must be %q or %q", Approve, Reject)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "reason is required: say what you checked")
	}
	if utf8.RuneCountInString(reason) > MaxValidationReason {
		return nil, likeness.Errorf(likeness.EINVALID, "reason is longer than %d characters", MaxValidationReason)
	}
	v, err := s.store.Validation(ctx, eventID)
	if err != nil {
		return nil, err
	}
	if err := authz.Check(ctx, authz.ValidateConsent, v.SubjectID); err != nil {
		return nil, err
	}
	reviewer := likeness.ActorFrom(ctx).Name()
	if reviewer == v.Collector {
		return nil, likeness.Errorf(likeness.EFORBIDDEN, "four eyes: you recorded this consent, so someone else must validate it")
	}
	switch v.State {
	case likeness.ValidationStatePending:
	case likeness.ValidationStateSuperseded:
		return nil, likeness.Errorf(likeness.ECONFLICT, "this consent was replaced by a later event (a new consent, a withdrawal or an erasure); nothing is left to validate")
	default:
		return nil, likeness.Errorf(likeness.ECONFLICT, "this consent was already %s by %s", v.State, v.Reviewer)
	}
	ev := &likeness.ConsentEvent{
		ID: likeness.NewID("evt"), SubjectID: v.SubjectID, Purpose: v.Purpose, Type: typ, Refers: v.EventID,
		Collector: reviewer, Evidence: map[string]string{"reason": reason}, Time: s.now().UTC(),
	}
	// The store decides the pending item in the event's transaction: of
	// two reviewers at once, one wins and the other gets ECONFLICT.
	if err := s.append(ctx, []*likeness.ConsentEvent{ev}); err != nil {
		return nil, err
	}
	s.logger.Info("consent validation decided", "event", ev.ID, "refers", v.EventID, "type", ev.Type)
	return ev, nil
}
