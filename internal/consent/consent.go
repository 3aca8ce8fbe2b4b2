// Package consent records people's consent and answers decisions. It is the
// one place that applies the product's rules to a write: it checks a request
// against the policy and the current notice, seals personal fields under the
// subject's own data key, appends the event to the ledger in the same
// transaction, and only then updates the in-memory decision index, so a
// withdrawal that has returned is seen by the very next decision. It also
// holds the policy in force and its published notices ([Notices]).
package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"likeness"
	"likeness/decision"
	"likeness/internal/jurisdiction"
	"likeness/internal/subjects"
	"likeness/policy"
)

// Store is what the consent service reads from storage; writes go through
// the Log.
type Store interface {
	// Subject returns ENOTFOUND if absent (erased subjects are returned).
	Subject(ctx likeness.Context, id string) (*likeness.Subject, error)
	// SubjectEvents returns a subject's events in ledger order.
	SubjectEvents(ctx likeness.Context, subjectID string) ([]*likeness.ConsentEvent, error)
	// Event returns ENOTFOUND for an unknown id.
	Event(ctx likeness.Context, id string) (*likeness.ConsentEvent, error)
	// The validation queue (likeness.ValidationStore).
	Validations(ctx likeness.Context, state string, limit int) ([]*likeness.Validation, error)
	Validation(ctx likeness.Context, eventID string) (*likeness.Validation, error)
	// ImportMarks returns the marks of imported lines stored under keys.
	ImportMarks(ctx likeness.Context, keys [][32]byte) (map[[32]byte]*likeness.ImportMark, error)
}

// Subjects finds subjects and seals their personal fields under their own
// data key. *subjects.Registry implements it.
type Subjects interface {
	// Subject returns ENOTFOUND if absent and EGONE if erased.
	Subject(ctx context.Context, id string) (*likeness.Subject, error)
	// Cipher returns EGONE once the subject's key was destroyed; the caller
	// closes it.
	Cipher(ctx context.Context, subjectID string) (*subjects.Cipher, error)
	// EnsureSubjects finds or creates many subjects at once, each as
	// CreateSubject would.
	EnsureSubjects(ctx context.Context, reqs []subjects.NewSubject) ([]subjects.Ensured, error)
}

// Log is the ledger's write path. *ledgerlog.Log implements it.
type Log interface {
	// Append stores events in one transaction with their ledger indexes.
	Append(ctx context.Context, evs []*likeness.ConsentEvent) error
	// AppendImported stores imported lines, each with its mark, in one
	// transaction (likeness.ImportStore), and may bring the tree up to date
	// with them at once, calling apply for each as SyncTo does.
	AppendImported(ctx context.Context, items []*likeness.ImportItem, apply func(*likeness.ConsentEvent) error) error
	// SyncTo brings the ledger tree up to date with the stored events,
	// calling apply for each new one in index order (an event apply fails
	// on is read again by the next call); it returns at once if the tree
	// already holds the event at index through (-1: always brings it up
	// to date).
	SyncTo(ctx context.Context, through int64, apply func(*likeness.ConsentEvent) error) error
}

// PurposeEraser erases what a withdrawal (stored, with its ledger index)
// took the consent of, after a withdrawal of a purpose whose policy does
// not declare on_withdraw: {keep: …}. It must be idempotent, and complete
// what a crash cut short when the service starts again.
// *erasure.Withdrawals implements it.
type PurposeEraser interface {
	EraseWithdrawn(ctx context.Context, ev *likeness.ConsentEvent) error
}

// Listener hears of consent events once they are durable, on the replica
// that recorded them (datasets use it to taint what a withdrawal touches).
type Listener interface {
	ConsentRecorded(ctx context.Context, ev *likeness.ConsentEvent) error
}

