package likeness

import "time"

// OperatorRole limits what a named operator may do in the console.
type OperatorRole string

const (
	OperatorAdmin          OperatorRole = "admin"           // everything, including operators and retries
	OperatorPrivacyOfficer OperatorRole = "privacy_officer" // reads subjects and their content, with a reason
	OperatorReviewer       OperatorRole = "reviewer"        // reads subjects and their content, with a reason
	OperatorAuditor        OperatorRole = "auditor"         // reads the logs and metadata, never content
)

// ValidOperatorRole reports whether r is a known operator role.
func ValidOperatorRole(r OperatorRole) bool {
	switch r {
	case OperatorAdmin, OperatorPrivacyOfficer, OperatorReviewer, OperatorAuditor:
		return true
	}
	return false
}

// Operator is a named person who signs in to the console with a password
// and a second factor. Secrets are never stored in the clear: the password
// as an argon2id hash that names its parameters, the TOTP secret wrapped by
// the deployment's key-encryption key, recovery codes as hashes.
type Operator struct {
	Name          string       `json:"name"`
	Role          OperatorRole `json:"role"`
	PasswordHash  string       `json:"-"`
	TOTPSealed    []byte       `json:"-"`
	TOTPConfirmed bool         `json:"totp_confirmed"`
	// TOTPStep is the last accepted time step: a code of that step or an
	// earlier one is refused, so a code cannot be used twice.
	TOTPStep    int64     `json:"-"`
	Failures    int       `json:"failures"` // consecutive failed sign-ins
	LockedUntil time.Time `json:"locked_until,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	DisabledAt  time.Time `json:"disabled_at,omitzero"`
}

// OperatorStore keeps operators and their recovery codes. Operators are
// never deleted, only disabled, so the audit log's names stay meaningful.
type OperatorStore interface {
	// InsertOperator stores op with its recovery code hashes; ECONFLICT if
	// the name is taken.
	InsertOperator(ctx Context, op *Operator, recoveryHashes [][]byte) error
	// Operator returns ENOTFOUND for an unknown name.
	Operator(ctx Context, name string) (*Operator, error)
	// Operators lists every operator, disabled ones included, by name.
	Operators(ctx Context) ([]*Operator, error)
	// UpdateOperator overwrites op's role, password hash, TOTP secret and
	// confirmation, failures, lock and disabled time (not TOTPStep: see
	// AcceptOperatorStep); ENOTFOUND if absent.
	UpdateOperator(ctx Context, op *Operator) error
	// AcceptOperatorStep records step as the last accepted TOTP step if it
	// is later than the stored one, atomically, and reports whether it was:
	// of two concurrent sign-ins with one code, one wins.
	AcceptOperatorStep(ctx Context, name string, step int64) (bool, error)
	// ReplaceRecoveryCodes drops the operator's recovery codes and stores
	// these hashes instead.
	ReplaceRecoveryCodes(ctx Context, name string, hashes [][]byte) error
	// UseRecoveryCode marks an unused code with this hash used at at and
	// reports whether one was; atomically, so a code works once.
	UseRecoveryCode(ctx Context, name string, hash []byte, at time.Time) (bool, error)
	// UnusedRecoveryCodes counts the operator's codes not used yet.
	UnusedRecoveryCodes(ctx Context, name string) (int, error)
}
