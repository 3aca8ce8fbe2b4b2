package httpapi

import (
	"context"
	"time"

	"likeness"
	"likeness/decision"
	"likeness/internal/erasure"
	"likeness/ledger"
	"likeness/policy"
)

// Subjects creates, finds and rectifies subjects. *subjects.Registry
// implements it.
type Subjects interface {
	// CreateSubject and CreateMinor are idempotent on the external id.
	CreateSubject(ctx context.Context, externalID, locale, jurisdiction string) (*likeness.Subject, bool, error)
	CreateMinor(ctx context.Context, externalID, locale, jurisdiction string) (*likeness.Subject, bool, error)
	// Subject and SubjectByExternalID return ENOTFOUND if absent and EGONE
	// if erased.
	Subject(ctx context.Context, id string) (*likeness.Subject, error)
	SubjectByExternalID(ctx context.Context, externalID string) (*likeness.Subject, error)
	Rectify(ctx context.Context, id, locale, jurisdiction string) (*likeness.Subject, error)
	// SetContact keeps a contact address (EINVALID if it is none);
	// ClearContact forgets it.
	SetContact(ctx context.Context, id, addr string) error
	ClearContact(ctx context.Context, id string) error
}

// Notices holds the policy in force and its notices. *consent.Notices
// implements it.
type Notices interface {
	Policy() *policy.Policy
	// Notice returns EINVALID for a language the policy does not offer.
	Notice(lang string) (*policy.Notice, error)
}

// Consent records consent and answers decisions. *consent.Service
// implements it.
type Consent interface {
	Grant(ctx context.Context, req *likeness.GrantRequest) ([]*likeness.ConsentEvent, error)
	Withdraw(ctx context.Context, req *likeness.WithdrawRequest) (*likeness.ConsentEvent, error)
	// HonourGPC records the opt-out a Global Privacy Control signal
	// carries and names the first of purposes it forbids granting.
	HonourGPC(ctx context.Context, subjectID string, purposes []string) (string, error)
	Consents(ctx context.Context, subjectID string) ([]likeness.PurposeState, []*likeness.ConsentEvent, error)
	Decide(r *likeness.DecisionRequest) (likeness.Decision, error)
	CheckDecision(r *likeness.DecisionRequest) error
}

// Index is the in-memory decision index, for batches and renewal lists.
// *decision.Engine implements it.
type Index interface {
	DecideBatch(rs []likeness.DecisionRequest, out []likeness.Decision)
	DueForRenewal(at time.Time, within time.Duration, limit int) []decision.Due
}

// Ledger serves checkpoints, proofs and receipts. *ledgerlog.Log
// implements it.
type Ledger interface {
	Signer() *ledger.Signer
	Tree() *ledger.Tree
	// Checkpoint signs one for the current tree (stored when force is set).
	Checkpoint(ctx context.Context, force bool) (ledger.Checkpoint, []byte, error)
	InclusionProof(index, size uint64) ([][32]byte, error)
	ConsistencyProof(from, to uint64) ([][32]byte, error)
	Receipts(ctx context.Context, p *policy.Policy, sub *likeness.Subject, evs []*likeness.ConsentEvent) ([]string, error)
}

// Eraser erases subjects and checks erasure certificates.
// *erasure.Service implements it.
type Eraser interface {
	EraseSubject(ctx context.Context, subjectID string) ([]byte, error)
	VerifyCertificate(cert []byte) (*erasure.Certificate, error)
}
