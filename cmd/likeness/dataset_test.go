package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/dataset"
	"likeness/internal/vault"
)

// datasetJPEG is a photo with a face: an image purpose is anonymized by
// default, and a faceless photo would be held for review.
func datasetJPEG(t *testing.T, _ int) []byte {
	t.Helper()
	b, err := os.ReadFile("../../internal/anonymize/testdata/face.jpg")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withDeployment opens the deployment in dir, runs fn, and closes it.
func withDeployment(t *testing.T, dir string, fn func(ctx context.Context, d *deployment)) {
	t.Helper()
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "test", Role: likeness.RoleAdmin})
	c := config{dataDir: dir, policyFile: erasePolicy}
	d, err := c.open(ctx, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fn(ctx, d)
}

func consentingSubject(t *testing.T, ctx context.Context, d *deployment, ext string, seed int) (string, []string) {
	t.Helper()
	sub, _, err := d.subjects.CreateSubject(ctx, ext, "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := d.notices.Notice("en")
	evs, err := d.consent.Grant(ctx, &likeness.GrantRequest{SubjectID: sub.ID, Purposes: []string{"ai-training"},
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.vault.Ingest(ctx, &vault.Upload{SubjectID: sub.ID, Purpose: "ai-training", Category: "image",
		ContentType: "image/jpeg", Body: bytes.NewReader(datasetJPEG(t, seed))})
	if err != nil {
		t.Fatal(err)
	}
	return sub.ID, []string{sub.ID, ext, evs[0].ID, a.ID}
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDatasetCommandsBuildTaintAndRebuild(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	var keep, leave string
	var leaveIDs []string
	withDeployment(t, dir, func(ctx context.Context, d *deployment) {
		keep, _ = consentingSubject(t, ctx, d, "keep-me", 1)
		leave, leaveIDs = consentingSubject(t, ctx, d, "leave-me", 2)
	})
	storage := []string{"--data-dir", dir, "--policy", erasePolicy}
	code, stdout, stderr := runCLI(t, append([]string{"dataset", "build", "--purpose", "ai-training", "--category", "image",
		"--recipient", "acme-ml", "--out", out}, storage...)...)
	if code != 0 {
		t.Fatalf("dataset build exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "dataset build: 2 of 2 items (100%)") {
		t.Errorf("dataset build printed no progress line at the end:\n%s", stderr)
	}
	var v1 struct {
		ID, Path, Status string
		Version          int
		ItemCount        int `json:"item_count"`
	}
	if err := json.Unmarshal([]byte(stdout), &v1); err != nil {
		t.Fatalf("build output: %v: %s", err, stdout)
	}
	if v1.ItemCount != 2 || v1.Version != 1 || v1.Path != filepath.Join(out, v1.ID+"-v1") {
		t.Fatalf("build: %s", stdout)
	}
	if _, err := os.Stat(filepath.Join(v1.Path, "metadata.jsonl")); err != nil {
		t.Fatal(err)
	}
	withDeployment(t, dir, func(ctx context.Context, d *deployment) {
		if _, err := d.consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: leave, Purpose: "ai-training"}); err != nil {
			t.Fatal(err)
		}
		got, err := d.datasets.Get(ctx, v1.ID)
		if err != nil || got.Status != likeness.DatasetTainted {
			t.Fatalf("after withdrawal: %+v, %v", got, err)
		}
	})
	code, stdout, stderr = runCLI(t, append([]string{"dataset", "rebuild", v1.ID, "--out", out, "--progress", "0"}, storage...)...)
	if code != 0 {
		t.Fatalf("dataset rebuild exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, "dataset rebuild:") {
		t.Errorf("dataset rebuild --progress 0 printed a progress line:\n%s", stderr)
	}
	var v2 struct {
		ID, Path      string
		Version       int
		ItemCount     int    `json:"item_count"`
		PredecessorID string `json:"predecessor_id"`
	}
	json.Unmarshal([]byte(stdout), &v2)
	if v2.Version != 2 || v2.ItemCount != 1 || v2.PredecessorID != v1.ID {
		t.Fatalf("rebuild: %s", stdout)
	}
	withDeployment(t, dir, func(ctx context.Context, d *deployment) {
		ms, _ := d.store.DatasetMembers(ctx, v2.ID)
		if len(ms) != 1 || ms[0].SubjectID != keep {
			t.Fatalf("successor members = %+v, want only %s", ms, keep)
		}
	})
	for _, id := range leaveIDs {
		filepath.Walk(v2.Path, func(p string, info os.FileInfo, err error) error {
			if b, _ := os.ReadFile(p); !info.IsDir() && bytes.Contains(b, []byte(id)) {
				t.Errorf("%s holds %s", p, id)
			}
			return nil
		})
	}
	// The successor's folder, written again from the record alone, is the
	// one the rebuild wrote; the tainted version is not exported.
	again := filepath.Join(t.TempDir(), "export")
	code, _, stderr = runCLI(t, append([]string{"dataset", "export", v2.ID, "--out", again, "--progress", "0"}, storage...)...)
	if code != 0 || !strings.Contains(stderr, "manifest SHA-256 as recorded") {
		t.Fatalf("dataset export exit %d: %s", code, stderr)
	}
	for _, name := range []string{"metadata.jsonl", "card.md", "card.json"} {
		a, _ := os.ReadFile(filepath.Join(v2.Path, name))
		b, err := os.ReadFile(filepath.Join(again, v2.ID+"-v2", name))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("exported %s differs from the rebuild's (%v)", name, err)
		}
	}
	if code, _, stderr := runCLI(t, append([]string{"dataset", "export", v1.ID, "--out", again}, storage...)...); code != 1 || !strings.Contains(stderr, "tainted") {
		t.Errorf("export of the tainted version: exit %d, %s", code, stderr)
	}
	code, stdout, stderr = runCLI(t, append([]string{"dataset", "audit", v2.ID}, storage...)...)
	if code != 0 || !strings.Contains(stdout, `"dataset_id": "`+v2.ID) {
		t.Fatalf("dataset audit exit %d: %s %s", code, stdout, stderr)
	}
}

func TestDatasetCommandRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	storage := []string{"--data-dir", dir, "--policy", erasePolicy}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"dataset", "build", "--category", "image"}, 2, "--purpose and --category are required"},
		{[]string{"dataset", "build", "--purpose", "nope", "--category", "image"}, 1, `unknown purpose "nope"`},
		{[]string{"dataset", "build", "--purpose", "ai-training", "--category", "video"}, 1, `category "video" is not one of`},
		{[]string{"dataset", "rebuild", likeness.NewID("dst")}, 1, "not found"},
		{[]string{"dataset", "rebuild"}, 2, "takes one DATASET_ID"},
		{[]string{"dataset", "export", likeness.NewID("dst")}, 1, "not found"},
		{[]string{"dataset", "export"}, 2, "takes one DATASET_ID"},
	} {
		code, _, stderr := runCLI(t, append(append(c.args, "--out", out), storage...)...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Errorf("refused commands wrote %d entries", len(entries))
	}
}

