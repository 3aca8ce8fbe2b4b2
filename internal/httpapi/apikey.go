package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"likeness"
	"likeness/internal/http/input"
	"likeness/policy"
)

// RevocationPoll is how long a replica may go on accepting a key revoked on
// another replica: the key cache reads the store's revocation revision at
// most this often, and empties itself when it changed.
const RevocationPoll = time.Second

// touchEvery is how often a key's last-used time is written at most, per
// key and replica, so that authenticating is not a write per request.
const touchEvery = time.Minute

// adminTokenKeyName names the key made from LIKENESS_ADMIN_TOKEN; when the
// variable changes, the keys of that name made from earlier values are
// revoked.
const adminTokenKeyName = "admin (LIKENESS_ADMIN_TOKEN)"

// NewToken returns a fresh API key secret: "lk_" and 256 random bits.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:])
	return "lk_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// KeySpec is what a new API key is made of.
type KeySpec struct {
	Name      string
	Role      likeness.Role
	ExpiresAt time.Time // zero: the key does not expire
}

// IssueAPIKey stores a new key and returns it with its secret, which is
// shown once and never stored. An expiry not after now is EINVALID.
func IssueAPIKey(ctx context.Context, store likeness.APIKeyStore, spec KeySpec, now time.Time) (*likeness.APIKey, string, error) {
	if !likeness.ValidRole(spec.Role) {
		return nil, "", likeness.Errorf(likeness.EINVALID, "role %q is not one of admin, collector, pipeline, auditor", spec.Role)
	}
	if len(spec.Name) > 100 {
		return nil, "", likeness.Errorf(likeness.EINVALID, "name is longer than 100 characters")
	}
	if !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(now) {
		return nil, "", likeness.Errorf(likeness.EINVALID, "the expiry must be in the future")
	}
	token := NewToken()
	k := &likeness.APIKey{ID: likeness.NewID("key"), Name: spec.Name, Role: spec.Role, Hash: likeness.HashAPIKey(token),
		CreatedAt: now.UTC(), ExpiresAt: spec.ExpiresAt.UTC()}
	if err := store.InsertAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, token, nil
}

// CreateAPIKey is IssueAPIKey for a key that does not expire.
func CreateAPIKey(ctx context.Context, store likeness.APIKeyStore, name string, role likeness.Role, now time.Time) (*likeness.APIKey, string, error) {
	return IssueAPIKey(ctx, store, KeySpec{Name: name, Role: role}, now)
}

// EnsureAdminToken makes token a valid admin key, for the
// LIKENESS_ADMIN_TOKEN start-up variable, and revokes the keys made from
// the variable's earlier values: changing the variable rotates the key. It
// is idempotent and safe for replicas starting at once. A token whose key
// was revoked stays revoked: choose a new value.
func EnsureAdminToken(ctx context.Context, store likeness.APIKeyStore, token string, now time.Time) error {
	if len(token) < 16 {
		return likeness.Errorf(likeness.EINVALID, "LIKENESS_ADMIN_TOKEN must be at least 16 characters")
	}
	hash := likeness.HashAPIKey(token)
	current, err := store.APIKeyByHash(ctx, hash)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		k := &likeness.APIKey{ID: likeness.NewID("key"), Name: adminTokenKeyName, Role: likeness.RoleAdmin, Hash: hash, CreatedAt: now.UTC()}
		if err = store.InsertAPIKey(ctx, k); err == nil {
			current = k
		} else if current, err = store.APIKeyByHash(ctx, hash); likeness.ErrorCode(err) == likeness.ENOTFOUND {
			// Stored, but revoked (or another replica stored and revoked it).
			return likeness.Errorf(likeness.EINVALID, "LIKENESS_ADMIN_TOKEN names a revoked key; set a new value")
		}
	}
	if err != nil {
		return err
	}
	keys, err := store.APIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Name == adminTokenKeyName && k.ID != current.ID && k.RevokedAt.IsZero() {
			if err := store.RevokeAPIKey(ctx, k.ID, now.UTC()); err != nil {
				return err
			}
		}
	}
	return nil
}

