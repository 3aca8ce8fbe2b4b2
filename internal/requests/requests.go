// Package requests keeps the organization's register of data-subject
// requests (GDPR Art. 12–22, CCPA): each request's legal deadline, its one
// extension, and its completion, which performs the right through the
// erasure, consent and subject services (erasure, withdrawal, opt-out,
// rectification) before the request is marked completed. A right is
// performed once: the completing caller first claims the request with a
// compare-and-swap in the store, so of two callers on any replicas one
// performs it and the other gets ECONFLICT.
package requests

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"likeness"
	"likeness/internal/authz"
	"likeness/policy"
)

// ClaimLease is how long a completing caller holds a request. If it dies
// in the middle, the request can be completed again after the lease; every
// action is idempotent, so a retry after a partial run is safe.
const ClaimLease = 15 * time.Minute

// Limits on operators' free texts and on listings.
const (
	MaxReason    = 500
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Store is what the service needs from storage.
type Store interface {
	likeness.RequestStore
	// Subject returns ENOTFOUND if absent; erased subjects are returned.
	Subject(ctx likeness.Context, id string) (*likeness.Subject, error)
}

// Config holds what a Service is built from.
type Config struct {
	Store    Store
	Subjects Subjects
	Consent  Withdrawer
	States   States
	Eraser   Eraser
	Policy   func() *policy.Policy // the policy in force
	Now      func() time.Time      // nil is time.Now
	Logger   *slog.Logger
}

// Service opens, extends, completes, rejects and lists requests. Safe for
// concurrent use.
type Service struct {
	store    Store
	subjects Subjects
	consent  Withdrawer
	states   States
	eraser   Eraser
	policy   func() *policy.Policy
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Subjects == nil || cfg.Consent == nil || cfg.States == nil || cfg.Eraser == nil || cfg.Policy == nil {
		return nil, fmt.Errorf("requests: Store, Subjects, Consent, States, Eraser and Policy are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: cfg.Store, subjects: cfg.Subjects, consent: cfg.Consent, states: cfg.States, eraser: cfg.Eraser,
		policy: cfg.Policy, now: cfg.Now, log: cfg.Logger}, nil
}

// micro truncates t to what the store keeps, in UTC.
func micro(t time.Time) time.Time { return likeness.FromMicros(likeness.Micros(t)) }

// Open registers a request received at receivedAt (zero: now) and computes
// its deadline from the subject's jurisdiction (likeness.DeadlineRuleFor).
// purpose is required for a withdrawal; for an opt-out it is optional and
// narrows the opt-out to that sale_or_share purpose; other types take none.
// A request about an erased subject is refused with EGONE, unless it asks
// for the erasure itself (completing it returns the existing certificate).
func (s *Service) Open(ctx context.Context, subjectID string, typ likeness.RequestType, channel, purpose string, receivedAt time.Time) (*likeness.DSRequest, error) {
	if !likeness.ValidRequestType(typ) {
		return nil, likeness.Errorf(likeness.EINVALID, "type %q is not one of access, export, erasure, withdrawal, rectification, opt_out", typ)
	}
	if !likeness.ValidChannel(channel) {
		return nil, likeness.Errorf(likeness.EINVALID, "channel %q is not one of portal, email, phone, letter, api", channel)
	}
	if err := s.checkPurpose(typ, purpose); err != nil {
		return nil, err
	}
	now := micro(s.now())
	if receivedAt.IsZero() {
		receivedAt = now
	}
	receivedAt = micro(receivedAt)
	if receivedAt.After(now) {
		return nil, likeness.Errorf(likeness.EINVALID, "received_at %s is in the future", receivedAt.Format(time.RFC3339))
	}
	sub, err := s.subject(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	if sub.Erased() && typ != likeness.RequestErasure {
		return nil, likeness.Errorf(likeness.EGONE, "subject was erased: there is nothing left to %s", actionWord(typ))
	}
	j, err := likeness.ParseJurisdiction(sub.Jurisdiction)
	if err != nil && !sub.Erased() {
		return nil, err
	}
	r := &likeness.DSRequest{ID: likeness.NewID("req"), SubjectID: sub.ID, Type: typ, Purpose: purpose, Channel: channel,
		ReceivedAt: receivedAt, DueAt: likeness.DeadlineRuleFor(j).Due(receivedAt), State: likeness.RequestOpen}
	if err := s.store.InsertRequest(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

func actionWord(t likeness.RequestType) string {
	switch t {
	case likeness.RequestAccess, likeness.RequestExport:
		return "give access to"
	case likeness.RequestWithdrawal, likeness.RequestOptOut:
		return "withdraw"
	case likeness.RequestRectification:
		return "rectify"
	}
	return "do"
}

func (s *Service) checkPurpose(typ likeness.RequestType, purpose string) error {
	p := s.policy()
	switch typ {
	case likeness.RequestWithdrawal:
		if purpose == "" {
			return likeness.Errorf(likeness.EINVALID, "a withdrawal names its purpose; the policy declares %v", p.PurposeIDs)
		}
		if _, ok := p.Purpose(purpose); !ok {
			return likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", purpose, p.PurposeIDs)
		}
	case likeness.RequestOptOut:
		if purpose == "" {
			return nil // every sale_or_share purpose
		}
		pp, ok := p.Purpose(purpose)
		if !ok {
			return likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", purpose, p.PurposeIDs)
		}
		if !pp.SaleOrShare {
			return likeness.Errorf(likeness.EINVALID, "purpose %q is not a sale or share: an opt-out covers only purposes marked sale_or_share (use a withdrawal)", purpose)
		}
	default:
		if purpose != "" {
			return likeness.Errorf(likeness.EINVALID, "purpose applies only to withdrawal and opt_out requests, not %s", typ)
		}
	}
	return nil
}

func (s *Service) subject(ctx context.Context, id string) (*likeness.Subject, error) {
	if !likeness.ValidID("sub", id) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "subject not found")
	}
	return s.store.Subject(ctx, id)
}

// Request returns a request, ENOTFOUND if absent.
func (s *Service) Request(ctx context.Context, id string) (*likeness.DSRequest, error) {
	if !likeness.ValidID("req", id) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "request not found")
	}
	return s.store.Request(ctx, id)
}

// open returns the request if it may still change: ECONFLICT once it is
// completed or rejected, or while another caller is completing it.
func (s *Service) open(ctx context.Context, id string, now time.Time) (*likeness.DSRequest, error) {
	r, err := s.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State != likeness.RequestOpen {
		return nil, likeness.Errorf(likeness.ECONFLICT, "the request is already %s", r.State)
	}
	if r.ClaimedUntil.After(now) {
		return nil, likeness.Errorf(likeness.ECONFLICT, "the request is being completed right now; read it again in a moment")
	}
	return r, nil
}

func checkReason(what, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return likeness.Errorf(likeness.EINVALID, "%s is required", what)
	}
	if len(reason) > MaxReason {
		return likeness.Errorf(likeness.EINVALID, "%s is longer than %d bytes", what, MaxReason)
	}
	return nil
}

