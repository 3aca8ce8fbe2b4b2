// Package erasure erases subjects (GDPR Art. 17, BIPA destruction) with a
// crash-safe step machine: the request goes into the ledger, the farewells
// read what they still need under the subject's key (the address the
// erasure confirmation goes to), the subject's data key is destroyed
// (crypto-shredding every copy), the data erasers and
// listeners run, and a signed certificate is stored. Each step is
// idempotent and recorded, so an erasure cut short at any point completes
// when run again, and ResumeErasures finishes those begun before a crash.
package erasure

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"likeness"
	"likeness/ledger"
	"likeness/policy"
)

// Store is what erasure needs from storage.
type Store interface {
	likeness.ErasureStore
	// Subject returns ENOTFOUND if absent (erased subjects are returned).
	Subject(ctx likeness.Context, id string) (*likeness.Subject, error)
	// SubjectAssets returns the subject's assets, erased ones included.
	SubjectAssets(ctx likeness.Context, subjectID string) ([]*likeness.Asset, error)
	// SubjectEvents returns a subject's events in ledger order.
	SubjectEvents(ctx likeness.Context, subjectID string) ([]*likeness.ConsentEvent, error)
}

// Log is the ledger: erasure appends the request and signs the
// certificate with the deployment's key. *ledgerlog.Log implements it.
type Log interface {
	Append(ctx context.Context, evs []*likeness.ConsentEvent) error
	Signer() *ledger.Signer
}

// Index is the decision index; once a subject is marked erased every
// decision about them denies. *decision.Engine implements it.
type Index interface {
	EraseSubject(id string)
}

// Events brings the decision index and ledger tree up to date with stored
// events. *consent.Service implements it.
type Events interface {
	Sync(ctx context.Context) error
}

// Listener hears of an erasure as a step of it; a failure stops the erasure
// there and the next run retries. *dataset.Service implements it.
type Listener interface {
	ConsentRecorded(ctx context.Context, ev *likeness.ConsentEvent) error
}

// DataEraser deletes what a subject has outside the consent records (the
// vault's blobs and asset records). It must be idempotent: an erasure
// interrupted at any step runs it again. *vault.Vault implements it.
type DataEraser interface {
	EraseSubjectData(ctx context.Context, subjectID string) error
}

// Farewell hears of an erasure just before the subject's key is destroyed:
// the last moment anything sealed under it can be read (the mailer
// composes the erasure confirmation there). It must be idempotent and
// succeed when the key is already gone (a rerun after a crash); a failure
// stops the erasure before the key is destroyed, and the next run retries.
// *mail.Service implements it.
type Farewell interface {
	BeforeKeyDestroyed(ctx context.Context, rec *likeness.ErasureRecord) error
}

// Config holds what a Service is built from. Store, Log, Index, Events and
// Policy are required.
type Config struct {
	Store     Store
	Log       Log
	Index     Index
	Events    Events
	Policy    func() *policy.Policy // the policy in force: the controller's name
	Erasers   []DataEraser
	Listeners []Listener
	Farewells []Farewell
	Now       func() time.Time // nil is time.Now
	Logger    *slog.Logger
}

