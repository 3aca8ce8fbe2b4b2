package deploytest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"likeness/internal/httpapi"
)

// TestKeyRevokedOnOneReplicaIsRefusedByEveryOther starts three serve
// processes on one database, makes a key on the first, and revokes it on
// the second: that one must refuse it at once, every other within the key
// cache's revocation poll (1 s; the test allows a second more for the
// requests themselves on a loaded machine), while a key not revoked stays
// accepted everywhere. Each replica's time to refuse is logged.
func TestKeyRevokedOnOneReplicaIsRefusedByEveryOther(t *testing.T) {
	c := startCluster(t, 3, "")
	ctx := context.Background()
	var made struct {
		Key   struct{ ID string }
		Token string
	}
	c.call(0, "POST", "/v1/apikeys", map[string]string{"name": "ci", "role": "admin"}, 201, &made, nil)
	status := func(i int, token string) int {
		t.Helper()
		code, _, err := Do(ctx, "GET", c.replicas[i].URL+"/v1/apikeys", token, nil)
		if err != nil {
			t.Fatalf("replica %d: %v", i+1, err)
		}
		return code
	}
	for i := range c.replicas {
		if got := status(i, made.Token); got != 200 {
			t.Fatalf("before revocation replica %d answers %d to the new key", i+1, got)
		}
	}
	c.call(1, "DELETE", "/v1/apikeys/"+made.Key.ID, nil, 204, nil, nil)
	revoked := time.Now()
	if got := status(1, made.Token); got != 401 {
		t.Fatalf("the revoking replica answers %d to the key it revoked, want 401 at once", got)
	}
	deadline := revoked.Add(httpapi.RevocationPoll + time.Second) // the poll, and a second for the asking
	for _, i := range []int{0, 2} {
		until(t, deadline, func() (bool, string) {
			got := status(i, made.Token)
			if got != 200 && got != 401 {
				t.Fatalf("replica %d answers %d to the revoked key", i+1, got)
			}
			return got == 401, fmt.Sprintf("replica %d still accepts a key revoked %v ago on replica 2", i+1, time.Since(revoked).Round(time.Millisecond))
		})
		t.Logf("replica %d refuses the revoked key %v after the revocation", i+1, time.Since(revoked).Round(time.Millisecond))
		if got := status(i, c.admin); got != 200 {
			t.Fatalf("replica %d refuses the admin key, which was not revoked: %d", i+1, got)
		}
	}
}
