package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"likeness"
	"likeness/internal/httpapi"
)

// keyed sends body (JSON unless ctype is given) as role with an
// Idempotency-Key and returns the answer and its headers.
func (e *env) keyed(role likeness.Role, method, path, key, ctype string, body []byte) (resp, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
		if ctype == "" {
			ctype = "application/json"
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	req.Header.Set("Idempotency-Key", key)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b}, res.Header
}

func (e *env) grantBody(purposes ...string) []byte {
	n := e.notice("en")
	b, _ := json.Marshal(map[string]any{"purposes": purposes, "notice_version": n.Version, "notice_sha256": n.SHA256,
		"method": "checkbox", "language": "en"})
	return b
}

func TestRetriedGrantWithTheSameKeyIsRecordedOnce(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			sub := e.subject("idem-grant", "DE")
			path := "/v1/subjects/" + sub + "/consents"
			body := e.grantBody("ai-training")
			first, _ := e.keyed(likeness.RoleCollector, "POST", path, "grant-1", "", body)
			if first.status != 201 {
				t.Fatalf("grant: %d %s", first.status, first.body)
			}
			again, hdr := e.keyed(likeness.RoleCollector, "POST", path, "grant-1", "", body)
			if again.status != 201 || !bytes.Equal(again.body, first.body) || hdr.Get(httpapi.ReplayedHeader) != "true" ||
				hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("retry: %d %v %s, want the first answer replayed", again.status, hdr, again.body)
			}
			assertLedgerSize(t, e, 1)

			other, _ := e.keyed(likeness.RoleCollector, "POST", path, "grant-1", "", e.grantBody("ai-training", "voice-transcription"))
			if other.status != 422 || other.errCode(t) != likeness.EUNPROCESSABLE {
				t.Fatalf("same key, another body: %d %s, want 422", other.status, other.body)
			}
			// The same key from another caller, or on another route, is another request.
			wd, _ := e.keyed(likeness.RoleCollector, "POST", path+"/ai-training/withdraw", "grant-1", "", nil)
			if wd.status != 201 {
				t.Fatalf("withdraw with a key used on another route: %d %s", wd.status, wd.body)
			}
			wd2, _ := e.keyed(likeness.RoleCollector, "POST", path+"/ai-training/withdraw", "grant-1", "", nil)
			if wd2.status != 201 || !bytes.Equal(wd.body, wd2.body) {
				t.Fatalf("withdraw retried: %d %s", wd2.status, wd2.body)
			}
			byAdmin, _ := e.keyed(likeness.RoleAdmin, "POST", path, "grant-1", "", body)
			if byAdmin.status != 201 || bytes.Equal(byAdmin.body, first.body) {
				t.Fatalf("another caller's key: %d %s, want a new grant", byAdmin.status, byAdmin.body)
			}
			assertLedgerSize(t, e, 3)
		})
	}
}

func TestARefusedRequestReleasesItsKey(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("idem-refused", "DE")
	path := "/v1/subjects/" + sub + "/consents"
	var stale map[string]any
	json.Unmarshal(e.grantBody("ai-training"), &stale)
	stale["notice_version"] = 99
	b, _ := json.Marshal(stale)
	if r, _ := e.keyed(likeness.RoleCollector, "POST", path, "k", "", b); r.status != 409 {
		t.Fatalf("stale notice: %d %s", r.status, r.body)
	}
	if r, _ := e.keyed(likeness.RoleCollector, "POST", path, "k", "", e.grantBody("ai-training")); r.status != 201 {
		t.Fatalf("corrected retry under the same key: %d %s", r.status, r.body)
	}
	if r, _ := e.keyed(likeness.RoleCollector, "POST", path, "", "", e.grantBody("ai-training")); r.status != 400 {
		t.Fatalf("empty key: %d %s", r.status, r.body)
	}
	assertLedgerSize(t, e, 1)
}

func TestKeyInFlightAnswers409(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("idem-flight", "DE")
	path := "/v1/subjects/" + sub + "/consents"
	// Claim the key as the first request would, then retry it.
	now := e.clock.Now()
	keys, err := e.store.APIKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var collector string
	for _, k := range keys {
		if k.Role == likeness.RoleCollector {
			collector = k.ID
		}
	}
	sum := sha256Hex("k")
	if held, err := e.store.ClaimIdempotency(context.Background(), &likeness.IdempotentRequest{Scope: collector + " sealed POST " + "/v1/subjects/{id}/consents",
		Key: sum, Claim: "first", CreatedAt: now, LeaseUntil: now.Add(time.Minute)}, now, now.Add(-time.Hour)); err != nil || held != nil {
		t.Fatal(held, err)
	}
	got, hdr := e.keyed(likeness.RoleCollector, "POST", path, "k", "", e.grantBody("ai-training"))
	if got.status != 409 || hdr.Get("Retry-After") == "" {
		t.Fatalf("duplicate in flight: %d %v %s, want 409 with Retry-After", got.status, hdr, got.body)
	}
	assertLedgerSize(t, e, 0)
}

