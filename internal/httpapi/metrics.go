package httpapi

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's own Prometheus metrics. Everything a request
// touches is bound to its label values once (per route at Handle time, per
// outcome here), so no request looks a series up by its labels.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	allowed, denied prometheus.Counter
	decideSingle    prometheus.Observer
	decideBatch     prometheus.Observer

	grants, withdrawals *prometheus.CounterVec
}

// outcomes are the values of the outcome label of grants and withdrawals:
// "ok", or what stopped the change (see outcomeOf).
var outcomes = []string{"ok", "invalid", "unauthorized", "forbidden", "not_found", "conflict", "gone", "rate_limited", "error"}

func newMetrics(reg prometheus.Registerer) *metrics {
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "likeness_decisions_total", Help: "Decisions answered by the API, by outcome (allow or deny).",
	}, []string{"outcome"})
	decideTime := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "likeness_decision_seconds", Help: "Time the decision engine took to answer one decision request (kind=single) or one batch (kind=batch), without HTTP and JSON.",
		Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 5e-3, .025, .1},
	}, []string{"kind"})
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "likeness_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "likeness_http_request_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0001, .0005, .001, .002, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"route", "method"}),
		allowed:      decisions.WithLabelValues("allow"),
		denied:       decisions.WithLabelValues("deny"),
		decideSingle: decideTime.WithLabelValues("single"),
		decideBatch:  decideTime.WithLabelValues("batch"),
		grants: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "likeness_grants_total", Help: "Consent grant requests through the API, by outcome (ok or the error that refused them).",
		}, []string{"outcome"}),
		withdrawals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "likeness_withdrawals_total", Help: "Consent withdrawal requests through the API, by outcome (ok or the error that refused them).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, decisions, decideTime, m.grants, m.withdrawals,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// countDecisions adds n answered decisions of which allowed were allowed.
func (m *metrics) countDecisions(allowed, n int) {
	if allowed > 0 {
		m.allowed.Add(float64(allowed))
	}
	if n > allowed {
		m.denied.Add(float64(n - allowed))
	}
}

// routeMetrics are one route's series, bound when the route is registered.
type routeMetrics struct {
	vec           *prometheus.CounterVec
	route, method string
	latency       prometheus.Observer
	// byStatus holds the request counter of each status in knownStatuses,
	// bound the first time the route answers with it.
	byStatus [len(knownStatuses)]atomic.Pointer[prometheus.Counter]
	// outcome counts grants or withdrawals by outcome; nil for other routes.
	outcome map[string]prometheus.Counter
}

// knownStatuses are the statuses the API answers with; another status is
// counted too, just through a label lookup.
var knownStatuses = [...]int{200, 201, 202, 204, 206, 304, 400, 401, 403, 404, 405, 409, 410, 413, 415, 416, 429, 500, 503}

func (m *metrics) forRoute(rt Route) *routeMetrics {
	rm := &routeMetrics{vec: m.requests, route: rt.Pattern, method: rt.Method,
		latency: m.latency.WithLabelValues(rt.Pattern, rt.Method)}
	var vec *prometheus.CounterVec
	switch rt.Method + " " + rt.Pattern {
	case "POST /v1/subjects/{id}/consents":
		vec = m.grants
	case "POST /v1/subjects/{id}/consents/{purpose}/withdraw":
		vec = m.withdrawals
	}
	if vec != nil {
		rm.outcome = map[string]prometheus.Counter{}
		for _, o := range outcomes {
			rm.outcome[o] = vec.WithLabelValues(o)
		}
	}
	return rm
}

func (rm *routeMetrics) observe(status int, d time.Duration) {
	rm.latency.Observe(d.Seconds())
	rm.counter(status).Inc()
	if rm.outcome != nil {
		rm.outcome[outcomeOf(status)].Inc()
	}
}

func (rm *routeMetrics) counter(status int) prometheus.Counter {
	for i, s := range knownStatuses {
		if s != status {
			continue
		}
		if c := rm.byStatus[i].Load(); c != nil {
			return *c
		}
		c := rm.vec.WithLabelValues(rm.route, rm.method, strconv.Itoa(status))
		rm.byStatus[i].Store(&c)
		return c
	}
	return rm.vec.WithLabelValues(rm.route, rm.method, strconv.Itoa(status))
}

// outcomeOf names what a grant's or withdrawal's status says happened.
func outcomeOf(status int) string {
	if o, ok := outcomeByStatus[status]; ok {
		return o
	}
	switch {
	case status < 400:
		return "ok"
	case status < 500:
		return "invalid"
	}
	return "error"
}

var outcomeByStatus = map[int]string{401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict", 410: "gone", 429: "rate_limited"}
