package ratelimit

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the addresses of the reverse proxies or load balancers a
// deployment runs behind: requests from them name their client in
// X-Forwarded-For, and the client is what limits count.
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of CIDR prefixes or single
// addresses ("10.0.0.0/8, 192.0.2.7"); "" is none.
func ParseProxies(s string) (Proxies, error) {
	var out Proxies
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR prefix (10.0.0.0/8)", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (ps Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP names the client of r for rate limiting. A request whose peer
// is not one of ps is its peer, whatever headers it sends (anyone can
// write X-Forwarded-For). A request from one of ps is the last address in
// X-Forwarded-For that is not itself one of ps, read from the right (each
// proxy appends the address it heard from, so the right end is the part a
// trusted proxy wrote); with no such address, the peer.
func (ps Proxies) ClientIP(r *http.Request) string {
	peer := RemoteHost(r)
	a, err := netip.ParseAddr(peer)
	if len(ps) == 0 || err != nil || !ps.trusted(a) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a hop a trusted proxy would not write: trust nothing further
		}
		if !ps.trusted(h) {
			return h.Unmap().String()
		}
	}
	return peer
}
