// Package consent records people's consent and answers decisions. It is the
// one place that applies the product's rules to a write: it checks a request
// against the policy and the current notice, seals personal fields under the
// subject's own data key, appends the event to the ledger in the same
// transaction, and only then updates the in-memory decision index, so a
// withdrawal that has returned is seen by the very next decision.
package consent

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"likeness"
	"likeness/decision"
	"likeness/internal/keys"
	"likeness/policy"
)

// Config holds what a Service is built from.
type Config struct {
	Store  likeness.Store
	KEK    keys.KEK
	Policy *policy.Policy
	// Now and Rand are injected so tests control time and randomness.
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
	// LedgerName names the deployment in checkpoints ("likeness.example").
	LedgerName string
}

// Service implements subject and consent operations. Safe for concurrent use.
type Service struct {
	store  likeness.Store
	kek    keys.KEK
	now    func() time.Time
	rand   io.Reader
	log    *slog.Logger
	engine *decision.Engine

	lookupKey []byte // HMAC key for the organization's user ids
	erasers   []DataEraser
	listeners []Listener

	mu      sync.RWMutex
	policy  *policy.Policy
	version *likeness.NoticeVersion
	notices map[string]*policy.Notice

	Ledger *Ledger
}

// New builds a Service: it loads or creates the deployment's keys, publishes
// the policy's notice as a new version if it changed, and loads the decision
// index from the store.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.KEK == nil || cfg.Policy == nil {
		return nil, fmt.Errorf("consent: Store, KEK and Policy are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LedgerName == "" {
		cfg.LedgerName = "likeness"
	}
	s := &Service{store: cfg.Store, kek: cfg.KEK, now: cfg.Now, rand: cfg.Rand, log: cfg.Logger}
	var err error
	if s.lookupKey, err = s.deploymentKey(ctx, "lookup_key"); err != nil {
		return nil, err
	}
	signSeed, err := s.deploymentKey(ctx, "ledger_signing_seed")
	if err != nil {
		return nil, err
	}
	// The name is fixed at first start: it is part of the verifier key.
	name, err := cfg.Store.InitSetting(ctx, "ledger_name", []byte(cfg.LedgerName))
	if err != nil {
		return nil, fmt.Errorf("consent: ledger name: %w", err)
	}
	if s.Ledger, err = newLedger(cfg.Store, string(name), signSeed, cfg.Now); err != nil {
		return nil, err
	}
	s.engine = decision.New(cfg.Policy)
	if err := s.SetPolicy(ctx, cfg.Policy); err != nil {
		return nil, err
	}
	if err := s.loadIndex(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// deploymentKey returns a 32-byte secret shared by every replica: created
// once, stored wrapped by the KEK under name.
func (s *Service) deploymentKey(ctx context.Context, name string) ([]byte, error) {
	fresh, err := keys.NewDEK(s.rand)
	if err != nil {
		return nil, err
	}
	wrapped, err := s.kek.Wrap(ctx, fresh, []byte("setting:"+name))
	if err != nil {
		return nil, fmt.Errorf("consent: wrap %s: %w", name, err)
	}
	stored, err := s.store.InitSetting(ctx, name, wrapped)
	if err != nil {
		return nil, fmt.Errorf("consent: store %s: %w", name, err)
	}
	return unwrapSetting(ctx, s.kek, name, stored)
}

func unwrapSetting(ctx context.Context, kek keys.KEK, name string, stored []byte) ([]byte, error) {
	key, err := kek.Unwrap(ctx, stored, []byte("setting:"+name))
	if err != nil {
		return nil, fmt.Errorf("consent: unwrap %s (is this the key file that created the database?): %w", name, err)
	}
	return key, nil
}

func readDeploymentKey(ctx context.Context, store likeness.Store, kek keys.KEK, name string) ([]byte, error) {
	stored, err := store.Setting(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("consent: read %s: %w", name, err)
	}
	return unwrapSetting(ctx, kek, name, stored)
}

// deploymentSettings are the settings that hold keys wrapped by the KEK.
var deploymentSettings = []string{"lookup_key", "ledger_signing_seed"}

// RewrapAll rewraps every key wrapped by the KEK (subjects' data keys and
// the deployment keys) with its current primary version. Safe to rerun.
func RewrapAll(ctx context.Context, store likeness.Store, kek keys.KEK) (int, error) {
	n := 0
	for _, name := range deploymentSettings {
		stored, err := store.Setting(ctx, name)
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			continue
		}
		if err != nil {
			return n, err
		}
		w, err := kek.Rewrap(ctx, stored, []byte("setting:"+name))
		if err != nil {
			return n, fmt.Errorf("consent: rewrap %s: %w", name, err)
		}
		if err := store.PutSetting(ctx, name, w); err != nil {
			return n, err
		}
		n++
	}
	m, err := store.RewrapSubjectKeys(ctx, func(id string, w []byte) ([]byte, error) {
		return kek.Rewrap(ctx, w, subjectAD(id))
	})
	return n + m, err
}

