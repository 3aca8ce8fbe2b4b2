package console

import (
	"context"
	"time"

	"likeness"
	"likeness/decision"
)

// Subjects finds subjects. *subjects.Registry implements it.
type Subjects interface {
	// Subject returns ENOTFOUND if absent and EGONE if erased.
	Subject(ctx context.Context, id string) (*likeness.Subject, error)
	// SubjectByExternalID returns ENOTFOUND if no subject has that id.
	SubjectByExternalID(ctx context.Context, externalID string) (*likeness.Subject, error)
}

// Consents reads a subject's consent state and history, evidence opened.
// *consent.Service implements it.
type Consents interface {
	Consents(ctx context.Context, subjectID string) ([]likeness.PurposeState, []*likeness.ConsentEvent, error)
}

// Index counts subjects and grants and lists consents due for renewal.
// *decision.Engine implements it.
type Index interface {
	Stats() (subjects, grants int)
	DueForRenewal(at time.Time, within time.Duration, limit int) []decision.Due
}
