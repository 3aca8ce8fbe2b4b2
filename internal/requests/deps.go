package requests

import (
	"context"
	"time"

	"likeness"
)

// Subjects finds and rectifies subjects. *subjects.Registry implements it.
type Subjects interface {
	// Subject returns ENOTFOUND if absent and EGONE if erased.
	Subject(ctx context.Context, id string) (*likeness.Subject, error)
	// Rectify corrects locale or jurisdiction; an empty value keeps it.
	Rectify(ctx context.Context, id, locale, jurisdiction string) (*likeness.Subject, error)
}

// Withdrawer records a withdrawal. *consent.Service implements it.
type Withdrawer interface {
	Withdraw(ctx context.Context, req *likeness.WithdrawRequest) (*likeness.ConsentEvent, error)
}

// States answers a subject's consent state for a purpose from the decision
// index. *decision.Engine implements it.
type States interface {
	State(subjectID, purpose string, at time.Time) (state likeness.State, expires time.Time)
}

// Eraser erases a subject everywhere and returns the signed certificate; it
// is idempotent (a second call returns the same certificate).
type Eraser interface {
	EraseSubject(ctx context.Context, subjectID string) (certificate []byte, err error)
}
