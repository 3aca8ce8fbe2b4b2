package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"likeness"
	"likeness/internal/console"
	pages "likeness/internal/http/page"
	"likeness/internal/httpapi"
	"likeness/internal/likenesstest"
	"likeness/internal/operators"
	"likeness/internal/storetest"
	"likeness/internal/vault"
)

const operatorPassword = "a long and private passphrase"

// opFixture is a console with named operators, on SQLite or, when dsn is
// a PostgreSQL URL, on PostgreSQL.
type opFixture struct {
	*fixture
	ops     *operators.Service
	secrets map[string]string // operator → TOTP secret
	codes   map[string][]string
}

func newOperatorFixture(t *testing.T, dsn string) *opFixture {
	t.Helper()
	return newOperatorFixtureWith(t, likenesstest.Options{DSN: dsn})
}

// newOperatorFixtureWith is newOperatorFixture on a deployment shaped by o,
// with the validation queue.
func newOperatorFixtureWith(t *testing.T, o likenesstest.Options) *opFixture {
	t.Helper()
	d := likenesstest.New(t, o)
	ops := operators.New(operators.Config{Store: d.Store, Sealer: d.KEK, Params: operators.Params{Time: 1, Memory: 64, Threads: 1}, Now: d.Clock.Now})
	key := make([]byte, 32)
	rand.Read(key)
	mux := http.NewServeMux()
	console.New(console.Config{Subjects: d.Subjects, Consents: d.Consent, Index: d.Engine, Policy: d.Notices.Policy, Vault: d.Vault, Datasets: d.Datasets,
		Store: d.Store, Operators: ops, Validations: d.Consent, Key: key, Options: pages.Options{Now: d.Clock.Now}}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &opFixture{fixture: &fixture{t: t, d: d, ds: d.Datasets, srv: srv}, ops: ops, secrets: map[string]string{}, codes: map[string][]string{}}
}

// eachBackend runs fn on SQLite and on PostgreSQL (skipped without
// LIKENESS_TEST_POSTGRES_URL).
func eachBackend(t *testing.T, fn func(t *testing.T, f *opFixture)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newOperatorFixture(t, "")) })
	t.Run("postgres", func(t *testing.T) { fn(t, newOperatorFixture(t, storetest.Postgres(t))) })
}

func (f *opFixture) code(name string) string {
	f.t.Helper()
	c, err := totp.GenerateCode(f.secrets[name], f.d.Clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// create adds an operator and, if confirm, finishes enrolment through the
// console's enrolment page.
func (f *opFixture) create(name string, role likeness.OperatorRole, confirm bool) *operators.Enrolment {
	f.t.Helper()
	e, err := f.ops.Create(context.Background(), name, role)
	if err != nil {
		f.t.Fatal(err)
	}
	u, _ := url.Parse(e.URI)
	f.secrets[name], f.codes[name] = u.Query().Get("secret"), e.RecoveryCodes
	if confirm {
		c := f.client()
		form := c.Get("/console/enrol")
		p := c.Post("/console/enrol", url.Values{"csrf": {csrfOf(f.t, form)}, "name": {name}, "password": {e.Password},
			"code": {f.code(name)}, "new_password": {operatorPassword}})
		if p.Status != 200 || !strings.Contains(p.Body, "Your account is ready") {
			f.t.Fatalf("enrolment of %s: %d\n%s", name, p.Status, p.Body)
		}
		f.d.Clock.Add(30 * time.Second) // the next sign-in needs a code of a later step
	}
	return e
}

func (c *client) operatorLogin(name, password, code string) page {
	c.f.t.Helper()
	form := c.Get("/console/login")
	return c.Post("/console/login", url.Values{"csrf": {csrfOf(c.f.t, form)}, "name": {name}, "password": {password}, "code": {code}})
}

func TestOperatorWithoutSecondFactorCannotSignInToTheConsole(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *opFixture) {
		e := f.create("alice", likeness.OperatorPrivacyOfficer, false)
		p := f.fixture.client().operatorLogin("alice", e.Password, f.code("alice"))
		if p.Status != http.StatusForbidden || p.URL.Path != "/console/login" || !strings.Contains(p.Body, "second factor") {
			t.Fatalf("sign-in without a confirmed second factor: %d at %s\n%s", p.Status, p.URL, p.Body)
		}
		if p := f.fixture.client().Get("/console/subjects"); p.URL.Path != "/console/login" {
			t.Fatalf("subjects page without a session landed at %s", p.URL)
		}
	})
}

