package response

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"likeness"
)

func TestErrorTakesItsStatusFromTheOneTable(t *testing.T) {
	for err, want := range map[error]int{
		likeness.Errorf(likeness.EINVALID, "x"):                               400,
		likeness.Errorf(likeness.EGONE, "x"):                                  410,
		likeness.Errorf(likeness.EUNAVAILABLE, "x"):                           503,
		&likeness.DeniedError{Message: "no", Reasons: []string{"no_consent"}}: 403,
		errors.New("disk on fire"):                                            500,
	} {
		w := httptest.NewRecorder()
		Error(w, httptest.NewRequest("GET", "/v1/x", nil), nil, err)
		var body ErrorBody
		if w.Code != want || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error.Code != likeness.ErrorCode(err) {
			t.Errorf("%v: %d %s, want %d", err, w.Code, w.Body, want)
		}
		if want == 500 && body.Error.Message != "internal error" {
			t.Errorf("an internal error shows its detail: %s", w.Body)
		}
	}
}

// A storage error that quotes a blob key is logged without the person's
// subject and asset ids.
func TestAServerErrorIsLoggedWithoutIDs(t *testing.T) {
	sub, ast := likeness.NewID("sub"), likeness.NewID("ast")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err := fmt.Errorf(`vault: read blob: fsblob: get "subjects/%s/%s": %w`, sub, ast, errors.New("blob: not found"))
	Error(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/assets/"+ast+"/content", nil), log, err)
	if strings.Contains(logs.String(), sub) || strings.Contains(logs.String(), ast) {
		t.Errorf("the log names the subject or the asset: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `subjects/sub_…/ast_…`) || !strings.Contains(logs.String(), "blob: not found") {
		t.Errorf("the log lost what failed: %s", logs.String())
	}
}

// A request its client gave up on is no server failure: no 500, no error
// in the log. A cancellation the client did not cause (the request's
// context still live) stays a 500.
func TestAnAbandonedRequestIsNotAServerError(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	Error(w, httptest.NewRequest("POST", "/v1/datasets", nil).WithContext(ctx), log, fmt.Errorf("sqlstore: read asset: %w", context.Canceled))
	if w.Code != StatusClientClosed || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("abandoned: %d, log %q; want %d and no error logged", w.Code, logs.String(), StatusClientClosed)
	}
	logs.Reset()
	w = httptest.NewRecorder()
	Error(w, httptest.NewRequest("POST", "/v1/datasets", nil), log, fmt.Errorf("worker: %w", context.Canceled))
	if w.Code != 500 || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("cancelled inside a live request: %d, log %q; want 500, logged", w.Code, logs.String())
	}
}
