// Package httpapi serves the likeness JSON API under /v1, /healthz and
// /metrics. Every /v1 route names the roles that may call it; requests are
// authenticated by API key, bodies are size-limited and decoded strictly, and
// domain errors become HTTP statuses through one table.
package httpapi

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/dataset"
	"likeness/internal/incidents"
	"likeness/internal/vault"
)

// DefaultMaxBody limits JSON request bodies.
const DefaultMaxBody = 1 << 20

// MaxBatch is the most items one batch decision may carry.
const MaxBatch = 10000

// Server is the HTTP API. Build it with New.
type Server struct {
	consent  *consent.Service
	vault    *vault.Vault
	datasets *dataset.Service
	store    likeness.Store
	log      *slog.Logger
	now      func() time.Time
	maxBody  int64

	mux     *http.ServeMux
	routes  []Route
	metrics *metrics
	keys    keyCache
}

// Config holds a Server's dependencies.
type Config struct {
	Consent  *consent.Service
	Vault    *vault.Vault     // nil: no media endpoints
	Datasets *dataset.Service // nil: dataset endpoints answer 404
	// Incidents nil: incident endpoints answer 404.
	Incidents *incidents.Service
	Store     likeness.Store
	Logger    *slog.Logger
	Now       func() time.Time
	MaxBody   int64
	Registry  *prometheus.Registry // nil: a fresh registry
}

// Route is one endpoint: the roles listed may call it; nil Roles means a
// public endpoint that needs no key.
type Route struct {
	Method, Pattern string
	Roles           []likeness.Role
	Handler         func(http.ResponseWriter, *http.Request) error
}

var (
	anyRole      = []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector, likeness.RolePipeline, likeness.RoleAuditor}
	adminOnly    = []likeness.Role{likeness.RoleAdmin}
	collectors   = []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector}
	readers      = []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector, likeness.RoleAuditor}
	deciders     = []likeness.Role{likeness.RoleAdmin, likeness.RolePipeline, likeness.RoleCollector}
	subjectRead  = []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector, likeness.RoleAuditor, likeness.RolePipeline}
	ledgerReader = anyRole
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
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{consent: cfg.Consent, vault: cfg.Vault, datasets: cfg.Datasets, store: cfg.Store, log: cfg.Logger, now: cfg.Now, maxBody: cfg.MaxBody,
		mux: http.NewServeMux(), metrics: newMetrics(cfg.Registry)}
	s.keys.ttl = 5 * time.Second
	s.routes = []Route{
		{"GET", "/v1/openapi.json", anyRole, s.handleOpenAPI},
		{"POST", "/v1/subjects", collectors, s.handleCreateSubject},
		{"GET", "/v1/subjects", subjectRead, s.handleFindSubject},
		{"GET", "/v1/subjects/{id}", subjectRead, s.handleGetSubject},
		{"PATCH", "/v1/subjects/{id}", collectors, s.handleRectifySubject},
		{"GET", "/v1/notices/current", anyRole, s.handleNotice},
		{"POST", "/v1/subjects/{id}/consents", collectors, s.handleGrant},
		{"GET", "/v1/subjects/{id}/consents", readers, s.handleConsents},
		{"POST", "/v1/subjects/{id}/consents/{purpose}/withdraw", collectors, s.handleWithdraw},
		{"GET", "/v1/subjects/{id}/receipts", readers, s.handleReceipts},
		{"POST", "/v1/decisions", deciders, s.handleDecision},
		{"POST", "/v1/decisions/batch", deciders, s.handleDecisionBatch},
		{"GET", "/v1/ledger/checkpoint", ledgerReader, s.handleCheckpoint},
		{"GET", "/v1/ledger/key", ledgerReader, s.handleLedgerKey},
		{"GET", "/v1/ledger/jwks.json", nil, s.handleLedgerJWKS},
		{"GET", "/v1/ledger/proof", ledgerReader, s.handleInclusionProof},
		{"GET", "/v1/ledger/consistency", ledgerReader, s.handleConsistencyProof},
		{"POST", "/v1/apikeys", adminOnly, s.handleCreateKey},
		{"GET", "/v1/apikeys", adminOnly, s.handleListKeys},
		{"GET", "/v1/audit", []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor}, s.handleAudit},
	}
	s.routes = append(s.routes, assetRoutes(s)...)
	s.routes = append(s.routes, lifecycleRoutes(s)...)
	s.routes = append(s.routes, eventRoutes(s)...)
	s.routes = append(s.routes, datasetRoutes(s)...)
	s.routes = append(s.routes, reviewRoutes(s)...)
	s.routes = append(s.routes, requestRoutes(s)...)
	s.routes = append(s.routes, IncidentRoutes(s, cfg.Incidents)...)
	for _, r := range s.routes {
		s.Handle(r)
	}
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, likeness.Errorf(likeness.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return s
}

// Handle registers a route (other packages add theirs the same way).
func (s *Server) Handle(r Route) {
	pattern := r.Method + " " + r.Pattern
	if !s.hasRoute(r) {
		s.routes = append(s.routes, r)
	}
	s.mux.Handle(pattern, s.wrap(r))
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
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// wrap authenticates, authorizes, runs the handler and maps its error.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		var actor likeness.Actor
		var err error
		if rt.Roles != nil {
			actor, err = s.authorize(r, rt.Roles)
		}
		if err == nil {
			r = r.WithContext(likeness.WithActor(r.Context(), actor))
			err = rt.Handler(sw, r)
		}
		if err != nil {
			s.writeError(sw, r, err)
		} else if audited(rt) && sw.status < 300 {
			s.audit(r, rt, actor)
		}
		s.metrics.observe(rt.Pattern, r.Method, sw.status, time.Since(start))
	})
}

