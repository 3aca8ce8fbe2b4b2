package httpapi

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"likeness"
)

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a client
// that sends the header on a write may retry it with the same key, and the
// write is performed once. The first successful answer is kept for
// IdempotencyTTL per caller (API key id), route and key; a retry gets it
// back, marked with Idempotent-Replayed: true, and records nothing. An
// answer that is an error is not kept: the key is released, so a retry
// performs the write (none was recorded: writes that committed answer
// success, see handleGrant).
//
// A kept answer may carry what a person gave (a grant's evidence, a typed
// signature): it is sealed (see sealKept) under a key only the client holds,
// and a write about a person (the routes under /v1/subjects/{id}/) is
// recorded with them, so that erasing them deletes it with their data key.
//
// What it does not cover: a write whose commit succeeded on the database
// but whose acknowledgement was lost with the connection is answered 503,
// and a retry performs it again.
const (
	IdempotencyTTL = 24 * time.Hour
	// maxKeptResponse bounds the stored answer; a larger one is replaced by
	// a short note (the write still happens once).
	maxKeptResponse = 64 << 10
	// leaseMargin is added to a request's deadline to get how long an
	// in-flight key is held against a replica that died holding it.
	leaseMargin = 30 * time.Second
	// settleFor bounds the retries of storing an answer or releasing a
	// key while storage is down.
	settleFor = 2 * time.Minute
)

// ReplayedHeader marks an answer given from the idempotency store.
const ReplayedHeader = "Idempotent-Replayed"

// keptHeaders are the response headers stored with an answer.
var keptHeaders = []string{"Content-Type", "Location", "Content-Location"}

// idempotency is the Server's sweep state.
type idempotency struct {
	lastSweep atomic.Int64 // unix seconds
}

// idempotent wraps a write handler with Idempotency-Key handling; limit is
// the most body bytes the route accepts (read again to compare a retry).
func (s *Server) idempotent(limit int64, h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, raw, ok, err := idempotencyKey(r)
		if err != nil || !ok {
			return errOr(err, func() error { return h(w, r) })
		}
		now := s.now()
		s.sweepIdempotency(r.Context(), now)
		// "sealed": records of answers kept sealed, which a replica that
		// kept them in plain text (during a rolling upgrade) never matches
		// and so never replays as they are.
		scope := likeness.ActorFrom(r.Context()).KeyID + " sealed " + r.Pattern
		aead, err := keptAEAD(raw, scope)
		if err != nil {
			return likeness.Errorf(likeness.EINVALID, "this Idempotency-Key cannot be used: send a random one, e.g. a UUID")
		}
		rec := &likeness.IdempotentRequest{Scope: scope, Key: key,
			Claim: likeness.NewID("idm"), CreatedAt: now, LeaseUntil: now.Add(requestTimeout(r) + leaseMargin)}
		if strings.HasPrefix(r.Pattern, "POST /v1/subjects/{id}/") {
			rec.SubjectID = r.PathValue("id")
		}
		held, err := s.store.ClaimIdempotency(r.Context(), rec, now, now.Add(-IdempotencyTTL))
		if err != nil {
			return err
		}
		if held != nil {
			return replay(w, r, held, aead, limit)
		}
		fp := newFingerprint(r)
		r.Body = readCloser{io.TeeReader(r.Body, fp), r.Body}
		rw := &recorder{header: http.Header{}, status: http.StatusOK}
		if err := h(rw, r); err != nil || rw.status >= 300 {
			s.settle(r, "release", func(ctx context.Context) error {
				return s.store.ReleaseIdempotency(ctx, rec.Scope, rec.Key, rec.Claim)
			})
			return errOr(err, func() error { return rw.send(w) })
		}
		io.Copy(fp, io.LimitReader(r.Body, limit+1)) // what the handler left unread
		rec.Done, rec.Fingerprint, rec.Status = true, hex.EncodeToString(fp.Sum(nil)), rw.status
		header, body := rw.kept()
		rec.Header, rec.Body = sealKept(aead, rec.Scope, header, body)
		s.settle(r, "complete", func(ctx context.Context) error { return s.store.CompleteIdempotency(ctx, rec) })
		return rw.send(w)
	}
}

// errOr returns err if set, and otherwise runs next.
func errOr(err error, next func() error) error {
	if err != nil {
		return err
	}
	return next()
}

// idempotencyKey returns the SHA-256 (hex) of r's Idempotency-Key and the
// key itself, false without one. The header is a structured-field string
// (quoted) or, as many clients send it, bare; 1 to 255 visible ASCII
// characters.
func idempotencyKey(r *http.Request) (sum, raw string, ok bool, err error) {
	vs := r.Header.Values("Idempotency-Key")
	if len(vs) == 0 {
		return "", "", false, nil
	}
	v := vs[0]
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if len(vs) > 1 || len(v) == 0 || len(v) > 255 || strings.IndexFunc(v, func(c rune) bool { return c < 0x20 || c > 0x7e }) >= 0 {
		return "", "", false, likeness.Errorf(likeness.EINVALID, "Idempotency-Key must be one value of 1 to 255 visible ASCII characters, e.g. a UUID")
	}
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:]), v, true, nil
}

// sealedPrefix starts a kept answer's header and body as sealKept seals
// them.
const sealedPrefix = "lk1:"