func TestOperatorSignsInAndLockoutRefusesEvenTheRightCode(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *opFixture) {
		f.create("bob", likeness.OperatorReviewer, true)
		c := f.fixture.client()
		for i := range operators.MaxFailures {
			p := c.operatorLogin("bob", operatorPassword, "000000")
			if want := http.StatusUnauthorized; i == operators.MaxFailures-1 {
				want = http.StatusForbidden // the fifth failure locks
				if p.Status != want {
					t.Fatalf("attempt %d: %d; want %d", i+1, p.Status, want)
				}
			} else if p.Status != want {
				t.Fatalf("attempt %d: %d; want %d", i+1, p.Status, want)
			}
		}
		p := c.operatorLogin("bob", operatorPassword, f.code("bob"))
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "locked") {
			t.Fatalf("right code during the lock: %d\n%s", p.Status, p.Body)
		}
		f.d.Clock.Add(operators.LockFor)
		if p := c.operatorLogin("bob", operatorPassword, f.code("bob")); p.Status != 200 || p.URL.Path != "/console" {
			t.Fatalf("sign-in after the lock: %d at %s\n%s", p.Status, p.URL, p.Body)
		}
	})
}

func TestReplayedCodeAndSpentRecoveryCodeAreRefusedByTheConsole(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *opFixture) {
		f.create("carol", likeness.OperatorReviewer, true)
		code := f.code("carol")
		if p := f.fixture.client().operatorLogin("carol", operatorPassword, code); p.URL.Path != "/console" {
			t.Fatalf("first sign-in: %d at %s", p.Status, p.URL)
		}
		if p := f.fixture.client().operatorLogin("carol", operatorPassword, code); p.Status != http.StatusUnauthorized {
			t.Fatalf("replayed code: %d; want 401", p.Status)
		}
		rc := f.codes["carol"][0]
		if p := f.fixture.client().operatorLogin("carol", operatorPassword, rc); p.URL.Path != "/console" {
			t.Fatalf("recovery code: %d at %s", p.Status, p.URL)
		}
		if p := f.fixture.client().operatorLogin("carol", operatorPassword, rc); p.Status != http.StatusUnauthorized {
			t.Fatalf("spent recovery code: %d; want 401", p.Status)
		}
	})
}

func TestOperatorSessionEndsWhenIdleAndAfterTwelveHours(t *testing.T) {
	f := newOperatorFixture(t, "")
	f.create("dora", likeness.OperatorAuditor, true)
	c := f.fixture.client()
	c.operatorLogin("dora", operatorPassword, f.code("dora"))
	f.d.Clock.Add(operators.IdleTimeout + time.Second)
	if p := c.Get("/console/audit"); p.URL.Path != "/console/login" {
		t.Fatalf("idle session still served %s", p.URL)
	}
	f.d.Clock.Add(30 * time.Second)
	c.operatorLogin("dora", operatorPassword, f.code("dora"))
	for range 12 * 60 / 20 { // active every 20 minutes
		f.d.Clock.Add(20 * time.Minute)
		if p := c.Get("/console/audit"); p.URL.Path != "/console/audit" && f.d.Clock.Now().Sub(likenesstest.Start) < operators.MaxSession {
			t.Fatalf("active session ended at %s", f.d.Clock.Now())
		}
	}
	if p := c.Get("/console/audit"); p.URL.Path != "/console/login" {
		t.Fatal("session outlived 12 hours")
	}
}