// Engine returns the decision index, for in-process decisions.
func (s *Service) Engine() *decision.Engine { return s.engine }

// Policy returns the policy in force.
func (s *Service) Policy() *policy.Policy {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.policy
}

// SetPolicy renders the notices of p, publishes them as a new notice version
// if they differ from the latest, and makes p the policy in force.
func (s *Service) SetPolicy(ctx context.Context, p *policy.Policy) error {
	notices := map[string]*policy.Notice{}
	nv := &likeness.NoticeVersion{CreatedAt: s.now().UTC(), Texts: map[string]string{}, Material: map[string]string{}}
	sum := sha256.Sum256(p.Source)
	nv.PolicySHA256 = hex.EncodeToString(sum[:])
	for _, lang := range p.Languages {
		n, err := p.Notice(lang)
		if err != nil {
			return fmt.Errorf("consent: render notice %s: %w", lang, err)
		}
		notices[lang] = n
		nv.Texts[lang] = n.SHA256
	}
	for _, id := range p.PurposeIDs {
		nv.Material[id] = p.Material(id)
	}
	published, err := s.store.PublishNotice(ctx, nv)
	if err != nil {
		return fmt.Errorf("consent: publish notice: %w", err)
	}
	for _, n := range notices {
		n.Version = published.Version
	}
	s.mu.Lock()
	s.policy, s.version, s.notices = p, published, notices
	s.mu.Unlock()
	s.engine.SetPolicy(p, published.MaterialSince)
	return nil
}

// Notice returns the current notice in lang ("" for the default language).
func (s *Service) Notice(lang string) (*policy.Notice, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if lang == "" {
		lang = s.policy.Languages[0]
	}
	n, ok := s.notices[lang]
	if !ok {
		return nil, likeness.Errorf(likeness.EINVALID, "no notice in language %q; offered: %v", lang, s.policy.Languages)
	}
	return n, nil
}

// NoticeFor returns the notice in the subject's locale if offered, else the
// default language.
func (s *Service) NoticeFor(locale string) *policy.Notice {
	if n, err := s.Notice(locale); err == nil {
		return n
	}
	n, _ := s.Notice("")
	return n
}

func (s *Service) loadIndex(ctx context.Context) error {
	if err := s.store.ForEachSubject(ctx, func(sub *likeness.Subject) error {
		s.engine.PutSubject(sub.ID, sub.Jurisdiction)
		if sub.Erased() {
			s.engine.EraseSubject(sub.ID)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("consent: load subjects: %w", err)
	}
	return s.Sync(ctx)
}

// Sync applies events committed since the last call (by this replica or
// another one sharing the database) to the decision index and the ledger
// tree. Replicas call it on a short timer; writes call it before returning.
func (s *Service) Sync(ctx context.Context) error {
	return s.Ledger.sync(ctx, func(ev *likeness.ConsentEvent) error {
		if !s.engine.HasSubject(ev.SubjectID) {
			sub, err := s.store.Subject(ctx, ev.SubjectID)
			if err != nil {
				return err
			}
			s.engine.PutSubject(sub.ID, sub.Jurisdiction)
		}
		s.engine.Apply(ev)
		return nil
	})
}

// followOverlap re-reads this much before the last poll, so a replica whose
// clock runs behind is not missed; applying a change twice is harmless.
const followOverlap = 10 * time.Second

// Follow calls Sync every interval until ctx ends, so a withdrawal or a
// rectified jurisdiction on another replica reaches this one's decisions.
func (s *Service) Follow(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	since := s.now().Add(-followOverlap)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := s.now()
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sync with the database failed", "err", err)
		}
		if err := s.SyncSubjects(ctx, since); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("following rectified subjects failed", "err", err)
			}
			continue
		}
		since = next.Add(-followOverlap)
	}
}

