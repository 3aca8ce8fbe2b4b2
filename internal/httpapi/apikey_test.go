package httpapi_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness"
	"likeness/internal/httpapi"
	"likeness/internal/likenesstest"
	"likeness/internal/ratelimit"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
)

// replica is one API server on a database other replicas share, with a
// clock of its own.
type replica struct {
	srv   *httptest.Server
	store *sqlstore.DB
	clock *likenesstest.Clock
}

func newReplica(t *testing.T, dsn string) *replica {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &replica{store: store, clock: &likenesstest.Clock{}}
	r.clock.Set(likenesstest.Start)
	r.srv = httptest.NewServer(httpapi.New(httpapi.Config{Store: store, Now: r.clock.Now}))
	t.Cleanup(r.srv.Close)
	return r
}

// status calls GET /v1/apikeys (an admin route that needs only the store)
// with token and returns the status.
func (r *replica) status(t *testing.T, method, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(method, r.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestKeyRevokedOnOneReplicaIsRefusedByTheOther(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "likeness.db") },
		"postgres": func(t *testing.T) string { return storetest.Postgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			a, b := newReplica(t, dsn), newReplica(t, dsn)
			ctx := context.Background()
			admin, adminTok, err := httpapi.CreateAPIKey(ctx, a.store, "ops", likeness.RoleAdmin, a.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			victim, tok, err := httpapi.CreateAPIKey(ctx, a.store, "ci", likeness.RoleAdmin, a.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := b.status(t, "GET", "/v1/apikeys", tok); got != 200 {
				t.Fatalf("before revocation replica b answers %d", got)
			}
			if got := a.status(t, "DELETE", "/v1/apikeys/"+victim.ID, adminTok); got != 204 {
				t.Fatalf("revoke: %d", got)
			}
			if got := a.status(t, "GET", "/v1/apikeys", tok); got != 401 {
				t.Fatalf("the revoking replica answers %d to the revoked key, want 401 at once", got)
			}
			b.clock.Add(httpapi.RevocationPoll)
			if got := b.status(t, "GET", "/v1/apikeys", tok); got != 401 {
				t.Fatalf("replica b answers %d to a key revoked %v ago on a, want 401", got, httpapi.RevocationPoll)
			}
			if got := b.status(t, "GET", "/v1/apikeys", adminTok); got != 200 {
				t.Fatalf("replica b refuses the key that was not revoked (%s): %d", admin.ID, got)
			}
		})
	}
}

func TestRevokingIsForAdminsAndUnknownKeysAreNotFound(t *testing.T) {
	e := newEnv(t, "")
	keys := e.call(likeness.RoleAdmin, "GET", "/v1/apikeys", nil)
	var list struct{ Keys []likeness.APIKey }
	keys.json(t, &list)
	if r := e.call(likeness.RolePipeline, "DELETE", "/v1/apikeys/"+list.Keys[0].ID, nil); r.status != 403 {
		t.Errorf("a pipeline key revoking: %d, want 403", r.status)
	}
	if r := e.call(likeness.RoleAdmin, "DELETE", "/v1/apikeys/key_unknown", nil); r.status != 404 {
		t.Errorf("revoking an unknown key: %d, want 404", r.status)
	}
	var pipeline likeness.APIKey
	for _, k := range list.Keys {
		if k.Role == likeness.RolePipeline {
			pipeline = k
		}
	}
	for range 2 { // idempotent
		if r := e.call(likeness.RoleAdmin, "DELETE", "/v1/apikeys/"+pipeline.ID, nil); r.status != 204 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
	}
	if r := e.call(likeness.RolePipeline, "GET", "/v1/notices/current", nil); r.status != 401 {
		t.Errorf("the revoked key still answers %d", r.status)
	}
	e.call(likeness.RoleAdmin, "GET", "/v1/apikeys", nil).json(t, &list)
	for _, k := range list.Keys {
		if k.ID == pipeline.ID && k.RevokedAt.IsZero() {
			t.Errorf("the list does not show the revocation: %+v", k)
		}
	}
}

