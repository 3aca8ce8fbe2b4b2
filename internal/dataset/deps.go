package dataset

import (
	"context"

	"likeness"
	"likeness/internal/subjects"
)

// Subjects finds subjects and seals their attributes under their own data
// key. *subjects.Registry implements it.
type Subjects interface {
	// Subject returns ENOTFOUND if absent and EGONE if erased.
	Subject(ctx context.Context, id string) (*likeness.Subject, error)
	// Cipher returns EGONE once the subject's key was destroyed; the caller
	// closes it.
	Cipher(ctx context.Context, subjectID string) (*subjects.Cipher, error)
}
