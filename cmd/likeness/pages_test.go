package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/dataset"
	"likeness/internal/httpapi"
	"likeness/internal/vault"
	"likeness/internal/web"
)

// The portal, as serve wires it, tells a person which training sets and
// models used their data, and that a withdrawal took them out. It is one
// scenario from start to finish; splitting it would hide the order.
func TestPortalShowsTrainingLineage(t *testing.T) {
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "test", Role: likeness.RoleAdmin})
	dir := t.TempDir()
	c := config{dataDir: dir, policyFile: erasePolicy}
	d, err := c.open(ctx, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sub, _, err := d.subjects.CreateSubject(ctx, "lineage", "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := d.notices.Notice("en")
	if _, err := d.consent.Grant(ctx, &likeness.GrantRequest{SubjectID: sub.ID, Purposes: []string{"voice-transcription"},
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.vault.Ingest(ctx, &vault.Upload{SubjectID: sub.ID, Purpose: "voice-transcription", Category: "transcript",
		ContentType: "text/plain", Body: strings.NewReader("a call transcript")}); err != nil {
		t.Fatal(err)
	}
	ds, err := d.datasets.Build(ctx, &dataset.BuildRequest{Purpose: "voice-transcription", Categories: []string{"transcript"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.datasets.RegisterModel(ctx, "search-model-7", ds.ID); err != nil {
		t.Fatal(err)
	}

	api := httpapi.New(d.apiConfig(nil))
	h, err := withPages(ctx, d, api, pageFlags{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, token, err := httpapi.CreateAPIKey(ctx, d.store, "a", likeness.RoleAdmin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/subjects/"+sub.ID+"/portal-links", bytes.NewReader(nil))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var link struct{ URL string }
	json.NewDecoder(res.Body).Decode(&link)
	res.Body.Close()
	if res.StatusCode != 201 || link.URL == "" {
		t.Fatalf("portal link: %d", res.StatusCode)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	get := func(url string) string {
		t.Helper()
		res, err := browser.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if login := get(srv.URL + "/console/login"); !strings.Contains(login, `name="key"`) && !strings.Contains(login, "API key") {
		t.Fatal("serve does not mount the operator console")
	}
	get(link.URL)
	page := get(srv.URL + "/me")
	for _, want := range []string{"AI training that used your data", ds.ID + " v1", "search-model-7", "in use"} {
		if !strings.Contains(page, want) {
			t.Fatalf("portal lacks %q", want)
		}
	}
	if _, err := d.consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub.ID, Purpose: "voice-transcription"}); err != nil {
		t.Fatal(err)
	}
	if page := get(srv.URL + "/me"); !strings.Contains(page, "your data is left out of its next version") {
		t.Fatal("portal does not show the dataset as withdrawn after the withdrawal")
	}
}

// The portal's access log, as serve wires it, tells a person what a
// withdrawal erased.
func TestPortalAccessLogShowsTheErasureAfterAWithdrawal(t *testing.T) {
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "test", Role: likeness.RoleAdmin})
	dir := t.TempDir()
	sub, _ := seedSubject(t, dir) // a voice recording and its transcript, for voice-transcription
	c := config{dataDir: dir, policyFile: erasePolicy}
	d, err := c.open(ctx, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "voice-transcription"}); err != nil {
		t.Fatal(err)
	}
	entries, err := accessLog{d}.SubjectAccessLog(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "erased after withdrawal of voice-transcription" && e.Purpose == "voice-transcription" && e.Kind == "erased" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("portal access log %+v: %d erasure lines, want 2 (the recording and its transcript)", entries, n)
	}
	if files := filesUnder(t, filepath.Join(dir, "blobs")); len(files) != 0 {
		t.Fatalf("blobs left after the withdrawal: %v", files)
	}
}

// The portal's "who used your data" names who read (a role, or a named
// operator) and, apart, whom for: not the recipient twice.
func TestThePortalsAccessLogNamesWhoReadAndForWhom(t *testing.T) {
	withDeployment(t, t.TempDir(), func(ctx context.Context, d *deployment) {
		sub, ids := consentingSubject(t, ctx, d, "ext-portal", 1)
		pipe := likeness.WithActor(ctx, likeness.Actor{KeyID: "key_pipe", Role: likeness.RolePipeline})
		_, rc, err := d.vault.Open(pipe, &vault.Access{AssetID: ids[3], Purpose: "ai-training", Recipient: "acme-ml"})
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		entries, err := accessLog{d}.SubjectAccessLog(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		var read *web.AccessEntry
		for i := range entries {
			if entries[i].Action == "content read" {
				read = &entries[i]
			}
		}
		if read == nil || read.Who != "pipeline" || read.Recipient != "acme-ml" || read.Kind != "read" {
			t.Fatalf("the read: %+v (all %+v); want who pipeline, for acme-ml", read, entries)
		}
	})
}
