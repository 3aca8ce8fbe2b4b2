// Package httpapi serves the likeness JSON API under /v1, /healthz and
// /metrics. Every /v1 route names the roles that may call it; requests are
// authenticated by API key, bodies are size-limited and decoded strictly, and
// domain errors become HTTP statuses through one table.
package httpapi

import (
	"cmp"
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"likeness"
	"likeness/internal/dataset"
	"likeness/internal/http/input"
	"likeness/internal/http/response"
	"likeness/internal/http/route"
	"likeness/internal/incidents"
	"likeness/internal/ratelimit"
	"likeness/internal/records"
	"likeness/internal/replica"
	"likeness/internal/requests"
	"likeness/internal/vault"
)

// DefaultMaxBody limits JSON request bodies.
const DefaultMaxBody = 1 << 20

// MaxBatch is the most items one batch decision may carry.
const MaxBatch = 10000

// Server is the HTTP API. Build it with New.
type Server struct {
	clientIP func(*http.Request) string
	subjects Subjects
	notices  Notices
	consent  Consent
	index    Index
	ledger   Ledger
	eraser   Eraser
	requests *requests.Service
	vault    *vault.Vault
	datasets *dataset.Service
	store    likeness.Store
	log      *slog.Logger
	now      func() time.Time
	maxBody  int64
	replica  *replica.Tracker

	mux    *http.ServeMux
	routes []Route
	// decide serves the decision routes without a pattern lookup, by
	// their exact path (see ServeHTTP).
	decide  map[string]decisionHandler
	metrics *metrics
	keys    keyCache

	metricsHandler http.Handler
	idem           idempotency

	buildProgressEvery time.Duration
	builds             chan struct{}        // a token per dataset build running here
	badKeys            *ratelimit.PerClient // unknown API keys per client host
}

// Config holds a Server's dependencies.
type Config struct {
	Subjects Subjects
	Notices  Notices
	Consent  Consent
	Index    Index
	Ledger   Ledger
	Eraser   Eraser
	Requests *requests.Service // nil: request endpoints answer 404
	Vault    *vault.Vault      // nil: no media endpoints
	Datasets *dataset.Service  // nil: dataset endpoints answer 404
	// Incidents nil: incident endpoints answer 404.
	Incidents *incidents.Service
	// Records nil: the record and DPIA endpoints answer 404.
	Records *records.Builder
	// Validations nil: the validation queue endpoints answer 404.
	Validations Validations
	Store       likeness.Store
	Logger      *slog.Logger
	Now         func() time.Time
	MaxBody     int64
	Registry    *prometheus.Registry // nil: a fresh registry
	// Collectors join the server's metrics on Registry: the place for other
	// components' metrics (replica lag, …).
	Collectors []prometheus.Collector
	// SeparateMetrics leaves GET /metrics out of the API (it answers 404);
	// the caller serves MetricsHandler on a listener of its own. Otherwise
	// /metrics needs an admin or auditor key.
	SeparateMetrics bool
	// StatsTimeout bounds the store queries behind one scrape; 0 means
	// DefaultStatsTimeout.
	StatsTimeout time.Duration
	// Replica, if set, makes decisions honour consistency tokens and deny
	// when this replica is past its staleness bound, and answers /readyz.
	Replica *replica.Tracker
	// BuildProgressEvery is how often a dataset build or rebuild logs how
	// far it is (it runs within its request, for minutes on thousands of
	// pictures); 0 means DefaultBuildProgressEvery.
	BuildProgressEvery time.Duration
	// ClientIP names the client of a request for the limit on unknown API
	// keys; nil is the peer's address (ratelimit.RemoteHost). Behind a
	// proxy, ratelimit.Proxies.ClientIP.
	ClientIP func(*http.Request) string
	// MaxBuilds is how many dataset builds and rebuilds may run at once on
	// this server (each decrypts and anonymizes every member, on every
	// core); more are refused with 429. 0 means DefaultMaxBuilds.
	MaxBuilds int
}

// DefaultBuildProgressEvery is how often a dataset build logs its
// progress by default.
const DefaultBuildProgressEvery = 10 * time.Second

// DefaultMaxBuilds is how many dataset builds run at once on a server by
// default: one, for a build already uses every core.
const DefaultMaxBuilds = 1

// Route is one endpoint (see package route); other packages hand theirs to
// Handle in the same shape.
type Route = route.Route