// Config holds what a Service is built from. Store, Subjects, Notices,
// Engine and Log are required.
type Config struct {
	Store     Store
	Subjects  Subjects
	Notices   *Notices
	Engine    *decision.Engine
	Log       Log
	Erasers   []PurposeEraser // run on withdrawals of purposes that do not keep their data
	Listeners []Listener      // told of every event once it is durable
	// Now is injected so tests control time.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service records grants, withdrawals, renewals and GPC opt-outs and answers
// decisions. Safe for concurrent use.
type Service struct {
	store     Store
	subjects  Subjects
	notices   *Notices
	engine    *decision.Engine
	now       func() time.Time
	logger    *slog.Logger
	erasers   []PurposeEraser
	listeners []Listener
	log       Log
}

// New builds a Service. It does not load the decision index: the caller
// loads it (package snapshot) before anything decides.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Subjects == nil || cfg.Notices == nil || cfg.Engine == nil || cfg.Log == nil {
		return nil, fmt.Errorf("consent: Store, Subjects, Notices, Engine and Log are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: cfg.Store, subjects: cfg.Subjects, notices: cfg.Notices, engine: cfg.Engine, log: cfg.Log,
		now: cfg.Now, logger: cfg.Logger, erasers: cfg.Erasers, listeners: cfg.Listeners}, nil
}

// Sync applies events committed since the last call (by this replica or
// another one sharing the database) to the decision index and the ledger
// tree. Replicas call it on a short timer; writes call it before returning.
func (s *Service) Sync(ctx context.Context) error {
	return s.log.SyncTo(ctx, -1, func(ev *likeness.ConsentEvent) error { return s.applySynced(ctx, ev) })
}

// applySynced applies an event read from the ledger to the index, learning
// of its subject first if another replica created it.
func (s *Service) applySynced(ctx context.Context, ev *likeness.ConsentEvent) error {
	if !s.engine.HasSubject(ev.SubjectID) {
		sub, err := s.store.Subject(ctx, ev.SubjectID)
		if err != nil {
			return err
		}
		s.engine.PutSubject(sub.ID, sub.Jurisdiction)
	}
	s.engine.Apply(ev)
	return nil
}

// Grant records consent to each purpose of req as its own event. A purpose
// whose consent already exists is recorded as a renewal.
func (s *Service) Grant(ctx context.Context, req *likeness.GrantRequest) ([]*likeness.ConsentEvent, error) {
	sub, err := s.subjects.Subject(ctx, req.SubjectID)
	if err != nil {
		return nil, err
	}
	p, version := s.notices.current()
	if err := p.CheckPurposes(req.Purposes); err != nil {
		return nil, err
	}
	if err := checkGrant(p, sub, req.Method, req.Language, req.Evidence); err != nil {
		return nil, err
	}
	if req.NoticeVersion != version.Version {
		return nil, likeness.Errorf(likeness.ECONFLICT, "notice version %d is not the current one (%d): show the person the current notice and ask again", req.NoticeVersion, version.Version)
	}
	if req.NoticeSHA256 != version.Texts[req.Language] {
		return nil, likeness.Errorf(likeness.ECONFLICT, "notice_sha256 does not match the current %s notice (version %d)", req.Language, version.Version)
	}
	now := s.now().UTC()
	collector := likeness.ActorFrom(ctx).Name()
	evs := make([]*likeness.ConsentEvent, len(req.Purposes))
	for i, purpose := range req.Purposes {
		typ := likeness.Grant
		if st, _ := s.engine.State(sub.ID, purpose, now); st == likeness.StateActive || st == likeness.StateExpired || st == likeness.StateNeedsRenewal {
			typ = likeness.Renew
		}
		evs[i] = &likeness.ConsentEvent{
			ID: likeness.NewID("evt"), SubjectID: sub.ID, Purpose: purpose, Type: typ, Method: req.Method,
			NoticeVersion: version.Version, NoticeSHA256: req.NoticeSHA256, Language: req.Language,
			Collector: collector, Evidence: req.Evidence, Time: now,
		}
		// A consent the policy holds for a reviewer counts once one
		// approves it; until then decisions deny (pending_validation).
		if need, within := p.NeedsValidation(purpose, req.Method, sub.Guardian); need {
			evs[i].Validation, evs[i].ValidationDue = likeness.ValidationPending, now.Add(within)
		}
	}
	if err := s.append(ctx, evs); err != nil {
		return nil, err
	}
	return evs, nil
}

