package response

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
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
