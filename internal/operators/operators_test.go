package operators_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"likeness"
	"likeness/internal/keys"
	"likeness/internal/operators"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
)

// cheap keeps the tests quick; the parameters travel in the hash.
var cheap = operators.Params{Time: 1, Memory: 64, Threads: 1}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	svc   *operators.Service
	store likeness.Store
	clock *clock
}

// backends runs fn on SQLite and, when LIKENESS_TEST_POSTGRES_URL is set,
// on PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "l.db")
			if b == "postgres" {
				dsn = storetest.Postgres(t)
			}
			store, err := sqlstore.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			kek, _, err := keys.OpenLocal(filepath.Join(t.TempDir(), "kek.json"), nil)
			if err != nil {
				t.Fatal(err)
			}
			c := &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
			fn(t, &fixture{svc: operators.New(operators.Config{Store: store, Sealer: kek, Params: cheap, Now: c.Now}), store: store, clock: c})
		})
	}
}

func secretOf(t *testing.T, e *operators.Enrolment) string {
	t.Helper()
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("secret")
}

func (f *fixture) code(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const newPassword = "correct horse battery staple"

// enrolled creates and confirms an operator and returns its TOTP secret
// and recovery codes.
func (f *fixture) enrolled(t *testing.T, name string) (string, []string) {
	t.Helper()
	e, err := f.svc.Create(context.Background(), name, likeness.OperatorReviewer)
	if err != nil {
		t.Fatal(err)
	}
	secret := secretOf(t, e)
	if err := f.svc.Confirm(context.Background(), name, e.Password, f.code(t, secret), newPassword); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Second) // the next code is a new step
	return secret, e.RecoveryCodes
}

func TestOperatorWithoutSecondFactorCannotSignIn(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		e, err := f.svc.Create(ctx, "alice", likeness.OperatorPrivacyOfficer)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.RecoveryCodes) != operators.RecoveryCodes || e.Password == "" {
			t.Fatalf("enrolment = %d codes, password %q", len(e.RecoveryCodes), e.Password)
		}
		_, err = f.svc.SignIn(ctx, "alice", e.Password, f.code(t, secretOf(t, e)))
		if likeness.ErrorCode(err) != likeness.EFORBIDDEN {
			t.Fatalf("sign-in before confirmation: %v; want EFORBIDDEN", err)
		}
		if _, err := f.svc.Active(ctx, "alice"); likeness.ErrorCode(err) != likeness.ENOTFOUND {
			t.Fatalf("Active before confirmation: %v; want ENOTFOUND", err)
		}
		if err := f.svc.Confirm(ctx, "alice", e.Password, f.code(t, secretOf(t, e)), "short"); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Fatalf("confirm with a short new password: %v; want EINVALID", err)
		}
		if err := f.svc.Confirm(ctx, "alice", e.Password, f.code(t, secretOf(t, e)), newPassword); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(30 * time.Second)
		if _, err := f.svc.SignIn(ctx, "alice", e.Password, f.code(t, secretOf(t, e))); likeness.ErrorCode(err) != likeness.EUNAUTHORIZED {
			t.Fatalf("sign-in with the temporary password after confirmation: %v; want EUNAUTHORIZED", err)
		}
		if _, err := f.svc.SignIn(ctx, "alice", newPassword, f.code(t, secretOf(t, e))); err != nil {
			t.Fatalf("sign-in after confirmation: %v", err)
		}
	})
}

func TestFiveFailuresLockTheAccount(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret, _ := f.enrolled(t, "bob")
		for i := range operators.MaxFailures {
			pw, code := newPassword, "000000"
			if i%2 == 0 {
				pw, code = "wrong password", f.code(t, secret)
			}
			if _, err := f.svc.SignIn(ctx, "bob", pw, code); err == nil {
				t.Fatalf("attempt %d succeeded", i+1)
			}
		}
		_, err := f.svc.SignIn(ctx, "bob", newPassword, f.code(t, secret))
		if likeness.ErrorCode(err) != likeness.EFORBIDDEN {
			t.Fatalf("correct sign-in during the lock: %v; want EFORBIDDEN", err)
		}
		f.clock.Add(operators.LockFor - time.Minute)
		if _, err := f.svc.SignIn(ctx, "bob", newPassword, f.code(t, secret)); likeness.ErrorCode(err) != likeness.EFORBIDDEN {
			t.Fatalf("correct sign-in a minute before the lock ends: %v; want EFORBIDDEN", err)
		}
		f.clock.Add(time.Minute)
		if _, err := f.svc.SignIn(ctx, "bob", newPassword, f.code(t, secret)); err != nil {
			t.Fatalf("sign-in after the lock: %v", err)
		}
		entries, _ := f.store.RecentAccess(ctx, 50)
		var failed, locked int
		for _, e := range entries {
			if e.Action == "console: sign in" && !e.Allow && e.Operator == "bob" {
				failed++
			}
			if e.Action == "operator locked bob" {
				locked++
			}
		}
		if failed != operators.MaxFailures+2 || locked != 1 {
			t.Fatalf("audit log: %d failed sign-ins, %d locks; want %d and 1", failed, locked, operators.MaxFailures+2)
		}
	})
}