// Extend extends the deadline, once, by what the subject's law allows
// (likeness.DeadlineRule). The reason is required, and the extension must
// be made before the original deadline: the law asks that the person be
// told of it within the first period. ECONFLICT for a second extension, a
// late one, or a closed request.
func (s *Service) Extend(ctx context.Context, id, reason string) (*likeness.DSRequest, error) {
	if err := checkReason("reason", reason); err != nil {
		return nil, err
	}
	now := micro(s.now())
	r, err := s.open(ctx, id, now)
	if err != nil {
		return nil, err
	}
	if !r.ExtendedTo.IsZero() {
		return nil, likeness.Errorf(likeness.ECONFLICT, "the request was already extended once (to %s); the law allows one extension", r.ExtendedTo.Format(time.RFC3339))
	}
	if r.DueAt.Before(now) {
		return nil, likeness.Errorf(likeness.ECONFLICT, "the deadline passed on %s: an extension must be made, and the person told, before it", r.DueAt.Format(time.RFC3339))
	}
	sub, err := s.store.Subject(ctx, r.SubjectID)
	if err != nil {
		return nil, err
	}
	// The rule of the subject's current jurisdiction: a rectified
	// jurisdiction counts from the moment it was corrected.
	j, _ := likeness.ParseJurisdiction(sub.Jurisdiction)
	rule := likeness.DeadlineRuleFor(j)
	r.ExtendedTo, r.ExtensionReason = rule.Extended(r.ReceivedAt), reason
	if !r.ExtendedTo.After(r.DueAt) {
		r.ExtendedTo = r.DueAt // never shorten a deadline
	}
	if err := s.store.UpdateRequest(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Reject closes a request without performing it (e.g. the person could not
// be verified, or the request is manifestly unfounded: GDPR Art. 12(5)).
// The reason is required and is what the person is told; it must not hold
// personal data.
func (s *Service) Reject(ctx context.Context, id, reason string) (*likeness.DSRequest, error) {
	if err := checkReason("reason", reason); err != nil {
		return nil, err
	}
	now := micro(s.now())
	r, err := s.open(ctx, id, now)
	if err != nil {
		return nil, err
	}
	r.State, r.CompletedAt, r.RejectReason = likeness.RequestRejected, now, reason
	if err := s.store.UpdateRequest(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Filter selects requests for List.
type Filter struct {
	State     string // "", open, completed or rejected
	SubjectID string
	Overdue   bool // only open requests past their deadline now
	Limit     int  // 0 is DefaultLimit; at most MaxLimit
}

// List returns the requests f selects, the most urgent deadline first.
func (s *Service) List(ctx context.Context, f Filter) ([]*likeness.DSRequest, error) {
	switch f.State {
	case "", likeness.RequestOpen, likeness.RequestCompleted, likeness.RequestRejected:
	default:
		return nil, likeness.Errorf(likeness.EINVALID, "state %q is not one of open, completed, rejected", f.State)
	}
	if f.SubjectID != "" && !likeness.ValidID("sub", f.SubjectID) {
		return nil, likeness.Errorf(likeness.EINVALID, "subject_id %q is not a subject id", f.SubjectID)
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	if f.Limit < 1 || f.Limit > MaxLimit {
		return nil, likeness.Errorf(likeness.EINVALID, "limit must be 1..%d", MaxLimit)
	}
	if f.Overdue && f.State != "" && f.State != likeness.RequestOpen {
		return nil, likeness.Errorf(likeness.EINVALID, "only open requests can be overdue; drop state=%s or overdue", f.State)
	}
	sf := likeness.RequestFilter{State: f.State, SubjectID: f.SubjectID, Limit: f.Limit}
	if f.Overdue {
		sf.OverdueAt = s.now()
	}
	return s.store.Requests(ctx, sf)
}

// Params are what completing a rectification needs: the corrected locale
// and/or jurisdiction. Other types take none.
type Params struct {
	Locale       string `json:"locale"`
	Jurisdiction string `json:"jurisdiction"`
}

func (p Params) empty() bool { return p.Locale == "" && p.Jurisdiction == "" }

// Outcomes: short texts stored with a completed request. Never personal data.
const (
	OutcomeErased        = "erasure certificate issued"
	OutcomeDataAvailable = "data made available in the privacy portal"
	OutcomeWithdrawn     = "consent withdrawn"
	OutcomeWasWithdrawn  = "consent was already withdrawn"
	OutcomeRectified     = "subject rectified"
)

// Complete performs the request's right and marks it completed:
//
//   - erasure: erasure.Service.EraseSubject; the signed certificate is kept
//     with the request. For a subject already erased, the existing one.
//   - withdrawal: a withdrawal of the purpose, unless it stands withdrawn.
//   - opt_out: a withdrawal of every purpose the policy marks sale_or_share
//     (or of the request's one purpose) that is not withdrawn already, for
//     any subject: a person who asks is opted out whatever their state.
//     consent.Service.ApplyGPC is not used: it acts for California only,
//     and records method gpc, which would claim a browser signal nobody
//     sent.
//   - rectification: subjects.Registry.Rectify with p (locale, jurisdiction).
//   - access, export: nothing is generated here: the person reads and
//     downloads their data in the privacy portal (/me, /me/export), which
//     decrypts it for them alone; completing records that it was made
//     available there.
//
// Withdrawals made here are recorded in the ledger with the method the
// channel implies (portal: checkbox; email, letter: written; phone: verbal;
// api: import) and the request id as evidence. The right is performed at
// most once: a second Complete, concurrent or later, is ECONFLICT. Bad
// parameters are EINVALID and change nothing. Completing an erasure needs
// authz.Erase, an access or export authz.ExportContent, from the actor in
// ctx; others are EFORBIDDEN and change nothing.
func (s *Service) Complete(ctx context.Context, id string, p Params) (*likeness.DSRequest, error) {
	now := micro(s.now())
	r, err := s.open(ctx, id, now)
	if err != nil {
		return nil, err
	}
	if c, ok := capability(r.Type); ok {
		if err := authz.Check(ctx, c, r.SubjectID); err != nil {
			return nil, err
		}
	}
	if err := s.checkParams(r, p); err != nil {
		return nil, err
	}
	// Claim: from here no one else can complete, extend or reject it.
	r.ClaimedUntil = now.Add(ClaimLease)
	if err := s.store.UpdateRequest(ctx, r); err != nil {
		return nil, err
	}
	outcome, cert, err := s.perform(ctx, r, p)
	if err != nil {
		s.release(ctx, r)
		return nil, err
	}
	r.State, r.CompletedAt, r.Outcome, r.Certificate, r.ClaimedUntil = likeness.RequestCompleted, micro(s.now()), outcome, cert, time.Time{}
	if err := s.store.UpdateRequest(context.WithoutCancel(ctx), r); err != nil {
		// The right was performed but the register does not say so yet;
		// the claim lapses and a retry completes it (the actions are
		// idempotent).
		s.log.Error("data-subject request performed but not recorded as completed", "request", r.ID, "err", err)
		return nil, err
	}
	return r, nil
}

// release gives up a claim after a failed action, so the request can be
// completed again at once.
func (s *Service) release(ctx context.Context, r *likeness.DSRequest) {
	r.ClaimedUntil = time.Time{}
	if err := s.store.UpdateRequest(context.WithoutCancel(ctx), r); err != nil {
		s.log.Warn("could not release the claim on a request; it lapses by itself", "request", r.ID, "err", err)
	}
}

func (s *Service) checkParams(r *likeness.DSRequest, p Params) error {
	if r.Type != likeness.RequestRectification {
		if !p.empty() {
			return likeness.Errorf(likeness.EINVALID, "locale and jurisdiction apply only to rectification requests, not %s", r.Type)
		}
		return nil
	}
	if p.empty() {
		return likeness.Errorf(likeness.EINVALID, "a rectification needs the corrected locale and/or jurisdiction")
	}
	if p.Jurisdiction != "" {
		if _, err := likeness.ParseJurisdiction(p.Jurisdiction); err != nil {
			return err
		}
	}
	if len(p.Locale) > 16 {
		return likeness.Errorf(likeness.EINVALID, "locale %q is too long", p.Locale)
	}
	return nil
}

// capability is what completing a request of type t performs on the
// person, beyond what a collector may do (see package authz).
func capability(t likeness.RequestType) (authz.Capability, bool) {
	switch t {
	case likeness.RequestErasure:
		return authz.Erase, true
	case likeness.RequestAccess, likeness.RequestExport:
		return authz.ExportContent, true
	}
	return "", false
}

// perform carries out the right and returns the outcome to record.
func (s *Service) perform(ctx context.Context, r *likeness.DSRequest, p Params) (string, []byte, error) {
	switch r.Type {
	case likeness.RequestErasure:
		cert, err := s.eraser.EraseSubject(ctx, r.SubjectID)
		if err != nil {
			return "", nil, err
		}
		return OutcomeErased, cert, nil
	case likeness.RequestAccess, likeness.RequestExport:
		if _, err := s.subjects.Subject(ctx, r.SubjectID); err != nil {
			return "", nil, err
		}
		return OutcomeDataAvailable, nil, nil
	case likeness.RequestRectification:
		if _, err := s.subjects.Rectify(ctx, r.SubjectID, p.Locale, p.Jurisdiction); err != nil {
			return "", nil, err
		}
		var fields []string
		if p.Locale != "" {
			fields = append(fields, "locale")
		}
		if p.Jurisdiction != "" {
			fields = append(fields, "jurisdiction")
		}
		return OutcomeRectified + " (" + strings.Join(fields, ", ") + ")", nil, nil
	case likeness.RequestWithdrawal:
		n, err := s.withdraw(ctx, r, []string{r.Purpose})
		if err != nil {
			return "", nil, err
		}
		if n == 0 {
			return OutcomeWasWithdrawn, nil, nil
		}
		return OutcomeWithdrawn, nil, nil
	case likeness.RequestOptOut:
		purposes := []string{r.Purpose}
		if r.Purpose == "" {
			purposes = saleOrShare(s.policy())
		}
		n, err := s.withdraw(ctx, r, purposes)
		if err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("opted out of sale and sharing: %d of %d purposes withdrawn", n, len(purposes)), nil, nil
	}
	return "", nil, likeness.Errorf(likeness.EINVALID, "unknown request type %q", r.Type)
}

func saleOrShare(p *policy.Policy) []string {
	out := []string{}
	for _, id := range p.PurposeIDs {
		if p.Purposes[id].SaleOrShare {
			out = append(out, id)
		}
	}
	return out
}

// withdraw records a withdrawal of each purpose not withdrawn already and
// returns how many it recorded. Skipping standing withdrawals makes a
// retried completion record nothing twice.
func (s *Service) withdraw(ctx context.Context, r *likeness.DSRequest, purposes []string) (int, error) {
	if _, err := s.subjects.Subject(ctx, r.SubjectID); err != nil {
		return 0, err
	}
	n := 0
	for _, purpose := range purposes {
		if st, _ := s.states.State(r.SubjectID, purpose, s.now()); st == likeness.StateWithdrawn {
			continue
		}
		if _, err := s.consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: r.SubjectID, Purpose: purpose,
			Method: channelMethod(r.Channel), Evidence: map[string]string{"request": r.ID}}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// channelMethod is the consent method a withdrawal received through a
// channel is recorded with.
func channelMethod(channel string) likeness.Method {
	switch channel {
	case likeness.ChannelPortal:
		return likeness.Checkbox
	case likeness.ChannelPhone:
		return likeness.Verbal
	case likeness.ChannelEmail, likeness.ChannelLetter:
		return likeness.Written
	}
	return likeness.Import
}
