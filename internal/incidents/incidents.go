// Package incidents owns breach response (GDPR Art. 33 and 34): opening an
// incident for a personal-data breach, computing who it affected from its
// scope, keeping the 72-hour clock for notifying the supervisory authority,
// recording the notifications made, and closing it.
//
// Who is affected is never typed in. The operator describes the scope (which
// purposes, data categories and storage regions, assets created in which
// window, or an explicit list of assets) and the store selects every
// matching asset that still existed when the breach was detected: the breach
// is taken to have happened at DetectedAt, so an asset erased at or before
// then (its blob deleted, its fingerprints cleared) is not affected, while
// one erased afterwards is. The affected subjects and their assets are fixed
// when the incident is opened; the count does not drift as data changes.
//
// The clock runs from DetectedAt, the moment the organization became aware
// of the breach (Art. 33(1)), not from when the incident was opened here. An
// incident is overdue while it is open (the authority has not been notified
// and it is not closed) and its AuthorityDeadline has passed. Closing needs
// either an authority notification (reason "resolved") or the operator's
// documented judgment that the breach is unlikely to result in a risk to
// people (reason "no_risk" with a note, Art. 33(1) and 33(5)).
//
// Titles, descriptions, references and notes are operator text that goes to
// the authority and, in incident.subject_notice messages, to downstream
// systems that tell the people affected: they must not contain personal data.
package incidents

import (
	"errors"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"likeness"
	"likeness/policy"
)

// Limits on operator input.
const (
	MaxTitle       = 200
	MaxDescription = 10000
	MaxReference   = 200
	MaxNote        = 10000
	// MaxAssetIDs bounds an explicit scope; a larger breach is described
	// by purpose, category, region and time instead.
	MaxAssetIDs = 1000
)

// Config holds what a Service is built from.
type Config struct {
	Store likeness.Store
	// Policy returns the policy in force (consent.Notices.Policy), to check
	// a scope's purposes.
	Policy func() *policy.Policy
	Now    func() time.Time
}

