package ratelimit

import (
	"net/http/httptest"
	"testing"
)

func TestTheClientBehindATrustedProxyIsTheForwardedOne(t *testing.T) {
	ps, err := ParseProxies("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, peer, xff, want string
	}{
		{"no proxy in front", "203.0.113.5:4000", "", "203.0.113.5"},
		{"an untrusted peer's header is ignored", "203.0.113.5:4000", "198.51.100.1", "203.0.113.5"},
		{"through one trusted proxy", "10.1.2.3:80", "198.51.100.1", "198.51.100.1"},
		{"through two trusted proxies", "10.1.2.3:80", "198.51.100.1, 192.0.2.7", "198.51.100.1"},
		{"a spoofed start is not believed", "10.1.2.3:80", "1.2.3.4, 198.51.100.1", "198.51.100.1"},
		{"a trusted proxy with no header", "192.0.2.7:80", "", "192.0.2.7"},
		{"a garbled hop stops the walk", "10.1.2.3:80", "198.51.100.1, junk", "10.1.2.3"},
		{"IPv6 client", "10.1.2.3:80", "2001:db8::1", "2001:db8::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ps.ClientIP(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if _, err := ParseProxies("10.0.0.0/8, proxy.example"); err == nil {
		t.Error("a host name was taken for a proxy")
	}
	if ps, err := ParseProxies(""); err != nil || len(ps) != 0 {
		t.Errorf("no proxies: %v, %v", ps, err)
	}
}