// FirstAdminStore is what EnsureFirstAdmin needs: keys, and a setting that
// replicas agree on.
type FirstAdminStore interface {
	likeness.APIKeyStore
	InitSetting(ctx context.Context, name string, value []byte) ([]byte, error)
}

// EnsureFirstAdmin creates the deployment's first admin key exactly once,
// however many replicas start together on a fresh database: the replica that
// claims the "first_admin" setting creates the key and gets its secret to
// print; every other replica gets "" and creates nothing. (Should the
// claiming replica die before inserting, `likeness apikey create` makes one.)
func EnsureFirstAdmin(ctx context.Context, store FirstAdminStore, now time.Time) (string, error) {
	keys, err := store.APIKeys(ctx)
	if err != nil || len(keys) > 0 {
		return "", err
	}
	claim := []byte(likeness.NewID("key"))
	won, err := store.InitSetting(ctx, "first_admin", claim)
	if err != nil {
		return "", fmt.Errorf("claim first admin key: %w", err)
	}
	if string(won) != string(claim) {
		return "", nil
	}
	token := NewToken()
	k := &likeness.APIKey{ID: string(claim), Name: "first admin", Role: likeness.RoleAdmin, Hash: likeness.HashAPIKey(token), CreatedAt: now.UTC()}
	if err := store.InsertAPIKey(ctx, k); err != nil {
		return "", err
	}
	return token, nil
}

// keyCache keeps the keys requests present, by the SHA-256 of their
// secret, so that most requests read no row and take no lock: a request
// reads one immutable snapshot through an atomic pointer. Revocation
// reaches it from every replica: at most every RevocationPoll one request
// reads the store's revocation revision, and a changed revision (or a
// revocation made here) replaces the snapshot with an empty one of a new
// generation. A key read from the store joins the snapshot (copied, under
// mu) only if no new generation began while it was read, since the read
// may predate a revocation. Expiry is checked on every request against the
// server's clock.
type keyCache struct {
	snap    atomic.Pointer[keySnapshot]
	checked atomic.Int64 // unix nanoseconds when the revision was read; 0: never
	mu      sync.Mutex   // serializes replacing snap, and read
	read    *keyRead     // the revision read in progress, if any (under mu)
}

// keyRead is one read of the revocation revision; done is closed when it
// ends, whatever its outcome.
type keyRead struct{ done chan struct{} }

// keySnapshot is one immutable state of the cache.
type keySnapshot struct {
	generation uint64
	revision   int64
	byHash     map[[32]byte]*cachedKey
}

// cachedKey is a verified key and when its last use was written from here
// (unix nanoseconds; the stored last use when it was read).
type cachedKey struct {
	key  *likeness.APIKey
	used atomic.Int64
}

// badKeyRate and badKeyBurst are how many unknown API keys a client may
// send: a burst of badKeyBurst, then one a second.
const (
	badKeyRate  = 1
	badKeyBurst = 30
)

// keyReadTimeout bounds each store read behind the key check, so a database
// that stops answering costs a request at most this long, never a hang.
const keyReadTimeout = 500 * time.Millisecond

// load returns the current snapshot, never nil.
func (c *keyCache) load() *keySnapshot {
	if sn := c.snap.Load(); sn != nil {
		return sn
	}
	return &keySnapshot{}
}

// reset begins a new, empty generation at revision rev.
func (c *keyCache) reset(rev int64) {
	c.snap.Store(&keySnapshot{generation: c.load().generation + 1, revision: rev})
}

// forget empties the cache, after a revocation made here: every key is
// read from the store again. The revision is left to the next poll.
func (c *keyCache) forget() {
	c.mu.Lock()
	c.reset(c.load().revision)
	c.mu.Unlock()
}

