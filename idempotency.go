package likeness

import "time"

// IdempotentRequest is one use of an Idempotency-Key: a write the API
// promises to perform at most once per caller, route and key. While Done is
// false it is in flight and holds the key until LeaseUntil; once done it
// keeps the first answer, which a retry gets back instead of a second write.
type IdempotentRequest struct {
	Scope string // who and where: the caller's API key id and the route
	// SubjectID is the person the write is about, where the route names
	// one: the record is deleted with their data key on erasure (see
	// ErasureStore.DestroySubjectKey), in flight or done.
	SubjectID string
	Key       string // the SHA-256 (hex) of the client's Idempotency-Key
	Claim     string // random token of the claim that owns the record

	CreatedAt  time.Time
	LeaseUntil time.Time // an in-flight claim older than this may be taken over

	Done        bool
	Fingerprint string // SHA-256 (hex) of the request that produced the answer
	Status      int
	Header      []byte // the kept response headers, JSON
	Body        []byte // the response body, at most a few tens of KiB
}

// IdempotencyStore keeps idempotent requests. Implementations must be safe
// for concurrent use by several replicas sharing the database.
type IdempotencyStore interface {
	// ClaimIdempotency records r (in flight) unless a record holds its
	// scope and key. A record created before expired, or in flight with a
	// lease before now, is replaced. It returns nil when r now holds the
	// key, and otherwise the record that does, unchanged; of concurrent
	// claims at most one wins.
	ClaimIdempotency(ctx Context, r *IdempotentRequest, now, expired time.Time) (*IdempotentRequest, error)
	// CompleteIdempotency stores r's answer (Done, Fingerprint, Status,
	// Header, Body) on the record r.Claim holds; ENOTFOUND if that claim
	// was released or taken over.
	CompleteIdempotency(ctx Context, r *IdempotentRequest) error
	// ReleaseIdempotency deletes the in-flight record claim holds, so the
	// key may be used again; a done record, or one claimed by another
	// token, is left alone. Releasing twice is not an error.
	ReleaseIdempotency(ctx Context, scope, key, claim string) error
	// SweepIdempotency deletes records created before t and returns how many.
	SweepIdempotency(ctx Context, before time.Time) (int64, error)
}
