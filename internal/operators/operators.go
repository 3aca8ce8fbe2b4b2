// Package operators owns the named people who sign in to the console: their
// roles, their passwords (argon2id, parameters kept in the hash), their
// second factor (a TOTP secret wrapped by the deployment's key-encryption
// key, with the last accepted time step stored so no code works twice) and
// ten single-use recovery codes kept as hashes. Five failed attempts in a
// row lock an account for fifteen minutes; every sign-in, failed or not, and
// every change is written to the audit log, never with a password or code.
//
// An admin creates an operator (Create), which yields a temporary password,
// an otpauth:// URI for an authenticator app and the recovery codes, each
// shown once. The account works only after the operator confirms a code
// from the app and replaces the temporary password (Confirm).
package operators

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"likeness"
)

const (
	MaxFailures   = 5                // consecutive failed attempts before a lock
	LockFor       = 15 * time.Minute // how long a lock lasts
	IdleTimeout   = 30 * time.Minute // a session ends after this long unused
	MaxSession    = 12 * time.Hour   // and this long after sign-in, used or not
	RecoveryCodes = 10               // codes issued at enrolment
	MinPassword   = 12               // characters in a chosen password
)

// Sealer wraps small secrets under the deployment's key-encryption key.
// keys.KEK satisfies it. Implementations must be safe for concurrent use.
type Sealer interface {
	Wrap(ctx context.Context, plaintext, associatedData []byte) ([]byte, error)
	// Unwrap fails if sealed was altered or wrapped with other
	// associatedData.
	Unwrap(ctx context.Context, sealed, associatedData []byte) ([]byte, error)
}

// Config holds what a Service is built from. Store and Sealer are required.
type Config struct {
	Store  likeness.Store
	Sealer Sealer
	Issuer string // the name authenticator apps show; default "likeness"
	Params Params // argon2id cost; zero means DefaultParams
	Now    func() time.Time
	Logger *slog.Logger
}

// Service manages operators and checks their sign-ins. It is safe for
// concurrent use.
type Service struct {
	store  likeness.Store
	sealer Sealer
	issuer string
	params Params
	now    func() time.Time
	log    *slog.Logger
	// dummy is a hash checked for unknown names, so a guess at a name
	// takes as long as a guess at a password.
	dummy string
}