// keptAEAD is the AEAD a kept answer is sealed with: AES-256-GCM (the
// standard library's) under a key derived by HKDF-SHA256 from the client's
// Idempotency-Key, salted with the record's scope. The store holds only the
// key's SHA-256, so the answer does not rest in plain text, and a retry,
// which brings the key, opens it. A key with little entropy ("1") protects
// little: the API's description asks for a UUID.
func keptAEAD(raw, scope string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, []byte(raw), []byte(scope), "likeness idempotent answer v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// sealKept seals a kept answer's header and body with aead (see
// keptAEAD), each bound to its part and the record's scope.
func sealKept(aead cipher.AEAD, scope string, header, body []byte) ([]byte, []byte) {
	seal := func(part string, b []byte) []byte {
		return aead.Seal([]byte(sealedPrefix), nil, b, []byte(part+"\x00"+scope))
	}
	return seal("header", header), seal("body", body)
}

// openKept opens what sealKept sealed. Every record of a sealed scope is
// sealed: one that is not was not written by sealKept, and is refused.
func openKept(aead cipher.AEAD, scope string, header, body []byte) ([]byte, []byte, error) {
	open := func(part string, b []byte) ([]byte, error) {
		rest, ok := bytes.CutPrefix(b, []byte(sealedPrefix))
		if !ok {
			return nil, errors.New("kept answer is not sealed")
		}
		return aead.Open(nil, nil, rest, []byte(part+"\x00"+scope))
	}
	h, err := open("header", header)
	if err != nil {
		return nil, nil, err
	}
	b, err := open("body", body)
	return h, b, err
}

// newFingerprint starts the hash that tells two requests under one key
// apart: method, path, query and content type; the body is added as it is read.
func newFingerprint(r *http.Request) hash.Hash {
	h := sha256.New()
	for _, part := range []string{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type")} {
		io.WriteString(h, part)
		h.Write([]byte{0})
	}
	return h
}

// replay answers a retry from the record that holds its key: 409 while the
// first request is in flight, 422 if the retry is not the same request,
// and otherwise the first answer.
func replay(w http.ResponseWriter, r *http.Request, held *likeness.IdempotentRequest, aead cipher.AEAD, limit int64) error {
	if !held.Done {
		w.Header().Set("Retry-After", "1")
		return likeness.Errorf(likeness.ECONFLICT, "a request with this Idempotency-Key is in progress; retry shortly")
	}
	fp := newFingerprint(r)
	if _, err := io.Copy(fp, io.LimitReader(r.Body, limit+1)); err != nil {
		return likeness.Errorf(likeness.EINVALID, "could not read the request body")
	}
	if hex.EncodeToString(fp.Sum(nil)) != held.Fingerprint {
		return likeness.Errorf(likeness.EUNPROCESSABLE, "this Idempotency-Key was already used for a different request; send a new key with a new request")
	}
	header, body, err := openKept(aead, held.Scope, held.Header, held.Body)
	if err != nil {
		// Only a key whose SHA-256 matched can get here: the record is
		// damaged. The write was made once; say so rather than make it again.
		return fmt.Errorf("httpapi: open kept answer: %w", err)
	}
	var hdr http.Header
	json.Unmarshal(header, &hdr)
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	w.Header().Set(ReplayedHeader, "true")
	w.WriteHeader(held.Status)
	_, err = w.Write(body)
	return err
}

// replayed reports whether an answer came from the idempotency store (it
// is not audited twice).
func replayed(w http.ResponseWriter) bool { return w.Header().Get(ReplayedHeader) != "" }

// settle runs op (storing an answer or releasing a key) now and, if storage
// is down, again in the background for up to settleFor: a key left in
// flight would answer 409 until its lease ran out.
func (s *Server) settle(r *http.Request, what string, op func(context.Context) error) {
	base := context.WithoutCancel(r.Context())
	try := func() error {
		ctx, cancel := context.WithTimeout(base, 5*time.Second)
		defer cancel()
		return op(ctx)
	}
	err := try()
	if err == nil || likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return
	}
	go func() {
		deadline := time.Now().Add(settleFor)
		for wait := 100 * time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, 5*time.Second) {
			time.Sleep(wait)
			if err = try(); err == nil || likeness.ErrorCode(err) == likeness.ENOTFOUND {
				return
			}
		}
		s.log.Error("could not settle an idempotency key; it stays held until its lease ends", "op", what, "route", r.Pattern, "err", err)
	}()
}

// sweepIdempotency deletes expired keys, at most once an hour per server.
func (s *Server) sweepIdempotency(ctx context.Context, now time.Time) {
	last := s.idem.lastSweep.Load()
	if now.Unix()-last < 3600 || !s.idem.lastSweep.CompareAndSwap(last, now.Unix()) {
		return
	}
	if _, err := s.store.SweepIdempotency(ctx, now.Add(-IdempotencyTTL)); err != nil {
		s.log.Warn("idempotency key sweep failed", "err", err)
	}
}

// recorder holds a handler's answer until the idempotency record is settled.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (rw *recorder) Header() http.Header { return rw.header }

func (rw *recorder) WriteHeader(code int) {
	if !rw.wrote {
		rw.status, rw.wrote = code, true
	}
}

func (rw *recorder) Write(b []byte) (int, error) {
	rw.WriteHeader(http.StatusOK)
	return rw.body.Write(b)
}

// kept returns the headers and body to store.
func (rw *recorder) kept() ([]byte, []byte) {
	hdr := http.Header{}
	for _, k := range keptHeaders {
		if vs := rw.header.Values(k); len(vs) > 0 {
			hdr[k] = vs
		}
	}
	body := rw.body.Bytes()
	if len(body) > maxKeptResponse {
		hdr.Set("Content-Type", "application/json")
		body = []byte(`{"replayed":true,"message":"the first answer was too large to keep; read the resource instead"}` + "\n")
	}
	h, _ := json.Marshal(hdr)
	return h, body
}

// send writes the recorded answer to w.
func (rw *recorder) send(w http.ResponseWriter) error {
	for k, vs := range rw.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(rw.status)
	_, err := w.Write(rw.body.Bytes())
	return err
}

type readCloser struct {
	io.Reader
	io.Closer
}
