// Package ratelimit limits how often one client may call an endpoint: a
// token bucket per client key (its IP address, usually), kept in memory on
// each replica, with idle buckets dropped.
package ratelimit

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// PerClient is a token bucket per client key. Safe for concurrent use.
type PerClient struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	m     map[string]*bucket
	swept time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New allows each client limit events per second with bursts of burst.
func New(limit rate.Limit, burst int) *PerClient {
	return &PerClient{limit: limit, burst: burst, m: map[string]*bucket{}}
}

// Allow reports whether the client may go ahead now, and counts it.
func (l *PerClient) Allow(client string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.m {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.m, k)
			}
		}
		l.swept = now
	}
	b, ok := l.m[client]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[client] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// Exhausted reports whether the client has no event left now, without
// counting one: a caller that counts only failures asks before the work a
// failure costs.
func (l *PerClient) Exhausted(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[client]
	return ok && b.lim.TokensAt(time.Now()) < 1
}

// RemoteHost is the request's peer address without its port: the client
// key when no proxy stands in front.
func RemoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
