package operators

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"likeness"
)

// period is the TOTP time step (RFC 6238's default, which apps assume).
const period = 30

// SignIn checks an operator's password and a code: a current TOTP code
// (six digits) or one of their unused recovery codes. It returns the
// operator, or EUNAUTHORIZED for a wrong name, password or code (the
// message does not say which) and EFORBIDDEN for a locked, disabled or
// not yet confirmed account, said only to whoever gave its password and a
// good code: a stranger learns nothing of which names exist, cannot tell
// that a lock they caused has begun, and gains nothing by guessing on
// through it (each wrong password still counts, and extends the lock).
// Every attempt is audited.
func (s *Service) SignIn(ctx context.Context, name, password, code string) (*likeness.Operator, error) {
	op, err := s.checkPassword(ctx, name, password)
	if err != nil {
		return nil, err
	}
	if !op.TOTPConfirmed {
		s.audit(ctx, "console: sign in", name, false, "second_factor_not_confirmed")
		return nil, likeness.Errorf(likeness.EFORBIDDEN, "this account has no confirmed second factor yet: finish enrolment first")
	}
	code = strings.TrimSpace(code)
	var ok bool
	how := "totp"
	if isTOTPCode(code) {
		ok, err = s.acceptTOTP(ctx, op, code)
	} else {
		how = "recovery_code"
		ok, err = s.store.UseRecoveryCode(ctx, name, recoveryHash(name, code), s.now().UTC())
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.fail(ctx, op, "wrong_code")
	}
	if err := s.admit(ctx, op); err != nil {
		return nil, err
	}
	if op.Failures != 0 {
		op.Failures = 0
		if err := s.store.UpdateOperator(ctx, op); err != nil {
			return nil, err
		}
	}
	s.audit(ctx, "console: sign in", name, true, how)
	return op, nil
}

// checkPassword returns the operator if the password matches, whatever
// the account's state (see admit); a wrong one is counted towards the lock,
// audited, and answered errWrong, as an unknown name is.
func (s *Service) checkPassword(ctx context.Context, name, password string) (*likeness.Operator, error) {
	op, err := s.store.Operator(ctx, name)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		CheckPassword(s.dummy, password)
		// The typed name is not recorded: it may be a misplaced password.
		s.audit(ctx, "console: sign in", "", false, "unknown_operator")
		return nil, errWrong
	}
	if err != nil {
		return nil, err
	}
	ok, err := CheckPassword(op.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("operators: check password of %s: %w", name, err)
	}
	if !ok {
		if err := s.fail(ctx, op, "wrong_password"); err != nil && err != errLocked {
			return nil, err
		}
		return nil, errWrong
	}
	return op, nil
}

// admit refuses an account that may not sign in now, disabled or locked:
// asked only once its password and code were both right.
func (s *Service) admit(ctx context.Context, op *likeness.Operator) error {
	now := s.now()
	switch {
	case !op.DisabledAt.IsZero():
		s.audit(ctx, "console: sign in", op.Name, false, "disabled")
		return likeness.Errorf(likeness.EFORBIDDEN, "this account is disabled")
	case now.Before(op.LockedUntil):
		s.audit(ctx, "console: sign in", op.Name, false, "locked")
		return lockedError(op.LockedUntil.Sub(now))
	}
	return nil
}

var errWrong = likeness.Errorf(likeness.EUNAUTHORIZED, "wrong name, password or code")

func lockedError(left time.Duration) error {
	return likeness.Errorf(likeness.EFORBIDDEN, "after %d failed attempts this account is locked for %d more minutes", MaxFailures, int(left.Minutes())+1)
}

// fail counts a failed attempt, locking the account at MaxFailures, and
// returns the error to give. Two failures at the same instant may count
// once; the per-address rate limit in front bounds what that allows.
func (s *Service) fail(ctx context.Context, op *likeness.Operator, reason string) error {
	op.Failures++
	locked := op.Failures >= MaxFailures
	if locked {
		op.Failures, op.LockedUntil = 0, s.now().Add(LockFor).UTC()
	}
	if err := s.store.UpdateOperator(ctx, op); err != nil {
		return err
	}
	s.audit(ctx, "console: sign in", op.Name, false, reason)
	if locked {
		s.log.Warn("operators: account locked after failed sign-ins", "operator", op.Name)
		s.audit(ctx, "operator locked "+op.Name, op.Name, true)
		return errLocked
	}
	return errWrong
}

// errLocked is fail's error when the failure locked the account: said as
// lockedError to whoever gave the right password, as errWrong otherwise.
var errLocked = lockedError(LockFor)

func isTOTPCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// acceptTOTP reports whether code is the operator's code for the current
// time step or the one either side (clock drift), and that step is later
// than the last accepted one: the step is stored atomically, so a code,
// once used, is refused, even by another replica.
func (s *Service) acceptTOTP(ctx context.Context, op *likeness.Operator, code string) (bool, error) {
	if !isTOTPCode(code) {
		return false, nil
	}
	secret, err := s.sealer.Unwrap(ctx, op.TOTPSealed, totpAD(op.Name))
	if err != nil {
		return false, fmt.Errorf("operators: unseal totp secret of %s: %w", op.Name, err)
	}
	now := s.now().Unix() / period
	for _, step := range []int64{now - 1, now, now + 1} {
		ok, err := hotp.ValidateCustom(code, uint64(step), string(secret), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil || !ok {
			continue
		}
		if step <= op.TOTPStep {
			return false, nil // replayed
		}
		return s.store.AcceptOperatorStep(ctx, op.Name, step)
	}
	return false, nil
}

// newRecoveryCodes returns RecoveryCodes fresh codes, as shown to the
// operator and as stored. Each holds 60 random bits, so a plain SHA-256
// (bound to the operator's name) is enough to keep them: nobody can try
// 2^60 candidates against the lock.
func newRecoveryCodes(name string) (codes []string, hashes [][]byte) {
	for range RecoveryCodes {
		c := randomText(12)
		c = c[:6] + "-" + c[6:]
		codes, hashes = append(codes, c), append(hashes, recoveryHash(name, c))
	}
	return codes, hashes
}

func recoveryHash(name, code string) []byte {
	code = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	h := sha256.Sum256([]byte("likeness operator recovery v1\x00" + name + "\x00" + code))
	return h[:]
}
