package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"likeness/internal/snapshot"
)

func TestAStartingReplicaIsAliveButAnswersNothingFromItsIndex(t *testing.T) {
	opened := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("served")) })
	g := &startGate{progress: &snapshot.Progress{}}
	ask := func(method, path, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer lk_anything")
		g.ServeHTTP(w, r)
		return w
	}
	if w := ask("GET", "/healthz", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"starting"`) {
		t.Fatalf("/healthz while loading: %d %s; want 200 starting", w.Code, w.Body)
	}
	if w := ask("GET", "/readyz", ""); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("/readyz while loading: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/decisions", `{"subject_id":"sub_x","purpose":"p","data_category":"image"}`},
		{"POST", "/v1/decisions/batch", `{"items":[]}`},
		{"POST", "/v1/subjects", `{"external_id":"u"}`},
		{"GET", "/consent/x", ""},
		{"GET", "/console/login", ""},
	} {
		w := ask(c.method, c.path, c.body)
		var e struct{ Error struct{ Code string } }
		json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != 503 || w.Header().Get("Retry-After") == "" || e.Error.Code != "unavailable" {
			t.Fatalf("%s %s while loading: %d %s (Retry-After %q); want 503 unavailable with Retry-After",
				c.method, c.path, w.Code, w.Body, w.Header().Get("Retry-After"))
		}
	}
	g.open(opened)
	for _, path := range []string{"/v1/decisions", "/healthz", "/readyz"} {
		if w := ask("GET", path, ""); w.Body.String() != "served" {
			t.Fatalf("%s once open went to %q, want the real handler", path, w.Body)
		}
	}
}
