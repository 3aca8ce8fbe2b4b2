package likeness

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in httpapi; callers switch on the
// code, never on the message.
const (
	EINVALID       = "invalid"            // malformed input: 400
	EUNAUTHORIZED  = "unauthorized"       // no or bad credentials: 401
	EFORBIDDEN     = "forbidden"          // authenticated but not allowed, or consent missing: 403
	ENOTFOUND      = "not_found"          // 404
	EMETHOD        = "method_not_allowed" // the path exists, not with this method: 405
	ECONFLICT      = "conflict"           // stale notice, duplicate: 409
	EGONE          = "gone"               // erased subject or asset: 410
	ETOOLARGE      = "too_large"          // body over the limit: 413
	EUNSUPPORTED   = "unsupported"        // wrong content type: 415
	ERATELIMIT     = "rate_limited"       // 429
	EUNPROCESSABLE = "unprocessable"      // well-formed but refused, e.g. an Idempotency-Key reused for another request: 422
	EINTERNAL      = "internal"           // 500
	EUNAVAILABLE   = "unavailable"        // storage down: 503, retry later
)

// Error is the domain error: a stable code and a message safe to show a user.
// Messages never contain secrets, media bytes or raw identifiers.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var d *DeniedError
	if errors.As(err, &d) {
		return EFORBIDDEN
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err; internal errors get a
// generic message so their detail stays in the logs.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	var d *DeniedError
	if errors.As(err, &d) {
		return d.Message
	}
	return "internal error"
}

// DeniedError is a refusal by a decision: a 403 that carries the decision's
// reason codes so the caller knows what consent is missing.
type DeniedError struct {
	Message string
	Reasons []string
}

func (e *DeniedError) Error() string { return EFORBIDDEN + ": " + e.Message }