// SyncSubjects applies to the decision index every subject rectified since
// the given time, on any replica.
func (s *Service) SyncSubjects(ctx context.Context, since time.Time) error {
	subs, err := s.store.SubjectsUpdatedSince(ctx, since)
	if err != nil {
		return err
	}
	for _, sub := range subs {
		s.engine.PutSubject(sub.ID, sub.Jurisdiction)
	}
	return nil
}

// ExternalHash is the keyed hash under which an organization's user id is
// stored: look-ups work, the id itself is never kept.
func (s *Service) ExternalHash(externalID string) string {
	m := hmac.New(sha256.New, s.lookupKey)
	m.Write([]byte(externalID))
	return hex.EncodeToString(m.Sum(nil))
}

// CreateSubject implements likeness.SubjectService.
func (s *Service) CreateSubject(ctx context.Context, externalID, locale, jurisdiction string) (*likeness.Subject, bool, error) {
	return s.createSubject(ctx, externalID, locale, jurisdiction, false)
}

// CreateMinor is CreateSubject for a minor, whose consent only a guardian
// gives: each grant must name the guardian in evidence.guardian.
func (s *Service) CreateMinor(ctx context.Context, externalID, locale, jurisdiction string) (*likeness.Subject, bool, error) {
	return s.createSubject(ctx, externalID, locale, jurisdiction, true)
}

func (s *Service) createSubject(ctx context.Context, externalID, locale, jurisdiction string, guardian bool) (*likeness.Subject, bool, error) {
	if externalID == "" || len(externalID) > 256 {
		return nil, false, likeness.Errorf(likeness.EINVALID, "external_id is required (at most 256 characters)")
	}
	if _, err := likeness.ParseJurisdiction(jurisdiction); err != nil {
		return nil, false, err
	}
	if locale == "" {
		locale = s.Policy().Languages[0]
	}
	if len(locale) > 16 {
		return nil, false, likeness.Errorf(likeness.EINVALID, "locale %q is too long", locale)
	}
	hash := s.ExternalHash(externalID)
	if existing, err := s.store.SubjectByExternalHash(ctx, hash); err == nil {
		return s.visible(existing)
	}
	id := likeness.NewID("sub")
	dek, err := keys.NewDEK(s.rand)
	if err != nil {
		return nil, false, err
	}
	defer keys.Wipe(dek)
	wrapped, err := s.kek.Wrap(ctx, dek, subjectAD(id))
	if err != nil {
		return nil, false, fmt.Errorf("consent: wrap subject key: %w", err)
	}
	sub := &likeness.Subject{ID: id, ExternalHash: hash, Locale: locale, Jurisdiction: jurisdiction, Guardian: guardian, CreatedAt: s.now().UTC()}
	out, created, err := s.store.InsertSubject(ctx, sub, wrapped)
	if err != nil {
		return nil, false, err
	}
	if !created {
		return s.visible(out)
	}
	s.engine.PutSubject(out.ID, out.Jurisdiction)
	return out, true, nil
}

func (s *Service) visible(sub *likeness.Subject) (*likeness.Subject, bool, error) {
	if sub.Erased() {
		return nil, false, likeness.Errorf(likeness.EGONE, "subject was erased")
	}
	return sub, false, nil
}

func subjectAD(id string) []byte { return []byte("subject:" + id) }

// Subject implements likeness.SubjectService.
func (s *Service) Subject(ctx context.Context, id string) (*likeness.Subject, error) {
	if !likeness.ValidID("sub", id) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "subject not found")
	}
	sub, err := s.store.Subject(ctx, id)
	if err != nil {
		return nil, err
	}
	if sub.Erased() {
		return nil, likeness.Errorf(likeness.EGONE, "subject was erased")
	}
	return sub, nil
}

// Rectify corrects a subject's locale or jurisdiction (GDPR Art. 16); an
// empty value keeps the current one. Decisions use the new jurisdiction at
// once (transfer rules, BIPA).
func (s *Service) Rectify(ctx context.Context, id, locale, jurisdiction string) (*likeness.Subject, error) {
	sub, err := s.Subject(ctx, id)
	if err != nil {
		return nil, err
	}
	if locale == "" {
		locale = sub.Locale
	}
	if jurisdiction == "" {
		jurisdiction = sub.Jurisdiction
	}
	if _, err := likeness.ParseJurisdiction(jurisdiction); err != nil {
		return nil, err
	}
	if len(locale) > 16 {
		return nil, likeness.Errorf(likeness.EINVALID, "locale %q is too long", locale)
	}
	if err := s.store.UpdateSubject(ctx, sub.ID, locale, jurisdiction, s.now().UTC()); err != nil {
		return nil, err
	}
	s.engine.PutSubject(sub.ID, jurisdiction)
	sub.Locale, sub.Jurisdiction = locale, jurisdiction
	return sub, nil
}