var (
	anyRole    = []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector, likeness.RolePipeline, likeness.RoleAuditor}
	adminOnly  = []likeness.Role{likeness.RoleAdmin}
	collectors = []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector}
	readers    = []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector, likeness.RoleAuditor}
	deciders   = []likeness.Role{likeness.RoleAdmin, likeness.RolePipeline, likeness.RoleCollector}
	// contentReaders may take media out of the vault for a purpose: the
	// systems that use it. A collector puts media in; reading them back
	// would be an export of a person's media by another route.
	contentReaders = []likeness.Role{likeness.RoleAdmin, likeness.RolePipeline}
	subjectRead    = []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector, likeness.RoleAuditor, likeness.RolePipeline}
	ledgerReader   = anyRole
)

// New returns a Server with every route registered.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = ratelimit.RemoteHost
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.BuildProgressEvery <= 0 {
		cfg.BuildProgressEvery = DefaultBuildProgressEvery
	}
	if cfg.MaxBuilds <= 0 {
		cfg.MaxBuilds = DefaultMaxBuilds
	}
	s := &Server{clientIP: cfg.ClientIP, buildProgressEvery: cfg.BuildProgressEvery, builds: make(chan struct{}, cfg.MaxBuilds), badKeys: ratelimit.New(badKeyRate, badKeyBurst), subjects: cfg.Subjects, notices: cfg.Notices, consent: cfg.Consent, index: cfg.Index, ledger: cfg.Ledger, eraser: cfg.Eraser, requests: cfg.Requests, vault: cfg.Vault, datasets: cfg.Datasets, store: cfg.Store, log: cfg.Logger, now: cfg.Now, maxBody: cfg.MaxBody,
		replica: cfg.Replica, mux: http.NewServeMux(), metrics: newMetrics(cfg.Registry)}
	s.routes = []Route{
		{Method: "GET", Pattern: "/v1/openapi.json", Roles: nil, Handler: s.handleOpenAPI}, // public documentation
		{Method: "POST", Pattern: "/v1/subjects", Roles: collectors, Handler: s.handleCreateSubject},
		{Method: "GET", Pattern: "/v1/subjects", Roles: subjectRead, Handler: s.handleFindSubject},
		{Method: "POST", Pattern: "/v1/subjects/lookup", Roles: subjectRead, Handler: s.handleLookupSubject},
		{Method: "GET", Pattern: "/v1/subjects/{id}", Roles: subjectRead, Handler: s.handleGetSubject},
		{Method: "PATCH", Pattern: "/v1/subjects/{id}", Roles: collectors, Handler: s.handleRectifySubject},
		{Method: "GET", Pattern: "/v1/notices/current", Roles: anyRole, Handler: s.handleNotice},
		{Method: "POST", Pattern: "/v1/subjects/{id}/consents", Roles: collectors, Handler: s.idempotent(s.maxBody, s.handleGrant)},
		{Method: "GET", Pattern: "/v1/subjects/{id}/consents", Roles: readers, Handler: s.handleConsents},
		{Method: "POST", Pattern: "/v1/subjects/{id}/consents/{purpose}/withdraw", Roles: collectors, Handler: s.idempotent(s.maxBody, s.handleWithdraw)},
		{Method: "GET", Pattern: "/v1/subjects/{id}/receipts", Roles: readers, Handler: s.handleReceipts},
		{Method: "GET", Pattern: "/v1/subjects/{id}/consent-records", Roles: readers, Handler: s.handleConsentRecords},
		{Method: "POST", Pattern: "/v1/decisions", Roles: deciders, Handler: s.handleDecision},
		{Method: "POST", Pattern: "/v1/decisions/batch", Roles: deciders, Handler: s.handleDecisionBatch},
		{Method: "GET", Pattern: "/v1/ledger/checkpoint", Roles: ledgerReader, Handler: s.handleCheckpoint},
		{Method: "GET", Pattern: "/v1/ledger/key", Roles: ledgerReader, Handler: s.handleLedgerKey},
		{Method: "GET", Pattern: "/v1/ledger/jwks.json", Roles: nil, Handler: s.handleLedgerJWKS},
		{Method: "GET", Pattern: "/v1/ledger/proof", Roles: ledgerReader, Handler: s.handleInclusionProof},
		{Method: "GET", Pattern: "/v1/ledger/consistency", Roles: ledgerReader, Handler: s.handleConsistencyProof},
		{Method: "POST", Pattern: "/v1/apikeys", Roles: adminOnly, Handler: s.handleCreateKey},
		{Method: "GET", Pattern: "/v1/apikeys", Roles: adminOnly, Handler: s.handleListKeys},
		{Method: "DELETE", Pattern: "/v1/apikeys/{id}", Roles: adminOnly, Handler: s.handleRevokeKey},
		{Method: "GET", Pattern: "/v1/audit", Roles: []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor}, Handler: s.handleAudit},
	}
	s.routes = append(s.routes, assetRoutes(s)...)
	s.routes = append(s.routes, contactRoutes(s)...)
	s.routes = append(s.routes, lifecycleRoutes(s)...)
	s.routes = append(s.routes, eventRoutes(s)...)
	s.routes = append(s.routes, datasetRoutes(s)...)
	s.routes = append(s.routes, reviewRoutes(s)...)
	s.routes = append(s.routes, requestRoutes(s)...)
	s.routes = append(s.routes, IncidentRoutes(s, cfg.Incidents)...)
	s.routes = append(s.routes, recordRoutes(cfg.Records)...)
	s.routes = append(s.routes, validationRoutes(s, cfg.Validations)...)
	for _, r := range s.routes {
		s.Handle(r)
	}
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	if cfg.Replica != nil {
		cfg.Collectors = append(cfg.Collectors, replicaMetrics(cfg.Replica)...)
	}
	s.registerMetrics(cfg)
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.methodsFor(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, likeness.Errorf(likeness.EMETHOD, "%s is not served at %s; %s is", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		s.writeError(w, r, likeness.Errorf(likeness.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return s
}

// methodsFor lists the methods a route serves at r's path, none if no
// route does.
func (s *Server) methodsFor(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/v1/" {
			out = append(out, m)
		}
	}
	return out
}

// Handle registers a route (other packages add theirs the same way).
func (s *Server) Handle(r Route) {
	pattern := r.Method + " " + r.Pattern
	if !s.hasRoute(r) {
		s.routes = append(s.routes, r)
	}
	h := s.wrap(r)
	s.mux.Handle(pattern, h)
	if decisionRoute(r) {
		if s.decide == nil {
			s.decide = map[string]decisionHandler{}
		}
		s.decide[r.Pattern] = decisionHandler{pattern: pattern, h: h}
	}
}

func (s *Server) hasRoute(r Route) bool {
	for _, x := range s.routes {
		if x.Method == r.Method && x.Pattern == r.Pattern {
			return true
		}
	}
	return false
}

// Routes lists the registered /v1 routes.
func (s *Server) Routes() []Route { return s.routes }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["X-Content-Type-Options"] = nosniff
	h["Cache-Control"] = noStore
	// The decision routes are the hot path: their exact paths skip the
	// pattern match, to the handler the mux would have chosen.
	if r.Method == http.MethodPost {
		if d, ok := s.decide[r.URL.Path]; ok && r.URL.RawPath == "" {
			r.Pattern = d.pattern
			d.h.ServeHTTP(w, r)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// decisionHandler is a decision route's handler and its mux pattern.
type decisionHandler struct {
	pattern string
	h       http.Handler
}

// The headers every answer carries, as shared values: net/http only reads
// them, and setting them costs no allocation.
var (
	nosniff = []string{"nosniff"}
	noStore = []string{"no-store"}
)

// wrap authenticates, authorizes, runs the handler and maps its error,
// inside the metrics and request log of observed.
func (s *Server) wrap(rt Route) http.Handler {
	if decisionRoute(rt) {
		return s.observed(rt, func(sw *statusWriter, r *http.Request) { s.serveDecision(rt, sw, r) })
	}
	return s.observed(rt, func(sw *statusWriter, r *http.Request) {
		r, cancel := withDeadline(r)
		defer cancel()
		bodyDeadline(sw, requestTimeout(r))
		var actor likeness.Actor
		var err error
		if rt.Roles != nil {
			actor, err = s.authorize(r, rt.Roles)
			sw.keyID = actor.KeyID
		}
		if err == nil {
			err = checkInput(r)
		}
		var pending *likeness.PendingAudit
		if err == nil {
			ctx := likeness.WithActor(r.Context(), actor)
			if audited(rt) {
				pending = likeness.NewPendingAudit(s.auditEntry(r, rt, actor))
				ctx = likeness.WithPendingAudit(ctx, pending)
			}
			r = r.WithContext(ctx)
			err = rt.Handler(sw, r)
		}
		// A write that recorded the call's change took its audit entry
		// and committed it with the change; otherwise it is written here.
		unwritten := pending != nil && pending.Close()
		if err != nil {
			s.writeError(sw, r, err)
		} else if unwritten && sw.status < 300 && !replayed(sw) {
			s.audit(r, pending.Entry())
		}
	})
}

// decisionRoute reports whether rt is one of the decision routes, the hot
// path, which wrap serves through serveDecision.
func decisionRoute(rt Route) bool {
	return rt.Method == "POST" && (rt.Pattern == "/v1/decisions" || rt.Pattern == "/v1/decisions/batch")
}

// serveDecision is wrap for the decision routes, without the work they do
// not need: they read no database but the key check and wait for no
// revision, each of which is bounded on its own (keyReadTimeout,
// RevisionWait), so they run without a request deadline; their handlers
// read no actor from the context; they change nothing, so nothing is
// audited. Authentication, the role check and the input boundary are the
// same as every route's.
func (s *Server) serveDecision(rt Route, sw *statusWriter, r *http.Request) {
	actor, err := s.authorize(r, rt.Roles)
	sw.keyID = actor.KeyID
	if err == nil {
		err = checkInput(r)
	}
	if err == nil {
		err = rt.Handler(sw, r)
	}
	if err != nil {
		s.writeError(sw, r, err)
	}
}

// checkInput holds every request to the input boundary before a handler
// runs: path values and query values must be text, and a GET or DELETE
// carries no body. Handlers decode bodies with input.DecodeJSON.
func checkInput(r *http.Request) error {
	if err := input.Request(r); err != nil {
		return err
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodDelete {
		return input.NoBody(r)
	}
	return nil
}

// audited reports whether a route's successful calls go to the audit log:
// every change an operator makes through the API. Decisions are the hot
// path and are counted in metrics; content reads are logged by the vault.
func audited(rt Route) bool {
	return rt.Method != "GET" && !decisionRoute(rt)
}

// auditEntry is the audit-log entry of a call to rt: every change an
// operator makes through the API, with the purpose its path or query names
// (an upload's is the one it is collected for).
func (s *Server) auditEntry(r *http.Request, rt Route, actor likeness.Actor) *likeness.AccessEntry {
	e := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: s.now().UTC(), Action: rt.Method + " " + rt.Pattern,
		KeyID: actor.KeyID, Role: actor.Role, Purpose: cmp.Or(r.PathValue("purpose"), r.URL.Query().Get("purpose")), Allow: true}
	switch id := r.PathValue("id"); {
	case strings.HasPrefix(id, "sub_"):
		e.SubjectID = id
	case strings.HasPrefix(id, "ast_"):
		e.AssetID = id
	}
	return e
}

// audit records an operator's successful change that no write recorded in
// its own transaction. The response is already sent; a failure to record
// is logged loudly.
func (s *Server) audit(r *http.Request, e *likeness.AccessEntry) {
	if err := s.store.AppendAccess(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.Error("could not record an operator action in the audit log", "action", e.Action, "key", e.KeyID, "err", err)
	}
}

// authorize checks the bearer key and that its role may call the route.
func (s *Server) authorize(r *http.Request, roles []likeness.Role) (likeness.Actor, error) {
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return likeness.Actor{}, likeness.Errorf(likeness.EUNAUTHORIZED, "missing Authorization: Bearer <api key>")
	}
	key, err := s.lookupKey(r.Context(), token, s.clientIP(r))
	if err != nil {
		return likeness.Actor{}, err
	}
	for _, role := range roles {
		if key.Role == role {
			return likeness.Actor{KeyID: key.ID, Role: key.Role}, nil
		}
	}
	return likeness.Actor{}, likeness.Errorf(likeness.EFORBIDDEN, "an API key with role %q may not call this endpoint", key.Role)
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody = response.ErrorBody

// writeError answers err through the one status table; internal errors are
// logged (without request bodies) and shown generically.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	response.Error(w, r, s.log, err)
}

// WriteError is writeError for handlers registered from other packages.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}

// writeJSON is the handlers' name for response.JSON.
var writeJSON = response.JSON

type statusWriter struct {
	http.ResponseWriter
	status int
	keyID  string // the API key that made the call, for the request log
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.LedgerSize(ctx); err != nil {
		s.log.Error("health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openapiDoc)
	return err
}

// OpenAPI returns the embedded OpenAPI document.
func OpenAPI() []byte { return openapiDoc }
