package likeness

import "time"

// AuthorityDeadline is how long a controller has, from becoming aware of a
// personal-data breach, to notify the supervisory authority (GDPR Art. 33(1):
// "not later than 72 hours after having become aware of it").
const AuthorityDeadline = 72 * time.Hour

// Incident states. They only move forward: open → authority_notified →
// closed, or open → closed when the breach is unlikely to result in a risk.
const (
	IncidentOpen              = "open"
	IncidentAuthorityNotified = "authority_notified"
	IncidentClosed            = "closed"
)

// Notification kinds.
const (
	NotifyAuthority = "authority" // the supervisory authority (Art. 33)
	NotifySubjects  = "subjects"  // the affected people (Art. 34)
)

// Close reasons. GDPR Art. 33(1) waives the authority's notification when
// the breach "is unlikely to result in a risk to the rights and freedoms of
// natural persons"; Art. 33(5) still requires the reasoning to be
// documented, so CloseNoRisk needs a note.
const (
	CloseResolved = "resolved" // after the authority was notified
	CloseNoRisk   = "no_risk"  // no notification required; the note says why
)

// Outbox message types of incidents. They are valid outbox types once
// ValidMessageType lists them; until then the store writes no such message.
const (
	// MsgIncidentOpened reports a new incident, with no subject.
	MsgIncidentOpened = "incident.opened"
	// MsgIncidentSubjectNotice asks downstream systems (which may hold
	// contact details likeness does not) to tell one affected person of the
	// breach (Art. 34). likeness mails the person itself too, when it keeps
	// an address for them (MsgMailBreach, written beside it).
	MsgIncidentSubjectNotice = "incident.subject_notice"
)

// IncidentScope says which assets a breach reached. Within a list any entry
// matches (an empty list matches everything); the lists, and the window, all
// have to match. From and To bound the assets' creation time, both
// inclusive, when set. AssetIDs, when set, is the whole scope: it cannot be
// combined with the other fields.
type IncidentScope struct {
	Purposes   []string  `json:"purposes,omitempty"`
	Categories []string  `json:"categories,omitempty"`
	Regions    []string  `json:"regions,omitempty"`
	AssetIDs   []string  `json:"asset_ids,omitempty"`
	From       time.Time `json:"from,omitzero"`
	To         time.Time `json:"to,omitzero"`
}

// Incident is a personal-data breach and what was done about it. Title and
// Description are the operator's own words, shown to the authority and,
// through incident.subject_notice, to the people affected: they must never
// hold personal data (names, ids, contact details, media).
//
// Who is affected is computed from Scope, never typed in: every asset that
// matches the scope and still existed when the breach was detected (assets
// erased at or before DetectedAt had neither blob nor key left to leak)
// makes its subject affected.
type Incident struct {
	ID          string `json:"id"` // "inc_…"
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// DetectedAt is when the organization became aware of the breach; the
	// 72-hour clock runs from it.
	DetectedAt        time.Time              `json:"detected_at"`
	OpenedAt          time.Time              `json:"opened_at"`
	OpenedBy          string                 `json:"opened_by,omitempty"` // API key id
	Scope             IncidentScope          `json:"scope"`
	AffectedSubjects  int                    `json:"affected_subjects"`
	AffectedAssets    int                    `json:"affected_assets"`
	AuthorityDeadline time.Time              `json:"authority_deadline"` // DetectedAt + 72h
	State             string                 `json:"state"`
	Notifications     []IncidentNotification `json:"notifications"`
	ClosedAt          time.Time              `json:"closed_at,omitzero"`
	CloseReason       string                 `json:"close_reason,omitempty"`
	CloseNote         string                 `json:"close_note,omitempty"`
}

// Overdue reports whether the authority should have been notified by now:
// the incident is open (so neither notified nor closed) and its deadline
// has passed.
func (inc *Incident) Overdue(now time.Time) bool {
	return inc.State == IncidentOpen && now.After(inc.AuthorityDeadline)
}

// IncidentNotification is one notification made about an incident.
type IncidentNotification struct {
	Kind      string    `json:"kind"` // NotifyAuthority or NotifySubjects
	At        time.Time `json:"at"`
	Reference string    `json:"reference,omitempty"` // e.g. the authority's case number
	Count     int       `json:"count"`               // people told: 1 for the authority
}

// IncidentSubject is one affected person and the assets of theirs the breach
// reached.
type IncidentSubject struct {
	SubjectID string   `json:"subject_id"`
	AssetIDs  []string `json:"asset_ids"`
}

// IncidentFilter selects incidents. Zero fields select everything.
type IncidentFilter struct {
	State string
	// DeadlineBefore, if set, keeps incidents whose authority deadline is
	// strictly before it.
	DeadlineBefore time.Time
}

// IncidentSubjectNoticeData is the Data of incident.subject_notice messages.
type IncidentSubjectNoticeData struct {
	IncidentID  string    `json:"incident_id"`
	SubjectID   string    `json:"subject_id"`
	AssetIDs    []string  `json:"asset_ids"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	DetectedAt  time.Time `json:"detected_at"`
	Time        time.Time `json:"time"`
}

// IncidentStore keeps incidents. Implementations must be safe for
// concurrent use and return ENOTFOUND for an unknown incident.
type IncidentStore interface {
	// AffectedSubjects returns the subjects whose assets match scope and
	// were not erased at or before detectedAt, ordered by subject id, each
	// with its matching asset ids in order. The selection runs in the
	// database. Explicit asset ids that do not exist are simply not
	// returned.
	AffectedSubjects(ctx Context, scope IncidentScope, detectedAt time.Time) ([]IncidentSubject, error)
	// CreateIncident stores inc and its affected subjects in one
	// transaction, and enqueues incident.opened in it if that type is
	// valid. A duplicate id is ECONFLICT.
	CreateIncident(ctx Context, inc *Incident, affected []IncidentSubject) error
	// Incident returns the incident with its notifications, oldest first.
	Incident(ctx Context, id string) (*Incident, error)
	// Incidents lists the incidents matching f, newest detection first.
	Incidents(ctx Context, f IncidentFilter) ([]*Incident, error)
	// IncidentSubjects returns the affected subjects, ordered by subject id.
	IncidentSubjects(ctx Context, id string) ([]IncidentSubject, error)
	// AddNotification records n. An authority notification moves an open
	// incident to authority_notified. A subjects notification enqueues one
	// incident.subject_notice per affected subject in the same transaction,
	// if that type is valid, and may be recorded once: a second is
	// ECONFLICT. Any notification of a closed incident is ECONFLICT.
	AddNotification(ctx Context, id string, n IncidentNotification) error
	// CloseIncident closes the incident with reason and note at time at;
	// ECONFLICT if it is closed already. Whether it may be closed is the
	// caller's rule, not the store's.
	CloseIncident(ctx Context, id, reason, note string, at time.Time) error
}