// SubjectByExternalID implements likeness.SubjectService.
func (s *Service) SubjectByExternalID(ctx context.Context, externalID string) (*likeness.Subject, error) {
	sub, err := s.store.SubjectByExternalHash(ctx, s.ExternalHash(externalID))
	if err != nil {
		return nil, err
	}
	if sub.Erased() {
		return nil, likeness.Errorf(likeness.EGONE, "subject was erased")
	}
	return sub, nil
}

// SubjectKey unwraps the subject's data key. The caller wipes it.
func (s *Service) SubjectKey(ctx context.Context, subjectID string) ([]byte, error) {
	w, err := s.store.SubjectKey(ctx, subjectID)
	if err != nil {
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			return nil, likeness.Errorf(likeness.EGONE, "the subject's key was destroyed")
		}
		return nil, err
	}
	return s.kek.Unwrap(ctx, w, subjectAD(subjectID))
}

// Grant records consent to each purpose of req as its own event. A purpose
// whose consent already exists is recorded as a renewal.
func (s *Service) Grant(ctx context.Context, req *likeness.GrantRequest) ([]*likeness.ConsentEvent, error) {
	sub, err := s.Subject(ctx, req.SubjectID)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	p, version := s.policy, s.version
	s.mu.RUnlock()
	if len(req.Purposes) == 0 {
		return nil, likeness.Errorf(likeness.EINVALID, "purposes is empty: name at least one purpose")
	}
	for i, id := range req.Purposes {
		if _, ok := p.Purpose(id); !ok {
			return nil, likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", id, p.PurposeIDs)
		}
		if slices.Contains(req.Purposes[:i], id) {
			return nil, likeness.Errorf(likeness.EINVALID, "purpose %q is listed twice", id)
		}
	}
	if !likeness.ValidMethod(req.Method) {
		return nil, likeness.Errorf(likeness.EINVALID, "method %q is not one of checkbox, verbal, written, import", req.Method)
	}
	switch req.Method {
	case likeness.Verbal:
		if req.Evidence["recording"] == "" {
			return nil, likeness.Errorf(likeness.EINVALID, "verbal consent needs evidence.recording (the id of the recording)")
		}
	case likeness.Written:
		if req.Evidence["signature"] == "" && req.Evidence["document"] == "" {
			return nil, likeness.Errorf(likeness.EINVALID, "written consent needs evidence.signature or evidence.document")
		}
	}
	if sub.Guardian && req.Evidence["guardian"] == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "this subject is a minor: their guardian gives consent; name the guardian in evidence.guardian")
	}
	if req.Language == "" || !p.HasLanguage(req.Language) {
		return nil, likeness.Errorf(likeness.EINVALID, "language %q is not offered; use one of %v", req.Language, p.Languages)
	}
	if err := checkEvidence(req.Evidence); err != nil {
		return nil, err
	}
	if req.NoticeVersion != version.Version {
		return nil, likeness.Errorf(likeness.ECONFLICT, "notice version %d is not the current one (%d): show the person the current notice and ask again", req.NoticeVersion, version.Version)
	}
	if req.NoticeSHA256 != version.Texts[req.Language] {
		return nil, likeness.Errorf(likeness.ECONFLICT, "notice_sha256 does not match the current %s notice (version %d)", req.Language, version.Version)
	}
	now := s.now().UTC()
	collector := likeness.ActorFrom(ctx).KeyID
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
	}
	if err := s.append(ctx, evs); err != nil {
		return nil, err
	}
	return evs, nil
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
	sub, err := s.Subject(ctx, req.SubjectID)
	if err != nil {
		return nil, err
	}
	p := s.Policy()
	if _, ok := p.Purpose(req.Purpose); !ok {
		return nil, likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", req.Purpose, p.PurposeIDs)
	}
	if req.Method == "" {
		req.Method = likeness.Checkbox
	}
	if !likeness.ValidMethod(req.Method) && req.Method != likeness.GPC {
		return nil, likeness.Errorf(likeness.EINVALID, "method %q is not one of checkbox, verbal, written, import, gpc", req.Method)
	}
	if err := checkEvidence(req.Evidence); err != nil {
		return nil, err
	}
	ev := &likeness.ConsentEvent{
		ID: likeness.NewID("evt"), SubjectID: sub.ID, Purpose: req.Purpose, Type: likeness.Withdraw,
		Method: req.Method, Collector: likeness.ActorFrom(ctx).KeyID, Evidence: req.Evidence, Time: s.now().UTC(),
	}
	if err := s.append(ctx, []*likeness.ConsentEvent{ev}); err != nil {
		return nil, err
	}
	if pp, _ := p.Purpose(req.Purpose); pp.OnWithdraw == "erase" {
		s.mu.RLock()
		erasers := s.erasers
		s.mu.RUnlock()
		for _, e := range erasers {
			if err := e.ErasePurposeData(ctx, sub.ID, req.Purpose); err != nil {
				// The withdrawal stands (decisions already deny); the sweep
				// of its data can be retried by withdrawing again.
				return ev, fmt.Errorf("consent: erase data of withdrawn purpose: %w", err)
			}
		}
	}
	return ev, nil
}

