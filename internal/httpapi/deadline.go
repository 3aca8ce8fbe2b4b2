package httpapi

import (
	"context"
	"net/http"
	"time"
)

// Every API request runs under a deadline, so a call into a database that
// stopped answering (a black-holed connection, a restart) fails as 503
// instead of holding the request open. The decision routes are the
// exception (see serveDecision): each of their blocking calls is bounded on
// its own.
const (
	// RequestTimeout bounds a request that moves no media.
	RequestTimeout = 15 * time.Second
	// StreamTimeout bounds a request that streams media (uploads and
	// content reads) whose size is not known in advance.
	StreamTimeout = time.Hour
	// uploadRate is the slowest upload, in bytes a second, the deadline of
	// an upload of known length allows for.
	uploadRate = 256 << 10
)

// streamingRoutes move media and get longer deadlines (see requestTimeout).
var streamingRoutes = map[string]bool{
	"POST /v1/subjects/{id}/assets":                true,
	"GET /v1/assets/{id}/content":                  true,
	"GET /v1/datasets/{id}/reviews/{item}/content": true,
}

// buildRoutes read, anonymize and write every member of a dataset; their
// length grows with the dataset, so they run under StreamTimeout. Each of
// their database calls still fails on its own when the database is gone.
var buildRoutes = map[string]bool{
	"POST /v1/datasets":              true,
	"POST /v1/datasets/{id}/rebuild": true,
}

// requestTimeout is how long r may run: RequestTimeout, or for a media
// stream RequestTimeout plus the body's length at uploadRate, at most
// StreamTimeout (which an unknown length gets).
func requestTimeout(r *http.Request) time.Duration {
	if buildRoutes[r.Pattern] {
		return StreamTimeout
	}
	if !streamingRoutes[r.Pattern] {
		return RequestTimeout
	}
	if r.Method != http.MethodPost || r.ContentLength < 0 {
		return StreamTimeout
	}
	return bodyTime(r.ContentLength)
}

// bodyTime is how long a request may take to send a body of n bytes:
// RequestTimeout plus n at uploadRate, at most StreamTimeout.
func bodyTime(n int64) time.Duration {
	return min(RequestTimeout+time.Duration(n/uploadRate)*time.Second, StreamTimeout)
}

// withDeadline returns r under its deadline; the caller calls cancel when
// the request is answered.
func withDeadline(r *http.Request) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout(r))
	return r.WithContext(ctx), cancel
}

// bodyDeadline bounds how long reading r's body may take, d from now: a
// context deadline does not stop a read that waits on the connection, so
// without it a caller that announces a body and never sends it holds the
// connection, and what was set aside for the body, for ever. Where the
// connection cannot take a deadline (a test's recorder), there is none.
func bodyDeadline(w http.ResponseWriter, d time.Duration) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
}