// The last working admin key cannot be revoked over the API, which would
// leave no one to manage keys; once another exists, it can.
func TestTheLastAdminKeyIsNotRevokedOverTheAPI(t *testing.T) {
	e := newEnv(t, "")
	var list struct{ Keys []likeness.APIKey }
	e.call(likeness.RoleAdmin, "GET", "/v1/apikeys", nil).json(t, &list)
	var admins []string
	for _, k := range list.Keys {
		if k.Role == likeness.RoleAdmin && k.RevokedAt.IsZero() {
			admins = append(admins, k.ID)
		}
	}
	if len(admins) != 1 {
		t.Fatalf("the test deployment has %d admin keys, want 1", len(admins))
	}
	if r := e.call(likeness.RoleAdmin, "DELETE", "/v1/apikeys/"+admins[0], nil); r.status != 409 || !strings.Contains(string(r.body), "last working admin key") {
		t.Fatalf("revoking the last admin key: %d %s, want 409", r.status, r.body)
	}
	if r := e.call(likeness.RoleAdmin, "POST", "/v1/apikeys", map[string]string{"name": "second-admin", "role": "admin"}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := e.call(likeness.RoleAdmin, "DELETE", "/v1/apikeys/"+admins[0], nil); r.status != 204 {
		t.Fatalf("revoking an admin key with another left: %d %s, want 204", r.status, r.body)
	}
}

func TestKeyExpiresAtItsTime(t *testing.T) {
	e := newEnv(t, "")
	r := e.call(likeness.RoleAdmin, "POST", "/v1/apikeys", map[string]string{"name": "temp", "role": "auditor", "expires_in": "30d"})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created struct {
		Key   likeness.APIKey
		Token string
	}
	r.json(t, &created)
	if want := e.clock.Now().AddDate(0, 0, 30); !created.Key.ExpiresAt.Equal(want) {
		t.Fatalf("expires_at = %v, want %v", created.Key.ExpiresAt, want)
	}
	e.tokens["temp"] = created.Token
	if r := e.call("temp", "GET", "/v1/notices/current", nil); r.status != 200 {
		t.Fatalf("before expiry: %d", r.status)
	}
	e.clock.Set(created.Key.ExpiresAt)
	if r := e.call("temp", "GET", "/v1/notices/current", nil); r.status != 401 {
		t.Fatalf("at expiry: %d, want 401", r.status)
	}
	for _, bad := range []map[string]any{
		{"role": "auditor", "expires_in": "soon"},
		{"role": "auditor", "expires_at": e.clock.Now().Add(-time.Hour)},
		{"role": "auditor", "expires_in": "1d", "expires_at": e.clock.Now().Add(time.Hour)},
	} {
		if r := e.call(likeness.RoleAdmin, "POST", "/v1/apikeys", bad); r.status != 400 {
			t.Errorf("create %v: %d, want 400", bad, r.status)
		}
	}
}

func TestLastUseIsRecordedAtMostOnceAMinute(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	lastUse := func() time.Time {
		t.Helper()
		keys, err := e.store.APIKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Role == likeness.RoleAuditor {
				return k.LastUsedAt
			}
		}
		t.Fatal("no auditor key")
		return time.Time{}
	}
	first := e.clock.Now()
	e.call(likeness.RoleAuditor, "GET", "/v1/notices/current", nil)
	if got := lastUse(); !got.Equal(first) {
		t.Fatalf("last use = %v, want %v", got, first)
	}
	e.clock.Add(59 * time.Second)
	e.call(likeness.RoleAuditor, "GET", "/v1/notices/current", nil)
	if got := lastUse(); !got.Equal(first) {
		t.Fatalf("a use within the minute was written: %v", got)
	}
	e.clock.Add(time.Second)
	e.call(likeness.RoleAuditor, "GET", "/v1/notices/current", nil)
	if got, want := lastUse(), first.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("last use = %v, want %v", got, want)
	}
}

func TestChangingTheAdminTokenRevokesThePreviousOne(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	old, next := "first-admin-token-value", "second-admin-token-value"
	for range 2 { // idempotent
		if err := httpapi.EnsureAdminToken(ctx, e.store, old, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	e.tokens["old"], e.tokens["next"] = old, next
	if r := e.call("old", "GET", "/v1/apikeys", nil); r.status != 200 {
		t.Fatalf("the admin token: %d", r.status)
	}
	if err := httpapi.EnsureAdminToken(ctx, e.store, next, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(httpapi.RevocationPoll)
	if r := e.call("old", "GET", "/v1/apikeys", nil); r.status != 401 {
		t.Errorf("the previous admin token answers %d, want 401", r.status)
	}
	if r := e.call("next", "GET", "/v1/apikeys", nil); r.status != 200 {
		t.Errorf("the new admin token answers %d", r.status)
	}
	if r := e.call(likeness.RoleAdmin, "GET", "/v1/apikeys", nil); r.status != 200 {
		t.Errorf("other admin keys are untouched; got %d", r.status)
	}
	if err := httpapi.EnsureAdminToken(ctx, e.store, old, e.clock.Now()); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Errorf("going back to a revoked admin token: err = %v, want invalid", err)
	}
}

// slowRevisions is a store whose revocation revision takes a while to read,
// as on a busy database.
type slowRevisions struct {
	likeness.Store
	delay time.Duration
}

func (s slowRevisions) APIKeyRevision(ctx context.Context) (int64, error) {
	time.Sleep(s.delay)
	return s.Store.APIKeyRevision(ctx)
}

// TestABurstOfRequestsAtStartIsServedWhileTheFirstReadsRevocations sends
// many requests at once to a server that has not yet read the revocation
// revision: every one waits for the one read and is answered, none is
// refused with 503 for want of it.
func TestABurstOfRequestsAtStartIsServedWhileTheFirstReadsRevocations(t *testing.T) {
	store, tok := storeWithAdmin(t)
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: slowRevisions{store, 100 * time.Millisecond}}))
	defer srv.Close()
	for _, c := range burst(srv, tok, 16) {
		if c != 200 {
			t.Errorf("a request of the first burst was answered %d, want 200", c)
		}
	}
}