// TestAWrongPasswordSaysNothingOfTheAccount: without its password, a
// known name answers exactly as an unknown one, before, at and after the
// lock its failures set, and when it is disabled; wrong passwords during
// the lock still count; with its password and code, the person is told
// the account is locked or disabled.
func TestAWrongPasswordSaysNothingOfTheAccount(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret, _ := f.enrolled(t, "carol")
		for i := range operators.MaxFailures + 2 {
			for _, name := range []string{"carol", "nobody"} {
				_, err := f.svc.SignIn(ctx, name, "guessed password", "123456")
				if likeness.ErrorCode(err) != likeness.EUNAUTHORIZED || err.Error() != "unauthorized: wrong name, password or code" {
					t.Fatalf("attempt %d as %s: %v; want the same EUNAUTHORIZED for both names", i+1, name, err)
				}
			}
		}
		_, err := f.svc.SignIn(ctx, "carol", newPassword, f.code(t, secret))
		if likeness.ErrorCode(err) != likeness.EFORBIDDEN || !strings.Contains(err.Error(), "locked") {
			t.Fatalf("the right password during the lock: %v; want EFORBIDDEN saying it is locked", err)
		}
		// Guessing on through the lock still counts: enough wrong
		// passwords lock it again from then, past its first end.
		f.clock.Add(time.Minute)
		for range operators.MaxFailures {
			f.svc.SignIn(ctx, "carol", "guessed password", "123456")
		}
		f.clock.Add(operators.LockFor - 30*time.Second)
		if _, err := f.svc.SignIn(ctx, "carol", newPassword, f.code(t, secret)); likeness.ErrorCode(err) != likeness.EFORBIDDEN {
			t.Fatalf("after guessing on through the lock, past its first end: %v; want still locked", err)
		}
		f.clock.Add(operators.LockFor)
		if err := f.svc.Disable(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SignIn(ctx, "carol", "guessed password", "123456"); likeness.ErrorCode(err) != likeness.EUNAUTHORIZED {
			t.Fatalf("a wrong password on a disabled account: %v; want EUNAUTHORIZED", err)
		}
		if _, err := f.svc.SignIn(ctx, "carol", newPassword, f.code(t, secret)); likeness.ErrorCode(err) != likeness.EFORBIDDEN ||
			!strings.Contains(err.Error(), "disabled") {
			t.Fatalf("the right password on a disabled account: %v; want EFORBIDDEN saying it is disabled", err)
		}
	})
}

func TestReplayedTOTPCodeIsRefused(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret, _ := f.enrolled(t, "carol")
		code := f.code(t, secret)
		if _, err := f.svc.SignIn(ctx, "carol", newPassword, code); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(10 * time.Second) // same or next step: the code is still "valid" to the library
		if _, err := f.svc.SignIn(ctx, "carol", newPassword, code); likeness.ErrorCode(err) != likeness.EUNAUTHORIZED {
			t.Fatalf("replayed code: %v; want EUNAUTHORIZED", err)
		}
	})
}

func TestRecoveryCodeWorksOnce(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		_, codes := f.enrolled(t, "dave")
		if _, err := f.svc.SignIn(ctx, "dave", newPassword, codes[3]); err != nil {
			t.Fatalf("first use of a recovery code: %v", err)
		}
		if _, err := f.svc.SignIn(ctx, "dave", newPassword, codes[3]); likeness.ErrorCode(err) != likeness.EUNAUTHORIZED {
			t.Fatalf("second use of a recovery code: %v; want EUNAUTHORIZED", err)
		}
		if n, _ := f.store.UnusedRecoveryCodes(ctx, "dave"); n != operators.RecoveryCodes-1 {
			t.Fatalf("unused codes = %d; want %d", n, operators.RecoveryCodes-1)
		}
	})
}

func TestSignInsAreAuditedWithoutSecrets(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret, _ := f.enrolled(t, "erin")
		f.svc.SignIn(ctx, "erin", "hunter2-wrong", "123456")
		f.svc.SignIn(ctx, "nobody", "hunter2-wrong", "123456")
		code := f.code(t, secret)
		if _, err := f.svc.SignIn(ctx, "erin", newPassword, code); err != nil {
			t.Fatal(err)
		}
		entries, _ := f.store.RecentAccess(ctx, 50)
		var ok, bad, unknown bool
		for _, e := range entries {
			for _, s := range append([]string{e.Action, e.Operator}, e.Reasons...) {
				if s == newPassword || s == code || s == "hunter2-wrong" || s == "nobody" {
					t.Fatalf("audit entry %+v holds a secret or a typed name", e)
				}
			}
			ok = ok || (e.Operator == "erin" && e.Allow && e.Action == "console: sign in")
			bad = bad || (e.Operator == "erin" && !e.Allow)
			unknown = unknown || (e.Operator == "" && !e.Allow && len(e.Reasons) == 1 && e.Reasons[0] == "unknown_operator")
		}
		if !ok || !bad || !unknown {
			t.Fatalf("audit log lacks a sign-in (ok %v, failed %v, unknown %v)", ok, bad, unknown)
		}
	})
}

func TestPasswordHashNamesItsParameters(t *testing.T) {
	h, err := operators.HashPassword("pw", operators.Params{Time: 1, Memory: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pw   string
		want bool
	}{{"pw", true}, {"pW", false}, {"", false}} {
		if ok, err := operators.CheckPassword(h, c.pw); err != nil || ok != c.want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", c.pw, ok, err, c.want)
		}
	}
	if _, err := operators.CheckPassword("$argon2id$v=19$m=x$$", "pw"); err == nil {
		t.Error("a malformed hash was accepted")
	}
}