// audited reports whether a route's successful calls go to the audit log:
// every change an operator makes through the API. Decisions are the hot
// path and are counted in metrics; content reads are logged by the vault.
func audited(rt Route) bool {
	return rt.Method != "GET" && rt.Pattern != "/v1/decisions" && rt.Pattern != "/v1/decisions/batch"
}

// audit records an operator's successful change. The response is already
// sent; a failure to record is logged loudly.
func (s *Server) audit(r *http.Request, rt Route, actor likeness.Actor) {
	e := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: s.now().UTC(), Action: rt.Method + " " + rt.Pattern,
		KeyID: actor.KeyID, Role: actor.Role, Purpose: r.PathValue("purpose"), Allow: true}
	switch id := r.PathValue("id"); {
	case strings.HasPrefix(id, "sub_"):
		e.SubjectID = id
	case strings.HasPrefix(id, "ast_"):
		e.AssetID = id
	}
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
	key, err := s.lookupKey(r.Context(), token)
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

type keyCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[[32]byte]cachedKey
}

type cachedKey struct {
	key     *likeness.APIKey
	expires time.Time
}

func (s *Server) lookupKey(ctx context.Context, token string) (*likeness.APIKey, error) {
	var h [32]byte
	copy(h[:], likeness.HashAPIKey(token))
	now := time.Now()
	s.keys.mu.Lock()
	c, ok := s.keys.m[h]
	s.keys.mu.Unlock()
	if ok && now.Before(c.expires) && subtle.ConstantTimeCompare(c.key.Hash, h[:]) == 1 {
		return c.key, nil
	}
	key, err := s.store.APIKeyByHash(ctx, h[:])
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return nil, likeness.Errorf(likeness.EUNAUTHORIZED, "unknown or revoked API key")
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(key.Hash, h[:]) != 1 {
		return nil, likeness.Errorf(likeness.EUNAUTHORIZED, "unknown or revoked API key")
	}
	s.keys.mu.Lock()
	if s.keys.m == nil || len(s.keys.m) > 10000 {
		s.keys.m = map[[32]byte]cachedKey{}
	}
	s.keys.m[h] = cachedKey{key: key, expires: now.Add(s.keys.ttl)}
	s.keys.mu.Unlock()
	return key, nil
}

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	likeness.EINVALID:      http.StatusBadRequest,
	likeness.EUNAUTHORIZED: http.StatusUnauthorized,
	likeness.EFORBIDDEN:    http.StatusForbidden,
	likeness.ENOTFOUND:     http.StatusNotFound,
	likeness.ECONFLICT:     http.StatusConflict,
	likeness.EGONE:         http.StatusGone,
	likeness.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	likeness.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	likeness.ERATELIMIT:    http.StatusTooManyRequests,
	likeness.EINTERNAL:     http.StatusInternalServerError,
	likeness.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Reasons []string `json:"reasons,omitempty"`
	} `json:"error"`
}

// WriteError writes err as JSON with the status from the table; internal
// errors are logged (without request bodies) and shown generically.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body ErrorBody
	body.Error.Code, body.Error.Message = likeness.ErrorCode(err), likeness.ErrorMessage(err)
	var denied *likeness.DeniedError
	if errors.As(err, &denied) {
		body.Error.Reasons = denied.Reasons
	}
	status, ok := statusOf[body.Error.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, &body)
}

// WriteError is writeError for handlers registered from other packages.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error { return writeJSON(w, status, v) }

// DecodeJSON reads a JSON body strictly into v: the content type must be
// JSON, the body at most limit bytes, no unknown fields, one value only.
func DecodeJSON(r *http.Request, w http.ResponseWriter, limit int64, v any) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return likeness.Errorf(likeness.EUNSUPPORTED, "Content-Type must be application/json, not %q", ct)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return likeness.Errorf(likeness.ETOOLARGE, "request body is larger than %d bytes", limit)
		case errors.Is(err, io.EOF):
			return likeness.Errorf(likeness.EINVALID, "request body is empty: send a JSON object")
		case errors.As(err, &syntax):
			return likeness.Errorf(likeness.EINVALID, "malformed JSON at byte %d: %v", syntax.Offset, syntax)
		case errors.As(err, &typ):
			return likeness.Errorf(likeness.EINVALID, "field %q must be %s, not a JSON %s", typ.Field, typ.Type, typ.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return likeness.Errorf(likeness.EINVALID, "%s", strings.TrimPrefix(err.Error(), "json: "))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return likeness.Errorf(likeness.EINVALID, "malformed JSON: the body ends early")
		}
		return likeness.Errorf(likeness.EINVALID, "malformed JSON: %v", err)
	}
	if dec.More() {
		return likeness.Errorf(likeness.EINVALID, "body holds more than one JSON value")
	}
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return likeness.Errorf(likeness.ETOOLARGE, "request body is larger than %d bytes", limit)
		}
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
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

var _ = fmt.Sprint
