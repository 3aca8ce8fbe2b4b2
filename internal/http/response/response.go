// Package response writes what likeness's HTTP adapters answer: JSON bodies,
// JSON errors, and the one table that turns a likeness.Error code into an
// HTTP status. The API, the pages and the console all take their statuses
// from Status, so a code means the same status everywhere.
package response

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"likeness"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	likeness.EINVALID:       http.StatusBadRequest,
	likeness.EUNAUTHORIZED:  http.StatusUnauthorized,
	likeness.EFORBIDDEN:     http.StatusForbidden,
	likeness.ENOTFOUND:      http.StatusNotFound,
	likeness.EMETHOD:        http.StatusMethodNotAllowed,
	likeness.ECONFLICT:      http.StatusConflict,
	likeness.EGONE:          http.StatusGone,
	likeness.ETOOLARGE:      http.StatusRequestEntityTooLarge,
	likeness.EUNSUPPORTED:   http.StatusUnsupportedMediaType,
	likeness.ERATELIMIT:     http.StatusTooManyRequests,
	likeness.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	likeness.EINTERNAL:      http.StatusInternalServerError,
	likeness.EUNAVAILABLE:   http.StatusServiceUnavailable,
}

// Status is the HTTP status of err's code (see likeness.ErrorCode, and
// Unavailable for storage trouble, which is a 503); 500 for a code the
// table does not know, 200 for nil.
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if s, ok := statusOf[code(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// StatusClientClosed is the status recorded for a request its client
// abandoned (nginx's 499): nobody reads it.
const StatusClientClosed = 499

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Reasons []string `json:"reasons,omitempty"`
	} `json:"error"`
}

// Error writes err as an ErrorBody with its status. Errors of 500 and
// above are logged to log with the route pattern (never the path, which may
// carry a secret, nor the body) and shown with a generic message; a 503
// (storage unavailable) tells the client to retry after a second.
//
// A request the client gave up on (its context cancelled, and the error
// that cancellation) is no failure of the server: it is answered
// StatusClientClosed, for the access log and the metrics, and logged at
// Info.
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		if log != nil {
			log.Info("request abandoned by the client", "method", r.Method, "route", r.Pattern)
		}
		w.WriteHeader(StatusClientClosed)
		return
	}
	var body ErrorBody
	body.Error.Code, body.Error.Message = code(err), message(err)
	var denied *likeness.DeniedError
	if errors.As(err, &denied) {
		body.Error.Reasons = denied.Reasons
	}
	status := Status(err)
	if status >= 500 && log != nil {
		log.Error("request failed", "method", r.Method, "route", r.Pattern, "err", likeness.RedactIDs(err.Error()))
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	JSON(w, status, &body)
}

// JSON writes v as a JSON body with status.
func JSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