// New builds a Service; it panics on a missing Store or Sealer, a wiring
// mistake.
func New(cfg Config) *Service {
	if cfg.Store == nil || cfg.Sealer == nil {
		panic("operators: Config.Store and Config.Sealer are required")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "likeness"
	}
	if cfg.Params == (Params{}) {
		cfg.Params = DefaultParams
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dummy, err := HashPassword(randomText(16), cfg.Params)
	if err != nil {
		panic("operators: " + err.Error())
	}
	return &Service{store: cfg.Store, sealer: cfg.Sealer, issuer: cfg.Issuer, params: cfg.Params, now: cfg.Now, log: cfg.Logger, dummy: dummy}
}

// Enrolment is what an admin hands a new operator, once: nothing here is
// stored in the clear.
type Enrolment struct {
	Operator      *likeness.Operator
	Password      string   // temporary; replaced at confirmation
	URI           string   // otpauth://totp/… for an authenticator app
	RecoveryCodes []string // each works once
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,62}$`)

// Create adds an operator whose account works once they confirm their
// second factor. ECONFLICT if the name is taken, EINVALID for a bad name
// or role.
func (s *Service) Create(ctx context.Context, name string, role likeness.OperatorRole) (*Enrolment, error) {
	if !validName.MatchString(name) {
		return nil, likeness.Errorf(likeness.EINVALID, "an operator name is 2–63 lower-case letters, digits, dots, dashes or underscores, starting with a letter")
	}
	if !likeness.ValidOperatorRole(role) {
		return nil, likeness.Errorf(likeness.EINVALID, "the role must be admin, privacy_officer, reviewer or auditor")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.issuer, AccountName: name})
	if err != nil {
		return nil, fmt.Errorf("operators: generate totp secret: %w", err)
	}
	sealed, err := s.sealer.Wrap(ctx, []byte(key.Secret()), totpAD(name))
	if err != nil {
		return nil, fmt.Errorf("operators: seal totp secret: %w", err)
	}
	password := randomText(16)
	hash, err := HashPassword(password, s.params)
	if err != nil {
		return nil, fmt.Errorf("operators: hash password: %w", err)
	}
	codes, hashes := newRecoveryCodes(name)
	op := &likeness.Operator{Name: name, Role: role, PasswordHash: hash, TOTPSealed: sealed, CreatedAt: s.now().UTC()}
	if err := s.store.InsertOperator(ctx, op, hashes); err != nil {
		return nil, err
	}
	s.audit(ctx, fmt.Sprintf("operator create %s (%s)", name, role), "", true)
	return &Enrolment{Operator: op, Password: password, URI: key.URL(), RecoveryCodes: codes}, nil
}

// Confirm finishes enrolment: the temporary password and a current code
// from the authenticator app prove the operator holds both, and newPassword
// replaces the temporary one. Failed attempts count towards the lock.
func (s *Service) Confirm(ctx context.Context, name, password, code, newPassword string) error {
	if len([]rune(newPassword)) < MinPassword {
		return likeness.Errorf(likeness.EINVALID, "choose a password of at least %d characters", MinPassword)
	}
	op, err := s.checkPassword(ctx, name, password)
	if err != nil {
		return err
	}
	if op.TOTPConfirmed {
		return likeness.Errorf(likeness.ECONFLICT, "the second factor is confirmed already; sign in")
	}
	if ok, err := s.acceptTOTP(ctx, op, code); err != nil {
		return err
	} else if !ok {
		return s.fail(ctx, op, "wrong_code")
	}
	if err := s.admit(ctx, op); err != nil {
		return err
	}
	hash, err := HashPassword(newPassword, s.params)
	if err != nil {
		return fmt.Errorf("operators: hash password: %w", err)
	}
	op.PasswordHash, op.TOTPConfirmed, op.Failures, op.LockedUntil = hash, true, 0, time.Time{}
	if err := s.store.UpdateOperator(ctx, op); err != nil {
		return err
	}
	s.audit(ctx, "operator confirm second factor", name, true)
	return nil
}

// Active returns the operator a session belongs to if the account still
// works: present, confirmed and not disabled. ENOTFOUND otherwise.
func (s *Service) Active(ctx context.Context, name string) (*likeness.Operator, error) {
	op, err := s.store.Operator(ctx, name)
	if err != nil {
		return nil, err
	}
	if !op.TOTPConfirmed || !op.DisabledAt.IsZero() {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "operator not found")
	}
	return op, nil
}

// Disable ends an operator's account for good; their sessions end at the
// next request. Idempotent.
func (s *Service) Disable(ctx context.Context, name string) error {
	op, err := s.store.Operator(ctx, name)
	if err != nil {
		return err
	}
	if !op.DisabledAt.IsZero() {
		return nil
	}
	op.DisabledAt = s.now().UTC()
	if err := s.store.UpdateOperator(ctx, op); err != nil {
		return err
	}
	s.audit(ctx, "operator disable "+name, "", true)
	return nil
}

// audit records an operator event. The actor in ctx (an admin's key or
// operator, or nobody for a sign-in) is who acted; operator names whom a
// sign-in concerns. A failed record is logged, not returned: the event
// itself has happened.
func (s *Service) audit(ctx context.Context, action, operator string, allow bool, reasons ...string) {
	actor := likeness.ActorFrom(ctx)
	if operator == "" {
		operator = actor.Operator
	}
	e := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: s.now().UTC(), Action: action, KeyID: actor.KeyID, Role: actor.Role,
		Operator: operator, Allow: allow, Reasons: reasons}
	if err := s.store.AppendAccess(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("operators: could not record in the audit log", "action", action, "err", err)
	}
}

func totpAD(name string) []byte { return []byte("likeness operator totp v1:" + name) }

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomText returns n random base32 characters (5 bits each), lower-case.
func randomText(n int) string {
	b := make([]byte, (n*5+7)/8)
	if _, err := rand.Read(b); err != nil {
		panic("operators: crypto/rand failed: " + err.Error())
	}
	return strings.ToLower(b32.EncodeToString(b))[:n]
}
