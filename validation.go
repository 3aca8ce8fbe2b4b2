package likeness

import "time"

// Validation states. An item starts pending and leaves that state once:
// approved or rejected by a reviewer, or superseded when a later event for
// the same subject and purpose (a new grant, a withdrawal, an erasure)
// makes the question moot.
const (
	ValidationStatePending    = "pending"
	ValidationStateApproved   = "approved"
	ValidationStateRejected   = "rejected"
	ValidationStateSuperseded = "superseded"
)

// ValidValidationState reports whether s is one of the ValidationState*
// values.
func ValidValidationState(s string) bool {
	switch s {
	case ValidationStatePending, ValidationStateApproved, ValidationStateRejected, ValidationStateSuperseded:
		return true
	}
	return false
}

// Validation is one item of the validation queue: a grant or renewal the
// policy wants a person to check before it counts. It holds no evidence;
// the evidence stays sealed in the event (EventID) under the subject's key.
type Validation struct {
	EventID   string    `json:"event_id"` // the grant or renewal waiting
	SubjectID string    `json:"subject_id"`
	Purpose   string    `json:"purpose"`
	Method    Method    `json:"method"`
	Collector string    `json:"collector"` // who recorded the consent: never its reviewer
	CreatedAt time.Time `json:"created_at"`
	Due       time.Time `json:"due"`
	State     string    `json:"state"`

	Reviewer  string    `json:"reviewer,omitempty"` // who approved or rejected it
	DecidedAt time.Time `json:"decided_at,omitzero"`
	OutcomeID string    `json:"outcome_event_id,omitempty"` // the validated or validation_rejected event
}

// Overdue reports whether a pending item is past its deadline at now.
func (v *Validation) Overdue(now time.Time) bool {
	return v.State == ValidationStatePending && !now.Before(v.Due)
}

// ValidationStore reads the validation queue. The queue is written by
// EventStore.AppendEvents, in the transaction of the events that change
// it, so it never disagrees with the ledger:
//
//   - a grant or renewal with Validation = ValidationPending adds a pending
//     item (Due from ValidationDue);
//   - a Validated or ValidationRejected event decides the pending item of
//     the event it Refers to, recording its Collector as reviewer; if that
//     item is absent the append fails with ENOTFOUND, if it is no longer
//     pending with ECONFLICT (of two reviewers deciding at once, one wins),
//     and nothing of the append is stored;
//   - any other grant, renewal, withdrawal or expiry of the same subject and
//     purpose supersedes its pending items, and an erasure all of the
//     subject's.
//
// Implementations must be safe for concurrent use.
type ValidationStore interface {
	// Validations lists items in state (every state when ""), earliest
	// deadline first, at most limit (limit ≤ 0: no limit).
	Validations(ctx Context, state string, limit int) ([]*Validation, error)
	// Validation returns the item of the event eventID; ENOTFOUND if that
	// event never waited for validation.
	Validation(ctx Context, eventID string) (*Validation, error)
}