func TestUploadAndErasureAreIdempotent(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			sub := e.subject("idem-upload", "DE")
			if r := e.grant(sub, "ai-training"); r.status != 201 {
				t.Fatalf("grant: %d %s", r.status, r.body)
			}
			path := "/v1/subjects/" + sub + "/assets?purpose=ai-training&category=voice"
			body := wav("idem", 20000)
			first, _ := e.keyed(likeness.RoleCollector, "POST", path, "up-1", "audio/wav", body)
			again, hdr := e.keyed(likeness.RoleCollector, "POST", path, "up-1", "audio/wav", body)
			if first.status != 201 || again.status != 201 || !bytes.Equal(first.body, again.body) || hdr.Get(httpapi.ReplayedHeader) == "" {
				t.Fatalf("upload then retry: %d %s / %d %s", first.status, first.body, again.status, again.body)
			}
			if r, _ := e.keyed(likeness.RoleCollector, "POST", path, "up-1", "audio/wav", wav("other", 20000)); r.status != 422 {
				t.Fatalf("same key, other media: %d %s", r.status, r.body)
			}
			var list struct{ Assets []json.RawMessage }
			e.call(likeness.RoleCollector, "GET", "/v1/subjects/"+sub+"/assets", nil).json(t, &list)
			if len(list.Assets) != 1 {
				t.Fatalf("%d assets stored, want 1", len(list.Assets))
			}

			erase, _ := e.keyed(likeness.RoleAdmin, "DELETE", "/v1/subjects/"+sub, "erase-1", "", nil)
			again, hdr = e.keyed(likeness.RoleAdmin, "DELETE", "/v1/subjects/"+sub, "erase-1", "", nil)
			if erase.status != 200 || again.status != 200 || !bytes.Equal(erase.body, again.body) || hdr.Get(httpapi.ReplayedHeader) == "" {
				t.Fatalf("erase then retry: %d %s / %d %s", erase.status, erase.body, again.status, again.body)
			}
		})
	}
}

// TestAKeptAnswerIsSealedAndGoesWithItsPerson: the first answer to a
// grant sent with an Idempotency-Key carries the person's evidence (a typed
// signature); kept for retries, it is stored sealed, opened for a retry
// with the key, and deleted when the person is erased, so that a retry
// after the erasure makes the write again (and finds them gone) instead of
// handing back what they gave.
func TestAKeptAnswerIsSealedAndGoesWithItsPerson(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("idem-sealed", "US-IL")
	n := e.notice("en")
	const marker = "Jane Q. Idempotent-Signature"
	body, _ := json.Marshal(map[string]any{"purposes": []string{"ai-training"}, "notice_version": n.Version, "notice_sha256": n.SHA256,
		"method": "written", "language": "en", "evidence": map[string]string{"signature": marker}})
	path := "/v1/subjects/" + sub + "/consents"
	first, _ := e.keyed(likeness.RoleCollector, "POST", path, "grant-sealed-1", "", body)
	if first.status != 201 || !bytes.Contains(first.body, []byte(marker)) {
		t.Fatalf("grant: %d %s, want 201 with the evidence in the answer", first.status, first.body)
	}
	if scanFor(t, e.store, marker) {
		t.Fatal("the kept answer holds the evidence in plain text")
	}
	again, hdr := e.keyed(likeness.RoleCollector, "POST", path, "grant-sealed-1", "", body)
	if again.status != 201 || !bytes.Equal(again.body, first.body) || hdr.Get(httpapi.ReplayedHeader) != "true" {
		t.Fatalf("retry: %d %v %s, want the first answer replayed", again.status, hdr, again.body)
	}

	if r := e.call(likeness.RoleAdmin, "DELETE", "/v1/subjects/"+sub, nil); r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	after, hdr := e.keyed(likeness.RoleCollector, "POST", path, "grant-sealed-1", "", body)
	if after.status == 201 || hdr.Get(httpapi.ReplayedHeader) != "" || bytes.Contains(after.body, []byte(marker)) {
		t.Fatalf("retry after the erasure: %d %v %s, want the write refused, not the kept answer", after.status, hdr, after.body)
	}
	assertLedgerSize(t, e, 2) // the grant and the erasure
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