// checkGrant checks what a grant of any purpose must carry: a method of
// giving consent with the evidence it needs, the guardian of a minor, a
// language the policy offers. The API and imports check grants with it.
func checkGrant(p *policy.Policy, sub *likeness.Subject, method likeness.Method, language string, evidence map[string]string) error {
	if !likeness.ValidMethod(method) {
		return likeness.Errorf(likeness.EINVALID, "method %q is not one of checkbox, verbal, written, import", method)
	}
	switch method {
	case likeness.Verbal:
		if evidence["recording"] == "" {
			return likeness.Errorf(likeness.EINVALID, "verbal consent needs evidence.recording (the id of the recording)")
		}
	case likeness.Written:
		if evidence["signature"] == "" && evidence["document"] == "" {
			return likeness.Errorf(likeness.EINVALID, "written consent needs evidence.signature or evidence.document")
		}
	}
	if err := checkGuardian(sub, evidence); err != nil {
		return err
	}
	if language == "" || !p.HasLanguage(language) {
		return likeness.Errorf(likeness.EINVALID, "language %q is not offered; use one of %v", language, p.Languages)
	}
	return checkEvidence(evidence)
}

// checkGuardian refuses a minor's grant that does not name the guardian.
func checkGuardian(sub *likeness.Subject, evidence map[string]string) error {
	if sub.Guardian && evidence["guardian"] == "" {
		return likeness.Errorf(likeness.EINVALID, "this subject is a minor: their guardian gives consent; name the guardian in evidence.guardian")
	}
	return nil
}

// checkWithdraw checks a withdrawal's purpose, method and evidence; an empty
// method is checkbox. The API and imports check withdrawals with it.
func checkWithdraw(p *policy.Policy, purpose string, method likeness.Method, evidence map[string]string) error {
	if _, ok := p.Purpose(purpose); !ok {
		return likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", purpose, p.PurposeIDs)
	}
	if !likeness.ValidMethod(method) && method != likeness.GPC {
		return likeness.Errorf(likeness.EINVALID, "method %q is not one of checkbox, verbal, written, import, gpc", method)
	}
	return checkEvidence(evidence)
}

func checkEvidence(ev map[string]string) error {
	if len(ev) > 16 {
		return likeness.Errorf(likeness.EINVALID, "evidence has %d fields; at most 16", len(ev))
	}
	for k, v := range ev {
		if len(k) > 64 || len(v) > 4096 {
			return likeness.Errorf(likeness.EINVALID, "evidence field %q is too long", k)
		}
	}
	return nil
}

// Withdraw records a withdrawal of one purpose. Withdrawing is always
// possible, even with no consent on record: the "no" is kept.
func (s *Service) Withdraw(ctx context.Context, req *likeness.WithdrawRequest) (*likeness.ConsentEvent, error) {
	sub, err := s.subjects.Subject(ctx, req.SubjectID)
	if err != nil {
		return nil, err
	}
	p := s.notices.Policy()
	if req.Method == "" {
		req.Method = likeness.Checkbox
	}
	if err := checkWithdraw(p, req.Purpose, req.Method, req.Evidence); err != nil {
		return nil, err
	}
	ev := &likeness.ConsentEvent{
		ID: likeness.NewID("evt"), SubjectID: sub.ID, Purpose: req.Purpose, Type: likeness.Withdraw,
		Method: req.Method, Collector: likeness.ActorFrom(ctx).Name(), Evidence: req.Evidence, Time: s.now().UTC(),
	}
	if err := s.append(ctx, []*likeness.ConsentEvent{ev}); err != nil {
		return nil, err
	}
	if pp, _ := p.Purpose(req.Purpose); pp.ErasesOnWithdraw() {
		for _, e := range s.erasers {
			if err := e.EraseWithdrawn(ctx, ev); err != nil {
				// The withdrawal stands (decisions already deny); its
				// erasure is completed when the service starts again.
				return ev, fmt.Errorf("consent: erase data of withdrawn purpose: %w", err)
			}
		}
	}
	return ev, nil
}

