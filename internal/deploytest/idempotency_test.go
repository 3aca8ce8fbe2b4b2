package deploytest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// TestAKeptAnswerIsSharedByReplicasAndGoesWithItsPerson grants with an
// Idempotency-Key on one of two serve processes, retries on the other (which
// must replay the first answer: the kept answer lives in the database they
// share), erases the person on the second, and retries on the first: the
// write must be refused, and the answer kept for the retry, which holds the
// person's evidence, must not come back from either.
func TestAKeptAnswerIsSharedByReplicasAndGoesWithItsPerson(t *testing.T) {
	c := startCluster(t, 2, "")
	sub := c.subject(0, "idem-across")
	const marker = "Jane Q. Idempotent-Across"
	grant := map[string]any{"purposes": []string{"ai-training"}, "method": "written", "language": "en",
		"evidence": map[string]string{"signature": marker}}
	for k, v := range c.notice {
		grant[k] = v
	}
	body, _ := json.Marshal(grant)
	keyed := func(i int) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("POST", c.replicas[i].URL+"/v1/subjects/"+sub+"/consents", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.admin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "grant-across-1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("replica %d: %v", i+1, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b, res.Header
	}
	status, first, _ := keyed(0)
	if status != 201 || !bytes.Contains(first, []byte(marker)) {
		t.Fatalf("grant on replica 1: %d %s, want 201 with the evidence", status, first)
	}
	status, again, hdr := keyed(1)
	if status != 201 || !bytes.Equal(again, first) || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry on replica 2: %d %v %s, want replica 1's answer replayed", status, hdr, again)
	}
	c.call(1, "DELETE", "/v1/subjects/"+sub, nil, 200, nil, nil)
	for _, i := range []int{0, 1} {
		status, after, hdr := keyed(i)
		if status == 201 || hdr.Get("Idempotent-Replayed") != "" || bytes.Contains(after, []byte(marker)) {
			t.Errorf("retry on replica %d after the erasure on replica 2: %d, replayed %q, evidence in the answer %v; want the write refused, not the kept answer",
				i+1, status, hdr.Get("Idempotent-Replayed"), bytes.Contains(after, []byte(marker)))
		}
	}
}
