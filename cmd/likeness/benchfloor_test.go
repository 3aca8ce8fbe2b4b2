package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"likeness/internal/httpapi"
)

// The floor answers the API's decision question in the API's shape, and
// only to its bearer key: otherwise the ratio would compare unlike work.
func TestFloorAnswersTheDecisionQuestionLikeTheAPI(t *testing.T) {
	srv := httptest.NewServer(floorHandler("floor-token"))
	defer srv.Close()
	call := func(token, method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(res.Body)
		return res.StatusCode, buf.Bytes()
	}
	_, b := call("floor-token", "POST", "/v1/subjects", `{}`)
	var sub struct{ ID string }
	json.Unmarshal(b, &sub)
	call("floor-token", "POST", "/v1/subjects/"+sub.ID+"/consents", `{"purposes":["profile-photo"]}`)
	ask := `{"subject_id":"` + sub.ID + `","purpose":"profile-photo","data_category":"image"}`
	if code, _ := call("wrong-token", "POST", "/v1/decisions", ask); code != 401 {
		t.Fatalf("a wrong key got %d, want 401", code)
	}
	for _, c := range []struct {
		body    string
		allow   bool
		reasons int
	}{{ask, true, 0}, {`{"subject_id":"sub_other","purpose":"profile-photo","data_category":"image"}`, false, 1}} {
		code, b := call("floor-token", "POST", "/v1/decisions", c.body)
		var d httpapi.DecisionJSON
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil || code != 200 {
			t.Fatalf("%d %s: %v", code, b, err)
		}
		if d.Allow != c.allow || len(d.Reasons) != c.reasons || (d.ConsentEvent != nil) != c.allow || d.Reasons == nil {
			t.Errorf("floor answered %s", b)
		}
	}
}
