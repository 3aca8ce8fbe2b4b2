package ratelimit

import (
	"net/http/httptest"
	"testing"
)

func TestEachClientHasItsOwnBucket(t *testing.T) {
	l := New(0, 2) // no refill: exactly two per client
	for i, want := range []bool{true, true, false} {
		if got := l.Allow("10.0.0.1"); got != want {
			t.Fatalf("call %d of client A: %v, want %v", i, got, want)
		}
	}
	if !l.Allow("10.0.0.2") {
		t.Fatal("client B was limited by client A's calls")
	}
}

func TestRemoteHostDropsThePort(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.7:51234"
	if got := RemoteHost(r); got != "192.0.2.7" {
		t.Fatalf("RemoteHost = %q", got)
	}
}