// Service opens, notifies and closes incidents. Safe for concurrent use.
type Service struct {
	store  likeness.Store
	policy func() *policy.Policy
	now    func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Policy == nil {
		return nil, errors.New("incidents: Store and Policy are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: cfg.Store, policy: cfg.Policy, now: cfg.Now}, nil
}

// View is an incident as the API shows it, with its clock read at Now.
type View struct {
	*likeness.Incident
	// HoursLeft until the authority deadline, negative once it has passed;
	// absent once the authority was notified or the incident closed.
	HoursLeft *float64 `json:"hours_left,omitempty"`
	Overdue   bool     `json:"overdue"`
}

func (s *Service) view(inc *likeness.Incident) *View {
	now := s.now()
	v := &View{Incident: inc, Overdue: inc.Overdue(now)}
	if inc.State == likeness.IncidentOpen {
		h := math.Floor(inc.AuthorityDeadline.Sub(now).Hours()*100) / 100
		v.HoursLeft = &h
	}
	return v
}

// Open records a breach detected at detectedAt over scope, computes the
// subjects and assets it affected, and stores them with the incident in one
// transaction. Bad input (an empty title, a detection time in the future,
// an unknown purpose or category, To before From, unknown asset ids) is
// EINVALID and stores nothing.
func (s *Service) Open(ctx likeness.Context, title, description string, detectedAt time.Time, scope likeness.IncidentScope) (*View, error) {
	now := s.now()
	title, description = strings.TrimSpace(title), strings.TrimSpace(description)
	if err := checkText("title", title, MaxTitle, true); err != nil {
		return nil, err
	}
	if err := checkText("description", description, MaxDescription, false); err != nil {
		return nil, err
	}
	if detectedAt.IsZero() {
		return nil, likeness.Errorf(likeness.EINVALID, "detected_at is required: when the organization became aware of the breach")
	}
	if detectedAt.After(now) {
		return nil, likeness.Errorf(likeness.EINVALID, "detected_at %s is in the future", detectedAt.UTC().Format(time.RFC3339))
	}
	scope, err := s.checkScope(ctx, scope)
	if err != nil {
		return nil, err
	}
	detectedAt = likeness.FromMicros(likeness.Micros(detectedAt))
	affected, err := s.store.AffectedSubjects(ctx, scope, detectedAt)
	if err != nil {
		return nil, err
	}
	assets := 0
	for _, a := range affected {
		assets += len(a.AssetIDs)
	}
	inc := &likeness.Incident{ID: likeness.NewID("inc"), Title: title, Description: description, DetectedAt: detectedAt,
		OpenedAt: likeness.FromMicros(likeness.Micros(now)), OpenedBy: likeness.ActorFrom(ctx).KeyID, Scope: scope,
		AffectedSubjects: len(affected), AffectedAssets: assets,
		AuthorityDeadline: detectedAt.Add(likeness.AuthorityDeadline), State: likeness.IncidentOpen,
		Notifications: []likeness.IncidentNotification{}}
	if err := s.store.CreateIncident(ctx, inc, affected); err != nil {
		return nil, err
	}
	return s.view(inc), nil
}

func checkText(field, v string, limit int, required bool) error {
	switch {
	case required && v == "":
		return likeness.Errorf(likeness.EINVALID, "%s is required", field)
	case !utf8.ValidString(v):
		return likeness.Errorf(likeness.EINVALID, "%s is not valid UTF-8", field)
	case utf8.RuneCountInString(v) > limit:
		return likeness.Errorf(likeness.EINVALID, "%s is longer than %d characters", field, limit)
	}
	return nil
}

// checkScope validates a scope and returns it normalized: lists sorted and
// without duplicates, times in UTC at stored precision.
func (s *Service) checkScope(ctx likeness.Context, sc likeness.IncidentScope) (likeness.IncidentScope, error) {
	p := s.policy()
	var err error
	if sc.Purposes, err = normalize("purpose", sc.Purposes, func(v string) bool { _, ok := p.Purpose(v); return ok }); err != nil {
		return sc, err
	}
	if sc.Categories, err = normalize("category", sc.Categories, policy.IsCategory); err != nil {
		return sc, err
	}
	if sc.Regions, err = normalize("region", sc.Regions, func(v string) bool { return len(v) <= 64 }); err != nil {
		return sc, err
	}
	if sc.AssetIDs, err = normalize("asset id", sc.AssetIDs, func(v string) bool { return likeness.ValidID("ast", v) }); err != nil {
		return sc, err
	}
	if !sc.From.IsZero() {
		sc.From = likeness.FromMicros(likeness.Micros(sc.From))
	}
	if !sc.To.IsZero() {
		sc.To = likeness.FromMicros(likeness.Micros(sc.To))
	}
	if !sc.From.IsZero() && !sc.To.IsZero() && sc.To.Before(sc.From) {
		return sc, likeness.Errorf(likeness.EINVALID, "scope.to is before scope.from")
	}
	if len(sc.AssetIDs) == 0 {
		return sc, nil
	}
	if len(sc.Purposes)+len(sc.Categories)+len(sc.Regions) > 0 || !sc.From.IsZero() || !sc.To.IsZero() {
		return sc, likeness.Errorf(likeness.EINVALID, "scope.asset_ids is a scope of its own: leave purposes, categories, regions, from and to empty")
	}
	if len(sc.AssetIDs) > MaxAssetIDs {
		return sc, likeness.Errorf(likeness.EINVALID, "scope.asset_ids lists %d assets, more than %d: describe the scope by purpose, category, region and time", len(sc.AssetIDs), MaxAssetIDs)
	}
	// An id that names no asset is a typo, and a typo would under-count.
	for _, id := range sc.AssetIDs {
		if _, err := s.store.Asset(ctx, id); likeness.ErrorCode(err) == likeness.ENOTFOUND {
			return sc, likeness.Errorf(likeness.EINVALID, "scope.asset_ids: asset %s does not exist", id)
		} else if err != nil {
			return sc, err
		}
	}
	return sc, nil
}

func normalize(what string, vals []string, ok func(string) bool) ([]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if v == "" || !ok(v) {
			return nil, likeness.Errorf(likeness.EINVALID, "unknown %s %q in scope", what, v)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Get returns an incident; ENOTFOUND if absent.
func (s *Service) Get(ctx likeness.Context, id string) (*View, error) {
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.view(inc), nil
}

// Subjects returns the affected subjects of an incident and their assets.
func (s *Service) Subjects(ctx likeness.Context, id string) ([]likeness.IncidentSubject, error) {
	return s.store.IncidentSubjects(ctx, id)
}

// ListOptions select incidents. Overdue keeps the open incidents past their
// authority deadline.
type ListOptions struct {
	State   string
	Overdue bool
}

// List returns the incidents matching o, newest detection first.
func (s *Service) List(ctx likeness.Context, o ListOptions) ([]*View, error) {
	switch o.State {
	case "", likeness.IncidentOpen, likeness.IncidentAuthorityNotified, likeness.IncidentClosed:
	default:
		return nil, likeness.Errorf(likeness.EINVALID, "unknown state %q: use open, authority_notified or closed", o.State)
	}
	f := likeness.IncidentFilter{State: o.State}
	if o.Overdue {
		if o.State != "" && o.State != likeness.IncidentOpen {
			return []*View{}, nil // only open incidents can be overdue
		}
		f.State, f.DeadlineBefore = likeness.IncidentOpen, s.now()
	}
	incs, err := s.store.Incidents(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]*View, 0, len(incs))
	for _, inc := range incs {
		out = append(out, s.view(inc))
	}
	return out, nil
}

// checkAt validates when a notification was made: not before the breach
// was detected and not in the future. A zero at means now.
func (s *Service) checkAt(inc *likeness.Incident, at time.Time) (time.Time, error) {
	now := s.now()
	if at.IsZero() {
		at = now
	}
	if at.After(now) {
		return at, likeness.Errorf(likeness.EINVALID, "the notification time %s is in the future", at.UTC().Format(time.RFC3339))
	}
	if at.Before(inc.DetectedAt) {
		return at, likeness.Errorf(likeness.EINVALID, "the notification time is before the breach was detected")
	}
	return likeness.FromMicros(likeness.Micros(at)), nil
}

// NotifyAuthority records that the supervisory authority was notified at
// at (zero: now) under its case reference, which is required. A later call
// records a follow-up (Art. 33(4) allows information in phases).
// ECONFLICT once the incident is closed.
func (s *Service) NotifyAuthority(ctx likeness.Context, id, reference string, at time.Time) (*View, error) {
	reference = strings.TrimSpace(reference)
	if err := checkText("reference", reference, MaxReference, true); err != nil {
		return nil, likeness.Errorf(likeness.EINVALID, "%s: the authority's case number or the notification's reference", likeness.ErrorMessage(err))
	}
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	if at, err = s.checkAt(inc, at); err != nil {
		return nil, err
	}
	if err := s.store.AddNotification(ctx, id, likeness.IncidentNotification{Kind: likeness.NotifyAuthority, At: at,
		Reference: reference, Count: 1}); err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// NotifySubjects records that the affected people are being told (Art. 34)
// with their count, and enqueues one incident.subject_notice per affected
// subject for the downstream systems that hold their contact details, and
// one mail.breach for the mailer, which tells each person with an address
// on file in their language. It may be done once: ECONFLICT after that,
// and once the incident is closed. reference is optional (e.g. the mailing's
// id). EINVALID if the breach affected no one.
func (s *Service) NotifySubjects(ctx likeness.Context, id, reference string, at time.Time) (*View, error) {
	reference = strings.TrimSpace(reference)
	if err := checkText("reference", reference, MaxReference, false); err != nil {
		return nil, err
	}
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	if at, err = s.checkAt(inc, at); err != nil {
		return nil, err
	}
	if inc.AffectedSubjects == 0 {
		return nil, likeness.Errorf(likeness.EINVALID, "the incident affected no subjects: there is no one to notify")
	}
	if err := s.store.AddNotification(ctx, id, likeness.IncidentNotification{Kind: likeness.NotifySubjects, At: at,
		Reference: reference, Count: inc.AffectedSubjects}); err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Close closes an incident. Reason "resolved" needs the authority to have
// been notified; reason "no_risk" is the operator's documented judgment that
// the breach is unlikely to result in a risk to people (Art. 33(1)), allowed
// without a notification but only with a note that says why (Art. 33(5)).
// ECONFLICT if the rule is not met or the incident is closed already.
func (s *Service) Close(ctx likeness.Context, id, reason, note string) (*View, error) {
	note = strings.TrimSpace(note)
	if err := checkText("note", note, MaxNote, false); err != nil {
		return nil, err
	}
	switch reason {
	case likeness.CloseResolved, likeness.CloseNoRisk:
	case "":
		return nil, likeness.Errorf(likeness.EINVALID, "reason is required: %q (the authority was notified) or %q (no risk, with a note)",
			likeness.CloseResolved, likeness.CloseNoRisk)
	default:
		return nil, likeness.Errorf(likeness.EINVALID, "unknown reason %q: use %q or %q", reason, likeness.CloseResolved, likeness.CloseNoRisk)
	}
	if reason == likeness.CloseNoRisk && note == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "closing with reason no_risk needs a note that says why the breach is unlikely to result in a risk (GDPR Art. 33(5))")
	}
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case inc.State == likeness.IncidentClosed:
		return nil, likeness.Errorf(likeness.ECONFLICT, "the incident is closed already")
	case reason == likeness.CloseResolved && inc.State != likeness.IncidentAuthorityNotified:
		return nil, likeness.Errorf(likeness.ECONFLICT, "the supervisory authority has not been notified: notify it first, or close with reason no_risk and a note")
	}
	// States only move forward, so the check above cannot be undone by a
	// concurrent call; the store refuses a second close.
	if err := s.store.CloseIncident(ctx, id, reason, note, s.now()); err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}
