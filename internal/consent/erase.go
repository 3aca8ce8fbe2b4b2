package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"likeness"
	"likeness/ledger"
)

// DataEraser deletes what a subject has outside the consent records (the
// vault's blobs and asset records). It must be idempotent: an erasure
// interrupted at any step runs it again.
type DataEraser interface {
	EraseSubjectData(ctx context.Context, subjectID string) error
	// ErasePurposeData erases what was collected only for purpose, when a
	// withdrawal of a purpose whose policy says on_withdraw: erase.
	ErasePurposeData(ctx context.Context, subjectID, purpose string) error
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

// stepHook, when set, runs after each erasure step ("ledger", "key",
// "data"); crash tests use it to stop the process between steps.
var stepHook func(step string)

// SetStepHook installs f to run after each step of an erasure. It exists so
// tests can kill the process in the middle of one; never set it otherwise.
func SetStepHook(f func(step string)) { stepHook = f }

func step(name string) error {
	if stepHook != nil {
		stepHook(name)
	}
	return nil
}

// EraseSubject erases a subject: it records the request in the ledger,
// destroys the subject's data key (so every blob, backup and replica is
// unreadable at once), runs the registered data erasers (blobs, derived
// assets), marks the subject erased and returns the signed certificate (a
// compact JWS). It is idempotent and safe to rerun after a crash at any step;
// a second call returns the same certificate.
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
	s.engine.EraseSubject(sub.ID)
	if err := step("ledger"); err != nil {
		return nil, err
	}
	// 2. Crypto-shredding: without the key nothing of the subject decrypts.
	if err := s.store.DestroySubjectKey(ctx, sub.ID); err != nil {
		return nil, err
	}
	if err := step("key"); err != nil {
		return nil, err
	}
	// 3. Blobs and derived assets.
	for _, e := range s.erasers {
		if err := e.EraseSubjectData(ctx, sub.ID); err != nil {
			return nil, fmt.Errorf("consent: erase subject data: %w", err)
		}
	}
	// Listeners (datasets holding the subject) are a step like the others:
	// a failure stops the erasure here, and the next run tries again.
	erasure := &likeness.ConsentEvent{SubjectID: sub.ID, Type: likeness.Erasure, Time: rec.RequestedAt, LedgerIndex: rec.LedgerIndex}
	if err := s.tell(ctx, erasure); err != nil {
		return nil, fmt.Errorf("consent: erasure listeners: %w", err)
	}
	if err := step("data"); err != nil {
		return nil, err
	}
	// 4. The certificate and the pseudonymous record.
	cert := Certificate{Version: "likeness-erasure/1", Controller: s.notices.Policy().Organization.Name, Subject: sub.ID,
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
	if err := s.Sync(ctx); err != nil {
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