// readRevision reads the revocation revision, for the read in progress
// (c.read, which the caller started), and empties the cache when it moved.
func (s *Server) readRevision(ctx context.Context, nowNS int64) {
	c := &s.keys
	rctx, cancel := context.WithTimeout(ctx, keyReadTimeout)
	rev, err := s.store.APIKeyRevision(rctx)
	cancel()
	c.mu.Lock()
	if err == nil {
		if sn := c.snap.Load(); sn == nil || rev != sn.revision || len(sn.byHash) > 10000 {
			c.reset(rev)
		}
		c.checked.Store(nowNS)
	}
	r := c.read
	c.read = nil
	c.mu.Unlock()
	close(r.done)
}

// lookupKey returns the unrevoked, unexpired key whose secret is token, or
// EUNAUTHORIZED. When the revocation revision cannot be read it fails
// closed (EUNAVAILABLE): a revoked key is never let in for want of news.
//
// Each unknown key costs a database read, so a client (host) that sent
// badKeyBurst of them is refused keys not in the cache (429) until its
// allowance refills at one a second; keys it has used already still work.
func (s *Server) lookupKey(ctx context.Context, token, client string) (*likeness.APIKey, error) {
	h := likeness.APIKeyDigest(token)
	now := s.now()
	entry, err := s.cachedKey(ctx, h, now, client)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		s.badKeys.Allow(client)
		return nil, likeness.Errorf(likeness.EUNAUTHORIZED, "unknown or revoked API key")
	}
	if err != nil {
		return nil, err
	}
	key := entry.key
	if key.Expired(now) {
		return nil, likeness.Errorf(likeness.EUNAUTHORIZED, "the API key expired at %s", key.ExpiresAt.Format(time.RFC3339))
	}
	s.recordUse(ctx, entry, now)
	return key, nil
}

