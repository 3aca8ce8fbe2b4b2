package likeness

import "time"

// EventType is what a consent event does to one subject's consent to one purpose.
type EventType string

const (
	Grant    EventType = "grant"
	Withdraw EventType = "withdraw"
	Renew    EventType = "renew"
	Expire   EventType = "expire"
	Erasure  EventType = "erasure" // the subject asked to be erased; purpose is empty

	// Validated and ValidationRejected are a reviewer's verdict on a grant
	// or renewal recorded as pending validation (ValidationPending); Refers
	// names that event. Collector is the reviewer.
	Validated          EventType = "validated"
	ValidationRejected EventType = "validation_rejected"
)

// ValidationPending marks a grant or renewal that the policy says a person
// must validate before it counts (ConsentEvent.Validation).
const ValidationPending = "pending"

// Method is how consent was collected.
type Method string

const (
	Checkbox Method = "checkbox"
	Verbal   Method = "verbal"
	Written  Method = "written"
	Import   Method = "import"
	GPC      Method = "gpc" // a Global Privacy Control signal (withdrawals only)
)

// ValidMethod reports whether m may be used to give consent.
func ValidMethod(m Method) bool {
	switch m {
	case Checkbox, Verbal, Written, Import:
		return true
	}
	return false
}

// State is the current standing of a subject's consent to one purpose.
type State string

const (
	StateActive       State = "active"
	StateWithdrawn    State = "withdrawn"
	StateExpired      State = "expired"       // older than the purpose's renew_every
	StateNeedsRenewal State = "needs_renewal" // given under a notice the purpose has materially changed since
	StateNone         State = "none"
	StateErased       State = "erased"
	// StatePendingValidation: given, but the policy wants a reviewer to
	// validate it first; decisions deny until one approves.
	StatePendingValidation State = "pending_validation"
	// StateValidationRejected: a reviewer found the consent not valid; it
	// never counted.
	StateValidationRejected State = "validation_rejected"
)

// ConsentEvent is one grant, withdrawal, renewal, expiry or erasure request,
// for one subject and one purpose. Evidence is personal: it is stored sealed
// under the subject's key, and the ledger leaf commits only to its ciphertext.
type ConsentEvent struct {
	ID            string            `json:"id"`
	SubjectID     string            `json:"subject_id"`
	Purpose       string            `json:"purpose,omitempty"`
	Type          EventType         `json:"type"`
	Method        Method            `json:"method,omitempty"`
	NoticeVersion int64             `json:"notice_version,omitempty"`
	NoticeSHA256  string            `json:"notice_sha256,omitempty"`
	Language      string            `json:"language,omitempty"`
	Collector     string            `json:"collector,omitempty"`
	Evidence      map[string]string `json:"evidence,omitempty"`
	Time          time.Time         `json:"time"`
	LedgerIndex   int64             `json:"ledger_index"`
	// Imported marks an event brought in from another system by `likeness
	// import`: Time is when it happened there, not when it was recorded here.
	Imported bool `json:"imported,omitempty"`

	// Validation is ValidationPending on a grant or renewal that counts
	// only once a reviewer approves it; the ledger leaf commits to it.
	Validation string `json:"validation,omitempty"`
	// ValidationDue is when a pending validation should be decided by, as
	// the policy said when the consent was recorded. Not in the leaf.
	ValidationDue time.Time `json:"validation_due,omitzero"`
	// Refers is, on Validated and ValidationRejected, the id of the event
	// decided on; the ledger leaf commits to it.
	Refers string `json:"refers,omitempty"`

	// Sealed is the ciphertext of Evidence as stored; never serialized.
	Sealed []byte `json:"-"`
}

// PurposeState is a subject's consent to one purpose as it stands now.
type PurposeState struct {
	Purpose string        `json:"purpose"`
	State   State         `json:"state"`
	Since   time.Time     `json:"since,omitzero"`
	Expires time.Time     `json:"expires,omitzero"`
	Event   *ConsentEvent `json:"event,omitempty"`
}

// GrantRequest records consent to one or more purposes; each purpose becomes
// its own event (never bundled).
type GrantRequest struct {
	SubjectID     string            `json:"-"`
	Purposes      []string          `json:"purposes"`
	NoticeVersion int64             `json:"notice_version"`
	NoticeSHA256  string            `json:"notice_sha256"`
	Method        Method            `json:"method"`
	Language      string            `json:"language"`
	Evidence      map[string]string `json:"evidence,omitempty"`
	Renew         bool              `json:"-"` // record as renewals of existing grants
}

// WithdrawRequest withdraws consent to one purpose.
type WithdrawRequest struct {
	SubjectID string            `json:"-"`
	Purpose   string            `json:"-"`
	Method    Method            `json:"method,omitempty"`
	Evidence  map[string]string `json:"evidence,omitempty"`
}