func TestContentReadNeedsAReasonAndIsLoggedWithNameAndReason(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *opFixture) {
		ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_col", Role: likeness.RoleCollector})
		sub := f.d.Subject(t, "crm-77@example", "EU-DE")
		f.d.Grant(t, sub, "ai-training")
		body := likenesstest.WAV("read me", 200)
		a, err := f.d.Vault.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav",
			Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		f.create("erin", likeness.OperatorPrivacyOfficer, true)
		c := f.fixture.client()
		c.operatorLogin("erin", operatorPassword, f.code("erin"))
		subj := c.Get("/console/subjects?id=" + sub)
		csrf := csrfOf(t, subj)
		if p := c.Post("/console/assets/"+a.ID+"/content", url.Values{"csrf": {csrf}, "reason": {"  "}}); p.Status != http.StatusBadRequest {
			t.Fatalf("content read without a reason: %d; want 400", p.Status)
		}
		const reason = "complaint #42: the person says the recording is not theirs"
		p := c.Post("/console/assets/"+a.ID+"/content", url.Values{"csrf": {csrf}, "reason": {reason}})
		if p.Status != 200 || p.Header.Get("Content-Type") != "audio/wav" {
			t.Fatalf("content read with a reason: %d %s\n%.300s", p.Status, p.Header.Get("Content-Type"), p.Body)
		}
		log, err := f.d.Store.SubjectAccessLog(context.Background(), sub, 10)
		if err != nil {
			t.Fatal(err)
		}
		var reads int
		for _, e := range log {
			if e.Action == "content" {
				reads++
				if e.Operator != "erin" || e.Reason != reason || !e.Allow {
					t.Fatalf("access entry %+v; want operator erin and the reason", e)
				}
			}
		}
		if reads != 1 {
			t.Fatalf("%d content reads logged; want 1 (the refused one reads nothing)", reads)
		}
		contains(t, c.Get("/console/subjects?id="+sub), "erin", reason)
	})
}

func TestAuditorOperatorReadsNoContent(t *testing.T) {
	f := newOperatorFixture(t, "")
	f.create("fred", likeness.OperatorAuditor, true)
	c := f.fixture.client()
	c.operatorLogin("fred", operatorPassword, f.code("fred"))
	csrf := csrfOf(t, c.Get("/console/subjects"))
	if p := c.Post("/console/assets/ast_x/content", url.Values{"csrf": {csrf}, "reason": {"curious"}}); p.Status != http.StatusForbidden {
		t.Fatalf("auditor content read: %d; want 403", p.Status)
	}
}

// Signing out ends the session itself, not only the browser's cookie: a
// copy of the cookie (another tab, or one taken from the browser) stops
// working at once, for a named operator and for an API key's session;
// signing in again starts a session that works.
func TestSignOutEndsEveryCopyOfTheSession(t *testing.T) {
	f := newOperatorFixture(t, "")
	f.create("olga", likeness.OperatorAdmin, true)
	u, _ := url.Parse(f.srv.URL + "/console")
	for _, who := range []string{"operator", "key"} {
		c := f.fixture.client()
		if who == "operator" {
			if p := c.operatorLogin("olga", operatorPassword, f.code("olga")); p.Status != 200 {
				t.Fatalf("sign-in: %d\n%s", p.Status, p.Body)
			}
			f.d.Clock.Add(30 * time.Second)
		} else {
			_, secret, err := httpapi.CreateAPIKey(context.Background(), f.d.Store, "console-admin", likeness.RoleAdmin, f.d.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if p := c.login(secret); p.Status != 200 || p.URL.Path != "/console" {
				t.Fatalf("sign-in with a key: %d at %s", p.Status, p.URL)
			}
		}
		copied := f.fixture.client()
		copied.HTTP.Jar.SetCookies(u, c.HTTP.Jar.Cookies(u))
		if p := copied.Get("/console/subjects"); p.URL.Path != "/console/subjects" {
			t.Fatalf("%s: the copied cookie does not work before sign-out (landed at %s)", who, p.URL)
		}
		if p := c.Post("/console/logout", url.Values{"csrf": {csrfOf(t, c.Get("/console"))}}); p.URL.Path != "/console/login" {
			t.Fatalf("%s: sign-out landed at %s", who, p.URL)
		}
		if p := copied.Get("/console/subjects"); p.URL.Path != "/console/login" {
			t.Errorf("%s: a copy of the cookie still works after sign-out (landed at %s)", who, p.URL)
		}
	}
	c := f.fixture.client()
	if p := c.operatorLogin("olga", operatorPassword, f.code("olga")); p.Status != 200 || c.Get("/console/subjects").URL.Path != "/console/subjects" {
		t.Fatalf("signing in again: %d", p.Status)
	}
}