// cachedKey returns the key with hash h from the cache or the store.
func (s *Server) cachedKey(ctx context.Context, h [32]byte, now time.Time, client string) (*cachedKey, error) {
	c := &s.keys
	nowNS := now.UnixNano()
	// One request at a time reads the revision, so a slow database never
	// queues every request behind it.
	if checked := c.checked.Load(); checked == 0 || nowNS-checked >= int64(RevocationPoll) || nowNS < checked {
		c.mu.Lock()
		r := c.read
		if r == nil {
			c.read = &keyRead{done: make(chan struct{})}
		}
		c.mu.Unlock()
		if r == nil {
			s.readRevision(ctx, nowNS)
		}
	}
	// Where the cache is too old to serve (at start-up, or after the
	// replica sat idle), a request waits for the one reading the revision,
	// as long as that read may take, instead of being refused for want of
	// an answer not yet in.
	stale := func() bool {
		checked := c.checked.Load()
		return checked == 0 || nowNS-checked > int64(RevocationPoll+s.keyStaleness())
	}
	if stale() {
		c.mu.Lock()
		r := c.read
		c.mu.Unlock()
		if r != nil {
			t := time.NewTimer(keyReadTimeout)
			select {
			case <-r.done:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
	// While revocations cannot be read, the cache serves for as long as a
	// replica may answer from memory at all; past that, keys are refused
	// rather than trusted.
	if stale() {
		return nil, likeness.Errorf(likeness.EUNAVAILABLE, "cannot check API key revocations; retry shortly")
	}
	sn := c.load()
	if e, ok := sn.byHash[h]; ok && subtle.ConstantTimeCompare(e.key.Hash, h[:]) == 1 {
		return e, nil
	}
	if s.badKeys.Exhausted(client) {
		return nil, likeness.Errorf(likeness.ERATELIMIT, "too many unknown API keys from this address; wait a minute")
	}
	kctx, cancel := context.WithTimeout(ctx, keyReadTimeout)
	stored := h // the store may keep the slice; h stays on the stack
	key, err := s.store.APIKeyByHash(kctx, stored[:])
	cancel()
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(key.Hash, h[:]) != 1 {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "api key not found")
	}
	e := &cachedKey{key: key}
	e.used.Store(key.LastUsedAt.UnixNano())
	if key.LastUsedAt.IsZero() {
		e.used.Store(0)
	}
	c.mu.Lock()
	if cur := c.load(); cur.generation == sn.generation && cur.byHash[h] == nil {
		next := &keySnapshot{generation: cur.generation, revision: cur.revision, byHash: make(map[[32]byte]*cachedKey, len(cur.byHash)+1)}
		maps.Copy(next.byHash, cur.byHash)
		next.byHash[h] = e
		c.snap.Store(next)
	} else if e2 := cur.byHash[h]; e2 != nil && cur.generation == sn.generation {
		e = e2 // another request cached it meanwhile: share its last use
	}
	c.mu.Unlock()
	return e, nil
}

// recordUse writes the key's last-used time when it was last written (here
// or, as far as the key read says, on another replica) a minute or more
// ago. A failure is logged: it must not refuse the request.
func (s *Server) recordUse(ctx context.Context, e *cachedKey, now time.Time) {
	nowNS := now.UnixNano()
	last := e.used.Load()
	if nowNS-last < int64(touchEvery) && nowNS >= last || !e.used.CompareAndSwap(last, nowNS) {
		return
	}
	// Bookkeeping: a slow database may cost this call keyReadTimeout, at
	// most once a minute per key, and never refuses it.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyReadTimeout)
	defer cancel()
	if err := s.store.TouchAPIKey(tctx, e.key.ID, now.UTC()); err != nil {
		s.log.Warn("could not record an API key's last use", "key", e.key.ID, "err", err)
	}
}

// keyStaleness is how long cached keys serve while revocations cannot be
// read: the replica's staleness bound, or a second without one.
func (s *Server) keyStaleness() time.Duration {
	if s.replica != nil {
		return s.replica.MaxStaleness()
	}
	return time.Second
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name      string        `json:"name"`
		Role      likeness.Role `json:"role"`
		ExpiresIn string        `json:"expires_in"` // e.g. "90d", "12mo", "1y"
		ExpiresAt time.Time     `json:"expires_at"`
	}
	if err := input.DecodeJSON(r, w, s.maxBody, &in); err != nil {
		return err
	}
	now := s.now()
	spec := KeySpec{Name: in.Name, Role: in.Role, ExpiresAt: in.ExpiresAt}
	if in.ExpiresIn != "" {
		if !in.ExpiresAt.IsZero() {
			return likeness.Errorf(likeness.EINVALID, "give expires_in or expires_at, not both")
		}
		d, err := policy.ParseDuration(in.ExpiresIn)
		if err != nil || d.IsZero() {
			return likeness.Errorf(likeness.EINVALID, "expires_in must be a period such as 90d, 12mo or 1y")
		}
		spec.ExpiresAt = d.AddTo(now)
	}
	key, token, err := IssueAPIKey(r.Context(), s.store, spec, now)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"key": key, "token": token})
}

// handleRevokeKey revokes a key at once on this replica and within
// RevocationPoll on every other. Revoking a revoked key is a no-op.
func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !likeness.ValidID("key", id) {
		return likeness.Errorf(likeness.ENOTFOUND, "api key not found")
	}
	if err := s.refuseLastAdmin(r.Context(), id); err != nil {
		return err
	}
	if err := s.store.RevokeAPIKey(r.Context(), id, s.now().UTC()); err != nil {
		return err
	}
	s.keys.forget()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// refuseLastAdmin refuses to revoke the deployment's last working admin
// key over the API: nobody could then manage keys but from the CLI on the
// database's machine. The CLI's revoke still may.
func (s *Server) refuseLastAdmin(ctx context.Context, id string) error {
	keys, err := s.store.APIKeys(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	working := func(k *likeness.APIKey) bool {
		return k.Role == likeness.RoleAdmin && k.RevokedAt.IsZero() && !k.Expired(now)
	}
	target, admins := false, 0
	for _, k := range keys {
		if working(k) {
			admins++
			target = target || k.ID == id
		}
	}
	if target && admins == 1 {
		return likeness.Errorf(likeness.ECONFLICT, "this is the last working admin key: create another first (POST /v1/apikeys with role admin), then revoke this one")
	}
	return nil
}