// Service erases subjects. Safe for concurrent use; concurrent erasures of
// one subject agree through the store's erasure record.
type Service struct {
	store     Store
	log       Log
	index     Index
	events    Events
	policy    func() *policy.Policy
	erasers   []DataEraser
	listeners []Listener
	farewells []Farewell
	now       func() time.Time
	logger    *slog.Logger
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Log == nil || cfg.Index == nil || cfg.Events == nil || cfg.Policy == nil {
		return nil, fmt.Errorf("erasure: Store, Log, Index, Events and Policy are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: cfg.Store, log: cfg.Log, index: cfg.Index, events: cfg.Events, policy: cfg.Policy,
		erasers: cfg.Erasers, listeners: cfg.Listeners, farewells: cfg.Farewells, now: cfg.Now, logger: cfg.Logger}, nil
}

// Certificate is the signed statement of an erasure (its "claims").
type Certificate struct {
	Version      string    `json:"version"` // "likeness-erasure/1"
	Controller   string    `json:"controller"`
	Subject      string    `json:"subject"` // the pseudonymous id; nothing else identifies the person
	Jurisdiction string    `json:"jurisdiction"`
	RequestedAt  time.Time `json:"requested_at"`
	CompletedAt  time.Time `json:"completed_at"`
	LedgerIndex  int64     `json:"ledger_index"` // the erasure request's leaf
	Destroyed    Destroyed `json:"destroyed"`
}

// Destroyed lists what an erasure destroyed.
type Destroyed struct {
	DataKey         bool     `json:"data_key"` // the subject's key: every copy of their data is unreadable
	Assets          []string `json:"assets"`   // asset ids whose blobs were deleted, derived ones included
	ConsentEvidence int      `json:"consent_evidence"`
}

// step marks the end of an erasure step ("ledger", "key", "data"). In
// crash-test builds (tag likeness_crashtest) afterStep may stop the process
// there; in every other build it does nothing.
func step(name string) error {
	afterStep(name)
	return nil
}

// EraseSubject erases a subject: it records the request in the ledger,
// destroys the subject's data key (so every blob, backup and replica is
// unreadable at once), runs the data erasers (blobs, derived
// assets), marks the subject erased and returns the signed certificate (a
// compact JWS). It is idempotent and safe to rerun after a crash at any step;
// a second call returns the same certificate. It is kept as one function
// because it is a step machine read top to bottom: each step, and where a
// crash may stop it, is visible in order.
func (s *Service) EraseSubject(ctx context.Context, subjectID string) ([]byte, error) {
	if !likeness.ValidID("sub", subjectID) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "subject not found")
	}
	sub, err := s.store.Subject(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	rec, err := s.store.BeginErasure(ctx, sub.ID, s.now().UTC())
	if err != nil {
		return nil, err
	}
	if !rec.CompletedAt.IsZero() {
		return rec.Certificate, nil
	}
	// 1. The request, in the ledger (once).
	if rec.LedgerIndex < 0 {
		ev := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub.ID, Type: likeness.Erasure,
			Collector: likeness.ActorFrom(ctx).KeyID, Time: s.now().UTC()}
		if err := s.log.Append(ctx, []*likeness.ConsentEvent{ev}); err != nil {
			return nil, err
		}
		if err := s.store.SetErasureLedgerIndex(ctx, sub.ID, ev.LedgerIndex); err != nil {
			return nil, err
		}
		rec.LedgerIndex = ev.LedgerIndex
	}
	// A "no" is immediate: decisions deny from here on.
	s.index.EraseSubject(sub.ID)
	if err := step("ledger"); err != nil {
		return nil, err
	}
	// 2. Crypto-shredding: without the key nothing of the subject decrypts.
	// What must still be read under it (the address the confirmation goes
	// to) is read first.
	for _, f := range s.farewells {
		if err := f.BeforeKeyDestroyed(ctx, rec); err != nil {
			return nil, fmt.Errorf("erasure: before destroying the key: %w", err)
		}
	}
	if err := s.store.DestroySubjectKey(ctx, sub.ID); err != nil {
		return nil, err
	}
	if err := step("key"); err != nil {
		return nil, err
	}
	// 3. Blobs and derived assets.
	for _, e := range s.erasers {
		if err := e.EraseSubjectData(ctx, sub.ID); err != nil {
			return nil, fmt.Errorf("erasure: erase subject data: %w", err)
		}
	}
	// Listeners (datasets holding the subject) are a step like the others:
	// a failure stops the erasure here, and the next run tries again.
	erasure := &likeness.ConsentEvent{SubjectID: sub.ID, Type: likeness.Erasure, Time: rec.RequestedAt, LedgerIndex: rec.LedgerIndex}
	var failed error
	for _, l := range s.listeners {
		if err := l.ConsentRecorded(ctx, erasure); err != nil && failed == nil {
			failed = err
		}
	}
	if failed != nil {
		return nil, fmt.Errorf("erasure: listeners: %w", failed)
	}
	if err := step("data"); err != nil {
		return nil, err
	}
	// 4. The certificate and the pseudonymous record.
	cert := Certificate{Version: "likeness-erasure/1", Controller: s.policy().Organization.Name, Subject: sub.ID,
		Jurisdiction: sub.Jurisdiction, RequestedAt: rec.RequestedAt, CompletedAt: s.now().UTC(), LedgerIndex: rec.LedgerIndex,
		Destroyed: Destroyed{DataKey: true, Assets: []string{}}}
	assets, err := s.store.SubjectAssets(ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range assets {
		cert.Destroyed.Assets = append(cert.Destroyed.Assets, a.ID)
	}
	hist, err := s.store.SubjectEvents(ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	for _, ev := range hist {
		if len(ev.Sealed) > 0 {
			cert.Destroyed.ConsentEvidence++
		}
	}
	payload, err := json.Marshal(cert)
	if err != nil {
		return nil, err
	}
	signed, err := s.log.Signer().SignStatement(ledger.CertificateType, payload)
	if err != nil {
		return nil, err
	}
	if err := s.store.FinishErasure(ctx, sub.ID, cert.CompletedAt, []byte(signed)); err != nil {
		return nil, err
	}
	done, err := s.store.Erasure(ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	if err := s.events.Sync(ctx); err != nil {
		s.logger.Warn("ledger sync after erasure failed", "err", err)
	}
	return done.Certificate, nil
}

// ResumeErasures completes every erasure that was begun but not finished,
// for example because the process stopped in the middle of one.
func (s *Service) ResumeErasures(ctx context.Context) (int, error) {
	pending, err := s.store.PendingErasures(ctx)
	if err != nil {
		return 0, err
	}
	for i, e := range pending {
		if _, err := s.EraseSubject(ctx, e.SubjectID); err != nil {
			return i, err
		}
	}
	return len(pending), nil
}

// VerifyCertificate checks an erasure certificate's signature with this
// deployment's ledger key and returns its claims.
func (s *Service) VerifyCertificate(cert []byte) (*Certificate, error) {
	payload, err := s.log.Signer().Verifier().VerifyStatement(ledger.CertificateType, string(cert))
	if err != nil {
		return nil, err
	}
	var c Certificate
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, err
	}
	return &c, nil
}