// ApplyGPC records a Global Privacy Control opt-out: for a California
// subject, a withdrawal (method gpc) of every purpose the policy marks as
// sale_or_share that is not already withdrawn. Other subjects: nothing.
func (s *Service) ApplyGPC(ctx context.Context, subjectID string) ([]*likeness.ConsentEvent, error) {
	sub, err := s.Subject(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	if j, err := likeness.ParseJurisdiction(sub.Jurisdiction); err != nil || j.Regime != "US" || j.Region != "CA" {
		return nil, nil
	}
	var out []*likeness.ConsentEvent
	p := s.Policy()
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
	dek, err := s.SubjectKey(ctx, evs[0].SubjectID)
	if err != nil {
		return err
	}
	defer keys.Wipe(dek)
	for _, ev := range evs {
		if len(ev.Evidence) == 0 {
			continue
		}
		plain, err := json.Marshal(ev.Evidence)
		if err != nil {
			return err
		}
		if ev.Sealed, err = keys.Seal(dek, plain, eventAD(ev.ID), s.rand); err != nil {
			return fmt.Errorf("consent: seal evidence: %w", err)
		}
	}
	if err := s.store.AppendEvents(ctx, evs); err != nil {
		return err
	}
	// The events are durable; apply them here at once so the next decision
	// sees them even if the sync below fails.
	for _, ev := range evs {
		s.engine.Apply(ev)
	}
	s.notify(ctx, evs)
	if err := s.Sync(ctx); err != nil {
		s.log.Warn("ledger sync after append failed", "err", err)
	}
	return nil
}

// Listener hears of consent events once they are durable, on the replica
// that recorded them (datasets use it to taint what a withdrawal touches).
type Listener interface {
	ConsentRecorded(ctx context.Context, ev *likeness.ConsentEvent) error
}

// AddListener registers l.
func (s *Service) AddListener(l Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, l)
}

// notify tells listeners of events whose write has already returned; a
// listener's failure is logged, the event stands.
func (s *Service) notify(ctx context.Context, evs []*likeness.ConsentEvent) {
	for _, ev := range evs {
		if err := s.tell(ctx, ev); err != nil {
			s.log.Error("consent listener failed", "event", ev.ID, "type", ev.Type, "err", err)
		}
	}
}

// tell runs every listener on ev and returns the first failure.
func (s *Service) tell(ctx context.Context, ev *likeness.ConsentEvent) error {
	s.mu.RLock()
	ls := s.listeners
	s.mu.RUnlock()
	var first error
	for _, l := range ls {
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
	sub, err := s.Subject(ctx, subjectID)
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
	p := s.Policy()
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
	var dek []byte
	for _, ev := range evs {
		if len(ev.Sealed) == 0 {
			continue
		}
		if dek == nil {
			var err error
			if dek, err = s.SubjectKey(ctx, subjectID); err != nil {
				return err
			}
			defer keys.Wipe(dek)
		}
		plain, err := keys.Open(dek, ev.Sealed, eventAD(ev.ID))
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
	p := s.Policy()
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

var _ = bytes.Equal