// The same after the replica sat idle past the bound its cache may serve
// for: the one request that reads the revision again no longer leaves the
// others refused with 503 while it reads.
func TestABurstOfRequestsAfterIdleIsServedWhileOneReadsRevocations(t *testing.T) {
	store, tok := storeWithAdmin(t)
	clock := &likenesstest.Clock{}
	clock.Set(time.Now())
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: slowRevisions{store, 100 * time.Millisecond}, Now: clock.Now}))
	defer srv.Close()
	if c := burst(srv, tok, 1); c[0] != 200 {
		t.Fatalf("first request: %d", c[0])
	}
	clock.Add(3 * time.Second) // past RevocationPoll and the staleness bound
	for _, c := range burst(srv, tok, 16) {
		if c != 200 {
			t.Errorf("a request of the burst after idle was answered %d, want 200", c)
		}
	}
}

// storeWithAdmin is a SQLite store, closed when t ends, with one admin key.
func storeWithAdmin(t *testing.T) (*sqlstore.DB, string) {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "likeness.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	_, tok, err := httpapi.CreateAPIKey(context.Background(), store, "ops", likeness.RoleAdmin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return store, tok
}

// burst sends n requests with tok at once and returns their status codes
// (0: no answer).
func burst(srv *httptest.Server, tok string, n int) []int {
	codes := make(chan int, n)
	var start sync.WaitGroup
	start.Add(1)
	for range n {
		go func() {
			start.Wait()
			req, _ := http.NewRequest("GET", srv.URL+"/v1/apikeys", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := srv.Client().Do(req)
			if err != nil {
				codes <- 0
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	start.Done()
	out := make([]int, n)
	for i := range out {
		out[i] = <-codes
	}
	return out
}

// Every unknown key costs a database read: a client that sends many is
// refused further unknown keys (429) without one, while the key it used
// before still works; its allowance refills at one a second.
func TestUnknownKeysFromOneClientAreLimited(t *testing.T) {
	e := newEnv(t, "")
	if r := e.call(likeness.RoleAuditor, "GET", "/v1/apikeys", nil); r.status != 403 && r.status != 200 {
		t.Fatalf("a known key: %d %s", r.status, r.body)
	}
	bad := func() int {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/audit", nil)
		req.Header.Set("Authorization", "Bearer lk_"+likeness.NewID("bogus"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := range 30 {
		if c := bad(); c != 401 {
			t.Fatalf("unknown key %d: %d, want 401", i+1, c)
		}
	}
	if c := bad(); c != 429 {
		t.Errorf("the 31st unknown key from one client: %d, want 429", c)
	}
	if r := e.call(likeness.RoleAuditor, "GET", "/v1/audit", nil); r.status != 200 {
		t.Errorf("the client's known key meanwhile: %d %s", r.status, r.body)
	}
	time.Sleep(1100 * time.Millisecond)
	if c := bad(); c != 401 {
		t.Errorf("an unknown key a second later: %d, want 401", c)
	}
}

// Behind a trusted proxy, every request comes from the proxy's address:
// the limit on unknown keys counts the client it forwards for, so one
// client sending junk keys does not lock out the others; a client that
// is not the proxy cannot choose whom it counts as.
func TestUnknownKeysAreLimitedPerClientBehindATrustedProxy(t *testing.T) {
	e := newEnv(t, "")
	proxies, err := ratelimit.ParseProxies("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.d.APIConfig()
	cfg.ClientIP = proxies.ClientIP
	e.srv = httptest.NewServer(httpapi.New(cfg))
	t.Cleanup(e.srv.Close)
	bad := func(forwardedFor string) int {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/audit", nil)
		req.Header.Set("Authorization", "Bearer lk_"+likeness.NewID("bogus"))
		req.Header.Set("X-Forwarded-For", forwardedFor)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// More junk than the burst and the refill over a slow run allow.
	limited := false
	for range 60 {
		limited = limited || bad("198.51.100.1") == 429
	}
	if !limited {
		t.Errorf("the client sending junk keys was never limited")
	}
	if c := bad("198.51.100.2"); c != 401 {
		t.Errorf("another client behind the same proxy: %d, want 401 (not limited)", c)
	}

	// Without the proxy trusted, the header is the caller's word: ignored.
	e2 := newEnv(t, "")
	limited = false
	for range 60 {
		req, _ := http.NewRequest("GET", e2.srv.URL+"/v1/audit", nil)
		req.Header.Set("Authorization", "Bearer lk_"+likeness.NewID("bogus"))
		req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(rand.IntN(250)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		limited = limited || res.StatusCode == 429
	}
	if !limited {
		t.Errorf("a peer forging X-Forwarded-For with no proxy trusted was never limited")
	}
}
