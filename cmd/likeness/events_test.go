package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"likeness/internal/httpapi"
	"likeness/internal/outbox"
)

type delivery struct {
	header http.Header
	body   []byte
}

// TestServedEventsAreSignedCloudEventsOfTheCatalogue runs `serve` with a
// webhook, grants and withdraws, and checks what arrives: Standard Webhooks
// signatures over a CloudEvents 1.0 structured body whose source is the
// deployment's ledger origin, each event valid against the schema the
// OpenAPI document (and so docs/asyncapi.yaml) gives its type.
func TestServedEventsAreSignedCloudEventsOfTheCatalogue(t *testing.T) {
	got := make(chan delivery, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Clone(), b}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	secret := outbox.NewWebhookSecret()
	const admin = "events-test-admin-token-0123456789"
	t.Setenv("LIKENESS_ADMIN_TOKEN", admin)
	m, _ := start(t, false, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0",
		"--policy", filepath.Join("..", "..", "policy", "example.yaml"),
		"--webhook-url", hook.URL, "--webhook-secret", secret)
	call := func(method, path, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, m.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, b, want)
		}
		return b
	}
	var sub struct{ ID string }
	json.Unmarshal(call("POST", "/v1/subjects", `{"external_id":"events-1","jurisdiction":"EU-DE"}`, 201), &sub)
	var notice struct {
		Version int    `json:"version"`
		SHA256  string `json:"sha256"`
	}
	json.Unmarshal(call("GET", "/v1/notices/current?lang=en", "", 200), &notice)
	grant, _ := json.Marshal(map[string]any{"purposes": []string{"ai-training"}, "method": "checkbox", "language": "en",
		"notice_version": notice.Version, "notice_sha256": notice.SHA256})
	call("POST", "/v1/subjects/"+sub.ID+"/consents", string(grant), 201)
	call("POST", "/v1/subjects/"+sub.ID+"/consents/ai-training/withdraw", "", 201)
	origin, _, _ := strings.Cut(strings.TrimSpace(string(call("GET", "/v1/ledger/key", "", 200))), "+")

	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for len(types) < 2 {
		var d delivery
		select {
		case d = <-got:
		case <-time.After(20 * time.Second):
			t.Fatalf("the webhook received %v within 20 s, want consent.granted and consent.withdrawn", types)
		}
		if err := outbox.VerifyWebhook(secret, d.header, d.body, time.Now(), time.Minute); err != nil {
			t.Errorf("signature: %v", err)
		}
		if ct := d.header.Get("Content-Type"); ct != "application/cloudevents+json" {
			t.Errorf("Content-Type %q", ct)
		}
		var ev outbox.Envelope
		if err := json.Unmarshal(d.body, &ev); err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
		if ev.SpecVersion != "1.0" || ev.Source != "urn:likeness:"+origin || ev.Subject != sub.ID || ev.ID != d.header.Get("webhook-id") {
			t.Errorf("event attributes: %s (origin %s, subject %s)", d.body, origin, sub.ID)
		}
		hookDoc := doc.Webhooks[ev.Type]
		if hookDoc == nil {
			t.Fatalf("event type %s is not in the OpenAPI webhooks", ev.Type)
		}
		var v any
		json.Unmarshal(d.body, &v)
		schema := hookDoc.Post.RequestBody.Value.Content["application/cloudevents+json"].Schema.Value
		if err := schema.VisitJSON(v); err != nil {
			t.Errorf("%s does not match its schema: %v\n%s", ev.Type, err, d.body)
		}
		// The schema has teeth: without its CloudEvents version the same
		// event is refused.
		delete(v.(map[string]any), "specversion")
		if schema.VisitJSON(v) == nil {
			t.Errorf("%s without specversion passes its schema", ev.Type)
		}
	}
	if strings.Join(types, ",") != "consent.granted,consent.withdrawn" {
		t.Errorf("events arrived as %v", types)
	}
}
