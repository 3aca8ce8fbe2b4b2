package deploytest

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness/internal/likenesstest"
)

// TestWithdrawalOnOneReplicaErasesTheAssetForEvery starts two serve
// processes on one database and one blob store, uploads a recording on the
// first, and withdraws the only purpose it was collected for on the second:
// the first must then answer 410 for it and its content, and its blob must
// be gone from the shared store.
func TestWithdrawalOnOneReplicaErasesTheAssetForEvery(t *testing.T) {
	c := startCluster(t, 2, "")
	ctx := context.Background()
	sub := c.subject(0, "withdrawn")
	before := blobs(t, c.dir) // the store's own marker (see blob.CheckShared)
	var asset struct{ ID string }
	c.send(0, "POST", "/v1/subjects/"+sub+"/assets?purpose=ai-training&category=voice",
		"audio/wav", likenesstest.WAV("erase-me", 200), 201, &asset, nil)
	if asset.ID == "" {
		t.Fatal("upload on replica 1: no asset id in the answer")
	}
	content := "/v1/assets/" + asset.ID + "/content?purpose=ai-training"
	if code, _, err := Do(ctx, "GET", c.replicas[0].URL+content, c.admin, nil); err != nil || code != 200 {
		t.Fatalf("content before the withdrawal on replica 1: %d %v", code, err)
	}
	if blobs(t, c.dir) <= before {
		t.Fatal("no new blob in the shared store after the upload: the test proves nothing")
	}

	c.withdraw(1, sub)
	deadline := time.Now().Add(5 * time.Second)
	for _, path := range []string{"/v1/assets/" + asset.ID, content} {
		until(t, deadline, func() (bool, string) {
			code, body, err := Do(ctx, "GET", c.replicas[0].URL+path, c.admin, nil)
			if err != nil {
				t.Fatal(err)
			}
			return code == 410, fmt.Sprintf("GET %s on replica 1, 5 s after the withdrawal on replica 2: %d %s, want 410", path, code, body)
		})
	}
	if n := blobs(t, c.dir); n != before {
		t.Fatalf("%d blobs in the shared store after the withdrawal, want %d (the store's marker alone)", n, before)
	}
}

// blobs counts the files in the deployment's blob store (which keeps one
// marker file of its own).
func blobs(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestMediaAreReleasedForTheirOwnPurposeOnEveryReplica uploads a recording
// for ai-training on one serve process from a person who also consents to
// voice-transcription, and asks the other process for it under each: its
// own purpose releases it, the other purpose is refused with
// purpose_not_collected_for, however willing the person is.
func TestMediaAreReleasedForTheirOwnPurposeOnEveryReplica(t *testing.T) {
	c := startCluster(t, 2, "")
	ctx := context.Background()
	sub := c.subject(0, "two-purposes")
	g := map[string]any{"purposes": []string{"voice-transcription"}, "method": "checkbox", "language": "en"}
	for k, v := range c.notice {
		g[k] = v
	}
	c.call(0, "POST", "/v1/subjects/"+sub+"/consents", g, 201, nil, nil)
	var asset struct{ ID string }
	c.send(0, "POST", "/v1/subjects/"+sub+"/assets?purpose=ai-training&category=voice",
		"audio/wav", likenesstest.WAV("own-purpose", 50), 201, &asset, nil)
	content := c.replicas[1].URL + "/v1/assets/" + asset.ID + "/content?purpose="
	until(t, time.Now().Add(5*time.Second), func() (bool, string) {
		code, body, err := Do(ctx, "GET", content+"ai-training", c.admin, nil)
		if err != nil {
			t.Fatal(err)
		}
		return code == 200, fmt.Sprintf("its own purpose on replica 2, 5 s after the upload on replica 1: %d %.200s, want 200", code, body)
	})
	code, body, err := Do(ctx, "GET", content+"voice-transcription", c.admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code != 403 || !strings.Contains(string(body), "purpose_not_collected_for") {
		t.Errorf("another consented purpose on replica 2: %d %.300s, want 403 purpose_not_collected_for", code, body)
	}
}
