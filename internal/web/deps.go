package web

import (
	"context"

	"likeness"
	"likeness/policy"
)

// Consent records grants and withdrawals and reads a subject's consents.
// *consent.Service implements it.
type Consent interface {
	Grant(ctx context.Context, req *likeness.GrantRequest) ([]*likeness.ConsentEvent, error)
	Withdraw(ctx context.Context, req *likeness.WithdrawRequest) (*likeness.ConsentEvent, error)
	// Consents returns the state per purpose and the history, evidence opened.
	Consents(ctx context.Context, subjectID string) ([]likeness.PurposeState, []*likeness.ConsentEvent, error)
	// HonourGPC records the opt-out a Global Privacy Control signal
	// carries and names the first of purposes it forbids granting.
	HonourGPC(ctx context.Context, subjectID string, purposes []string) (string, error)
}

// Subjects finds subjects. *subjects.Registry implements it.
type Subjects interface {
	// Subject returns ENOTFOUND if absent and EGONE if erased.
	Subject(ctx context.Context, id string) (*likeness.Subject, error)
}

// Notices holds the policy in force and its notices. *consent.Notices
// implements it.
type Notices interface {
	Policy() *policy.Policy
	// NoticeFor returns the notice in locale if offered, else the default.
	NoticeFor(locale string) *policy.Notice
}

// ReceiptSigner signs a receipt per event, proving its inclusion in the
// ledger. *ledgerlog.Log implements it.
type ReceiptSigner interface {
	Receipts(ctx context.Context, p *policy.Policy, sub *likeness.Subject, evs []*likeness.ConsentEvent) ([]string, error)
	// Origin is the ledger's origin, unique per deployment.
	Origin() string
	// JWKS is the ledger's public key set, which the portal gives the
	// browser to check receipts without asking the server.
	JWKS() []byte
}

// services are the consent services the pages use, under one name.
type services struct {
	Consent
	Subjects
	Notices
	ReceiptSigner
}
