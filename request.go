package likeness

import "time"

// RequestType is the right a data-subject request exercises.
type RequestType string

const (
	RequestAccess        RequestType = "access"        // GDPR Art. 15, CCPA right to know
	RequestExport        RequestType = "export"        // GDPR Art. 20 portability
	RequestErasure       RequestType = "erasure"       // GDPR Art. 17, CCPA right to delete
	RequestWithdrawal    RequestType = "withdrawal"    // GDPR Art. 7(3), one purpose
	RequestRectification RequestType = "rectification" // GDPR Art. 16, CPRA right to correct
	RequestOptOut        RequestType = "opt_out"       // CCPA opt-out of sale or sharing
)

// ValidRequestType reports whether t is one of the Request* types.
func ValidRequestType(t RequestType) bool {
	switch t {
	case RequestAccess, RequestExport, RequestErasure, RequestWithdrawal, RequestRectification, RequestOptOut:
		return true
	}
	return false
}

// Request channels: how the request reached the organization.
const (
	ChannelPortal = "portal"
	ChannelEmail  = "email"
	ChannelPhone  = "phone"
	ChannelLetter = "letter"
	ChannelAPI    = "api"
)

// ValidChannel reports whether c is one of the Channel* values.
func ValidChannel(c string) bool {
	switch c {
	case ChannelPortal, ChannelEmail, ChannelPhone, ChannelLetter, ChannelAPI:
		return true
	}
	return false
}

// Request states. An open request is completed or rejected once; neither
// can be undone.
const (
	RequestOpen      = "open"
	RequestCompleted = "completed"
	RequestRejected  = "rejected"
)

// DSRequest is one data-subject request in the organization's register:
// who asked for what, when, the legal deadline, and how it ended. Outcome,
// ExtensionReason and RejectReason are operators' short texts and must never
// hold personal data: they outlive an erasure of the subject.
type DSRequest struct {
	ID              string      `json:"id"` // "req_…"
	SubjectID       string      `json:"subject_id"`
	Type            RequestType `json:"type"`
	Purpose         string      `json:"purpose,omitempty"` // withdrawal, opt_out
	Channel         string      `json:"channel"`
	ReceivedAt      time.Time   `json:"received_at"`
	DueAt           time.Time   `json:"due_at"`
	ExtendedTo      time.Time   `json:"extended_to,omitzero"`
	ExtensionReason string      `json:"extension_reason,omitempty"`
	State           string      `json:"state"`
	CompletedAt     time.Time   `json:"completed_at,omitzero"` // completed or rejected
	Outcome         string      `json:"outcome,omitempty"`
	Certificate     []byte      `json:"-"` // the signed erasure certificate (compact JWS)
	RejectReason    string      `json:"reject_reason,omitempty"`

	// ClaimedUntil is set while one caller performs the request's right,
	// so a concurrent completion on any replica is refused; it lapses by
	// itself if that caller dies.
	ClaimedUntil time.Time `json:"-"`
	// Revision counts stored changes; UpdateRequest compares it.
	Revision int64 `json:"-"`
}

// Deadline is when the request must be answered: the extended date if it
// was extended, else the due date.
func (r *DSRequest) Deadline() time.Time {
	if !r.ExtendedTo.IsZero() {
		return r.ExtendedTo
	}
	return r.DueAt
}

// Overdue reports whether the request is still open after its deadline.
func (r *DSRequest) Overdue(now time.Time) bool {
	return r.State == RequestOpen && r.Deadline().Before(now)
}

// DeadlineRule is how long a controller has to answer a request, and the
// one extension the law allows.
type DeadlineRule struct {
	Law          string // what the rule rests on, for people and logs
	Months, Days int    // the time to answer, from receipt
	ExtMonths    int    // one extension, added to the time to answer
	ExtDays      int
}

// The deadlines by regime, in one place.
//
// GDPR and UK GDPR Art. 12(3): "without undue delay and in any event within
// one month of receipt", extendable "by two further months where necessary,
// taking into account the complexity and number of the requests", telling
// the person within the first month, with the reasons. A month is counted
// as Regulation (EEC, Euratom) No 1182/71 Art. 3(2)(c) and the EDPB
// (Guidelines 01/2022 on the right of access) count it: to the same date of
// the next month, or the last day of that month when it has no such date
// (received 31 January → due 28 February, not 3 March as time.AddDate
// would make it).
//
// CCPA, Cal. Civ. Code § 1798.130(a)(2) and 11 CCR § 7021: 45 calendar days,
// extendable once by another 45 "when reasonably necessary", with notice
// within the first 45 days. The other US state laws (Virginia, Colorado,
// Connecticut, …) have the same 45 + 45, so it is the rule for every US
// subject.
//
// Anywhere else: 30 days, extendable once by 30, a conservative default
// that local counsel should confirm.
var (
	gdprRule    = DeadlineRule{Law: "GDPR Art. 12(3)", Months: 1, ExtMonths: 2}
	ukGDPRRule  = DeadlineRule{Law: "UK GDPR Art. 12(3)", Months: 1, ExtMonths: 2}
	ccpaRule    = DeadlineRule{Law: "CCPA § 1798.130(a)(2)", Days: 45, ExtDays: 45}
	defaultRule = DeadlineRule{Law: "default", Days: 30, ExtDays: 30}
)

// DeadlineRuleFor returns the rule for a subject's jurisdiction.
func DeadlineRuleFor(j Jurisdiction) DeadlineRule {
	switch j.Regime {
	case "EU":
		return gdprRule
	case "GB":
		return ukGDPRRule
	case "US":
		return ccpaRule
	}
	return defaultRule
}

// Due returns the deadline of a request received at received.
func (d DeadlineRule) Due(received time.Time) time.Time {
	return addMonths(received, d.Months).AddDate(0, 0, d.Days)
}

// Extended returns the deadline after the one extension: the added time
// counts from receipt, so a GDPR request received 31 January is due at the
// latest on 30 April.
func (d DeadlineRule) Extended(received time.Time) time.Time {
	return addMonths(received, d.Months+d.ExtMonths).AddDate(0, 0, d.Days+d.ExtDays)
}

// addMonths adds n calendar months, ending on the last day of the target
// month when it is shorter (31 January + 1 month = 28 or 29 February).
func addMonths(t time.Time, n int) time.Time {
	if n == 0 {
		return t
	}
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// RequestFilter selects requests; zero fields select everything.
type RequestFilter struct {
	State     string    // "" or a Request* state
	SubjectID string    // "" or one subject
	OverdueAt time.Time // non-zero: only open requests whose Deadline is before it
	Limit     int       // at most this many; ≤ 0 is no limit
}

// RequestStore keeps the register of data-subject requests. Implementations
// must be safe for concurrent use, also by several replicas.
type RequestStore interface {
	// InsertRequest stores a new request; an existing ID is an error.
	InsertRequest(ctx Context, r *DSRequest) error
	// Request returns ENOTFOUND if absent.
	Request(ctx Context, id string) (*DSRequest, error)
	// Requests returns the requests f selects, the most urgent deadline
	// first (then by id), never nil.
	Requests(ctx Context, f RequestFilter) ([]*DSRequest, error)
	// UpdateRequest stores r's mutable fields (extension, state, completion,
	// certificate, rejection, claim) if the stored request is still open
	// and still has r.Revision, and then increments r.Revision. Otherwise it
	// changes nothing and returns ECONFLICT (ENOTFOUND if absent): of
	// concurrent updates made from the same read exactly one succeeds.
	UpdateRequest(ctx Context, r *DSRequest) error
}