// HonourGPC is what a request carrying a Global Privacy Control signal
// does, whether it came through the API or the pages: where the person's
// law gives an opt-out of sale or sharing, it records the opt-out
// (ApplyGPC) and returns the first of purposes the signal forbids granting
// in the same request (one the policy marks sale_or_share); "" if none.
func (s *Service) HonourGPC(ctx context.Context, subjectID string, purposes []string) (string, error) {
	sub, err := s.subjects.Subject(ctx, subjectID)
	if err != nil {
		return "", err
	}
	if !jurisdiction.OptOutOfSale(sub.Jurisdiction) {
		return "", nil
	}
	if _, err := s.ApplyGPC(ctx, subjectID); err != nil {
		return "", err
	}
	p := s.notices.Policy()
	for _, id := range purposes {
		if pp, ok := p.Purpose(id); ok && pp.SaleOrShare {
			return id, nil
		}
	}
	return "", nil
}

// ApplyGPC records a Global Privacy Control opt-out: for a California
// subject, a withdrawal (method gpc) of every purpose the policy marks as
// sale_or_share that is not already withdrawn. Other subjects: nothing.
func (s *Service) ApplyGPC(ctx context.Context, subjectID string) ([]*likeness.ConsentEvent, error) {
	sub, err := s.subjects.Subject(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	if !jurisdiction.OptOutOfSale(sub.Jurisdiction) {
		return nil, nil
	}
	var out []*likeness.ConsentEvent
	p := s.notices.Policy()
	for _, id := range p.PurposeIDs {
		if !p.Purposes[id].SaleOrShare {
			continue
		}
		if st, _ := s.engine.State(sub.ID, id, s.now()); st == likeness.StateWithdrawn {
			continue
		}
		ev, err := s.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub.ID, Purpose: id, Method: likeness.GPC,
			Evidence: map[string]string{"signal": "Sec-GPC: 1"}})
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// append seals personal fields, stores the events (and their ledger leaves)
// in one transaction, then brings the index and tree up to date.
func (s *Service) append(ctx context.Context, evs []*likeness.ConsentEvent) error {
	var c *subjects.Cipher // the subject's key is unwrapped only for evidence to seal
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for _, ev := range evs {
		if len(ev.Evidence) == 0 {
			continue
		}
		if c == nil {
			var err error
			if c, err = s.subjects.Cipher(ctx, evs[0].SubjectID); err != nil {
				return err
			}
		}
		plain, err := json.Marshal(ev.Evidence)
		if err != nil {
			return err
		}
		if ev.Sealed, err = c.Seal(plain, eventAD(ev.ID)); err != nil {
			return fmt.Errorf("consent: seal evidence: %w", err)
		}
	}
	if err := s.log.Append(ctx, evs); err != nil {
		return err
	}
	// The events are durable; apply them here at once so the next decision
	// sees them even if the sync below fails.
	for _, ev := range evs {
		s.engine.Apply(ev)
	}
	s.notify(ctx, evs)
	last := evs[len(evs)-1].LedgerIndex
	if err := s.log.SyncTo(ctx, last, func(ev *likeness.ConsentEvent) error { return s.applySynced(ctx, ev) }); err != nil {
		s.logger.Warn("ledger sync after append failed", "err", err)
	}
	return nil
}

// notify tells listeners of events whose write has already returned; a
// listener's failure is logged, the event stands.
func (s *Service) notify(ctx context.Context, evs []*likeness.ConsentEvent) {
	for _, ev := range evs {
		if err := s.tell(ctx, ev); err != nil {
			s.logger.Error("consent listener failed", "event", ev.ID, "type", ev.Type, "err", err)
		}
	}
}

// tell runs every listener on ev and returns the first failure.
func (s *Service) tell(ctx context.Context, ev *likeness.ConsentEvent) error {
	var first error
	for _, l := range s.listeners {
		if err := l.ConsentRecorded(ctx, ev); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func eventAD(id string) []byte { return []byte("consent-event:" + id) }

// Consents returns the subject's state per purpose and full history, with
// evidence opened.
func (s *Service) Consents(ctx context.Context, subjectID string) ([]likeness.PurposeState, []*likeness.ConsentEvent, error) {
	sub, err := s.subjects.Subject(ctx, subjectID)
	if err != nil {
		return nil, nil, err
	}
	hist, err := s.store.SubjectEvents(ctx, sub.ID)
	if err != nil {
		return nil, nil, err
	}
	if err := s.openEvidence(ctx, sub.ID, hist); err != nil {
		return nil, nil, err
	}
	latest := map[string]*likeness.ConsentEvent{}
	for _, ev := range hist {
		if ev.Purpose != "" {
			latest[ev.Purpose] = ev
		}
	}
	now := s.now()
	p := s.notices.Policy()
	states := make([]likeness.PurposeState, 0, len(p.PurposeIDs))
	for _, id := range p.PurposeIDs {
		st, expires := s.engine.State(sub.ID, id, now)
		ps := likeness.PurposeState{Purpose: id, State: st, Expires: expires, Event: latest[id]}
		if ps.Event != nil {
			ps.Since = ps.Event.Time
		}
		states = append(states, ps)
	}
	return states, hist, nil
}

func (s *Service) openEvidence(ctx context.Context, subjectID string, evs []*likeness.ConsentEvent) error {
	var c *subjects.Cipher
	for _, ev := range evs {
		if len(ev.Sealed) == 0 {
			continue
		}
		if c == nil {
			var err error
			if c, err = s.subjects.Cipher(ctx, subjectID); err != nil {
				return err
			}
			defer c.Close()
		}
		plain, err := c.Open(ev.Sealed, eventAD(ev.ID))
		if err != nil {
			return fmt.Errorf("consent: open evidence of an event: %w", err)
		}
		if err := json.Unmarshal(plain, &ev.Evidence); err != nil {
			return err
		}
	}
	return nil
}

// Decide validates r and answers it from the index.
func (s *Service) Decide(r *likeness.DecisionRequest) (likeness.Decision, error) {
	if err := s.CheckDecision(r); err != nil {
		return likeness.Decision{}, err
	}
	rr := *r // the caller's request stays as it was
	if rr.At.IsZero() {
		rr.At = s.now()
	}
	return s.engine.Decide(&rr), nil
}

// maxPastDecision is how far in the past a decision's "at" may lie: enough
// for clock skew, too little to revive a consent that has since expired.
const maxPastDecision = time.Minute

// CheckDecision reports a malformed decision request: an unknown purpose or
// category is an error, never a silent deny or allow.
func (s *Service) CheckDecision(r *likeness.DecisionRequest) error {
	p := s.notices.Policy()
	switch {
	case r.SubjectID == "" && r.AssetID == "":
		return likeness.Errorf(likeness.EINVALID, "subject_id or asset_id is required")
	case r.SubjectID != "" && r.AssetID != "":
		return likeness.Errorf(likeness.EINVALID, "give subject_id or asset_id, not both: an asset names its subject")
	case !r.At.IsZero() && r.At.Before(s.now().Add(-maxPastDecision)):
		return likeness.Errorf(likeness.EINVALID, "at is in the past: a decision is about now or later (clocks may differ by at most %s)", maxPastDecision)
	case r.Purpose == "":
		return likeness.Errorf(likeness.EINVALID, "purpose is required")
	case r.Category == "" && r.AssetID == "":
		return likeness.Errorf(likeness.EINVALID, "data_category is required (an asset_id brings its own)")
	}
	if _, ok := p.Purpose(r.Purpose); !ok {
		return likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", r.Purpose, p.PurposeIDs)
	}
	if r.Category != "" && !policy.IsCategory(r.Category) {
		return likeness.Errorf(likeness.EINVALID, "unknown data_category %q; use one of %v", r.Category, policy.Categories)
	}
	if r.Country != "" && !isCountry(r.Country) {
		return likeness.Errorf(likeness.EINVALID, "country %q is not an ISO 3166-1 alpha-2 code such as DE or US", r.Country)
	}
	return nil
}

func isCountry(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}
