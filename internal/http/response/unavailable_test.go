package response

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"syscall"
	"testing"

	"likeness"
)

// pgError stands in for *pgconn.PgError, which has the same method.
type pgError struct{ code string }

func (e *pgError) Error() string    { return "ERROR: terminating (SQLSTATE " + e.code + ")" }
func (e *pgError) SQLState() string { return e.code }

func TestStorageTroubleIsUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"wrapped connection refused", fmt.Errorf("sqlstore: append events: %w", refused), true},
		{"bad connection", driver.ErrBadConn, true},
		{"connection done", fmt.Errorf("sqlstore: x: %w", sql.ErrConnDone), true},
		{"deadline", fmt.Errorf("sqlstore: read subject: %w", context.DeadlineExceeded), true},
		{"admin shutdown", fmt.Errorf("ledgerlog: sync: %w", &pgError{"57P01"}), true},
		{"crash shutdown", &pgError{"57P02"}, true},
		{"cannot connect now", &pgError{"57P03"}, true},
		{"connection failure class", &pgError{"08006"}, true},
		{"unique violation", &pgError{"23505"}, false},
		{"plain error", errors.New("disk on fire"), false},
		{"cancelled by the client", context.Canceled, false},
		{"domain error keeps its code", errors.Join(likeness.Errorf(likeness.EINTERNAL, "certificate does not verify"), refused), false},
		{"nil", nil, false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestUnavailableStorageAnswers503WithRetryAfter(t *testing.T) {
	w := httptest.NewRecorder()
	Error(w, httptest.NewRequest("POST", "/v1/x", nil), nil, fmt.Errorf("sqlstore: append: %w", &pgError{"57P01"}))
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("%d Retry-After=%q, want 503 with Retry-After: 1", w.Code, w.Header().Get("Retry-After"))
	}
	var body ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != likeness.EUNAVAILABLE || body.Error.Message != unavailableMessage {
		t.Fatalf("body %s", w.Body)
	}
}