func TestBuildProgressLineSaysHowFarAndHowLong(t *testing.T) {
	for _, tc := range []struct {
		p    dataset.BuildProgress
		want string
	}{
		{dataset.BuildProgress{Items: 4000, Done: 1000, Held: 12, Skipped: 3, Elapsed: 125 * time.Second},
			"dataset build: 1,000 of 4,000 items (25%), 8.0 items/s, 12 held for review, 3 skipped, about 6m15s left"},
		{dataset.BuildProgress{Items: 2, Done: 2, Elapsed: 1500 * time.Millisecond},
			"dataset build: 2 of 2 items (100%), 1.3 items/s in 1.5s"},
		{dataset.BuildProgress{}, "dataset build: 0 of 0 items in 0s"},
		{dataset.BuildProgress{Items: 3, Done: 1, Elapsed: 20 * time.Second, Current: 14200 * time.Millisecond},
			"dataset build: 1 of 3 items (33%), 0.1 items/s, about 40s left; item 2 at work for 14s"},
	} {
		if got := buildProgressLine("dataset build", tc.p); got != tc.want {
			t.Errorf("buildProgressLine(%+v)\n got %q\nwant %q", tc.p, got, tc.want)
		}
	}
}

// A one-off command run with another policy than the one in force (here
// none, the built-in one) refuses, and publishes nothing: publishing it
// would make every consent given under the policy serve runs with stop
// counting as soon as serve put its own back.
func TestAOneOffCommandRefusesAPolicyNotInForce(t *testing.T) {
	dir := t.TempDir()
	var sub string
	withDeployment(t, dir, func(ctx context.Context, d *deployment) { sub, _ = consentingSubject(t, ctx, d, "ext-1", 1) })
	versions := func() int64 {
		var latest int64
		withDeployment(t, dir, func(ctx context.Context, d *deployment) {
			nv, err := d.store.LatestNotice(ctx)
			if err != nil {
				t.Fatal(err)
			}
			latest = nv.Version
		})
		return latest
	}
	before := versions()
	src, err := os.ReadFile(erasePolicy)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(t.TempDir(), "likeness.yaml") // edited since serve loaded it
	if err := os.WriteFile(edited, append(src, "# edited\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"dataset", "audit", likeness.NewID("dst"), "--data-dir", dir},
		{"dataset", "build", "--purpose", "ai-training", "--category", "image", "--out", filepath.Join(dir, "out"), "--data-dir", dir, "--policy", edited},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != 1 || !strings.Contains(stderr, "is not the policy in force") || !strings.Contains(stderr, "--policy serve runs with") {
			t.Errorf("%v: exit %d, stderr %q; want 1 and why", args, code, stderr)
		}
	}
	if after := versions(); after != before {
		t.Errorf("refused commands published notice version %d (was %d)", after, before)
	}
	withDeployment(t, dir, func(ctx context.Context, d *deployment) {
		dec := d.engine.Decide(&likeness.DecisionRequest{SubjectID: sub, Purpose: "ai-training", Category: "image"})
		if !dec.Allow {
			t.Errorf("the consent stopped counting: %v", dec.Reasons)
		}
	})
	if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused build wrote its folder: %v", err)
	}
}
