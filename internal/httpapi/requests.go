package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"likeness"
	"likeness/internal/http/input"
	"likeness/internal/requests"
)

// requestRoutes serve the register of data-subject requests. They are
// registered whether or not a requests service is configured, so the API's
// shape does not depend on configuration; without one they answer 404.
func requestRoutes(s *Server) []Route {
	h := &requestHandlers{s: s, svc: s.requests}
	if h.svc == nil {
		h.err = likeness.Errorf(likeness.ENOTFOUND, "data-subject requests are not enabled on this server")
	}
	return []Route{
		{Method: "POST", Pattern: "/v1/requests", Roles: collectors, Handler: s.idempotent(s.maxBody, h.open)},
		{Method: "GET", Pattern: "/v1/requests", Roles: readers, Handler: h.list},
		{Method: "GET", Pattern: "/v1/requests/{id}", Roles: readers, Handler: h.get},
		{Method: "POST", Pattern: "/v1/requests/{id}/extend", Roles: collectors, Handler: h.extend},
		{Method: "POST", Pattern: "/v1/requests/{id}/complete", Roles: collectors, Handler: s.idempotent(s.maxBody, h.complete)},
		{Method: "POST", Pattern: "/v1/requests/{id}/reject", Roles: collectors, Handler: h.reject},
	}
}

type requestHandlers struct {
	s   *Server
	svc *requests.Service
	err error // why there is no svc
}

// requestJSON is a request as the API shows it: with its effective
// deadline, whether it is overdue now, and the erasure certificate as the
// compact JWS it is (verify it with GET /v1/ledger/key).
type requestJSON struct {
	*likeness.DSRequest
	Deadline    time.Time `json:"deadline"`
	Overdue     bool      `json:"overdue"`
	Certificate string    `json:"certificate,omitempty"`
}

func (h *requestHandlers) out(r *likeness.DSRequest) requestJSON {
	return requestJSON{DSRequest: r, Deadline: r.Deadline(), Overdue: r.Overdue(h.s.now()), Certificate: string(r.Certificate)}
}

func (h *requestHandlers) open(w http.ResponseWriter, r *http.Request) error {
	if h.svc == nil {
		return h.err
	}
	var in struct {
		SubjectID  string `json:"subject_id"`
		Type       string `json:"type"`
		Channel    string `json:"channel"`
		Purpose    string `json:"purpose"`
		ReceivedAt string `json:"received_at"` // RFC 3339; "" is now
	}
	if err := input.DecodeJSON(r, w, h.s.maxBody, &in); err != nil {
		return err
	}
	if in.SubjectID == "" {
		return likeness.Errorf(likeness.EINVALID, "subject_id is required")
	}
	var received time.Time
	if in.ReceivedAt != "" {
		t, err := time.Parse(time.RFC3339, in.ReceivedAt)
		if err != nil {
			return likeness.Errorf(likeness.EINVALID, "received_at %q is not an RFC 3339 time such as 2026-01-31T09:30:00Z", in.ReceivedAt)
		}
		received = t
	}
	req, err := h.svc.Open(r.Context(), in.SubjectID, likeness.RequestType(in.Type), in.Channel, in.Purpose, received)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, h.out(req))
}

func (h *requestHandlers) list(w http.ResponseWriter, r *http.Request) error {
	if h.svc == nil {
		return h.err
	}
	q := r.URL.Query()
	f := requests.Filter{State: q.Get("state"), SubjectID: q.Get("subject_id")}
	if v := q.Get("overdue"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return likeness.Errorf(likeness.EINVALID, "overdue must be true or false, not %q", v)
		}
		f.Overdue = b
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return likeness.Errorf(likeness.EINVALID, "limit must be 1..%d", requests.MaxLimit)
		}
		f.Limit = n
	}
	rs, err := h.svc.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]requestJSON, len(rs))
	for i, req := range rs {
		out[i] = h.out(req)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"requests": out})
}

func (h *requestHandlers) get(w http.ResponseWriter, r *http.Request) error {
	if h.svc == nil {
		return h.err
	}
	req, err := h.svc.Request(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h.out(req))
}

func (h *requestHandlers) reason(w http.ResponseWriter, r *http.Request) (string, error) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := input.DecodeJSON(r, w, h.s.maxBody, &in); err != nil {
		return "", err
	}
	return in.Reason, nil
}

func (h *requestHandlers) extend(w http.ResponseWriter, r *http.Request) error {
	if h.svc == nil {
		return h.err
	}
	reason, err := h.reason(w, r)
	if err != nil {
		return err
	}
	req, err := h.svc.Extend(r.Context(), r.PathValue("id"), reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h.out(req))
}

func (h *requestHandlers) reject(w http.ResponseWriter, r *http.Request) error {
	if h.svc == nil {
		return h.err
	}
	reason, err := h.reason(w, r)
	if err != nil {
		return err
	}
	req, err := h.svc.Reject(r.Context(), r.PathValue("id"), reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h.out(req))
}

// complete takes a body only for rectifications ({"locale","jurisdiction"});
// other requests may send none.
func (h *requestHandlers) complete(w http.ResponseWriter, r *http.Request) error {
	if h.svc == nil {
		return h.err
	}
	var p requests.Params
	if _, err := input.OptionalJSON(r, w, h.s.maxBody, &p); err != nil {
		return err
	}
	if err := input.Locale("locale", p.Locale); err != nil {
		return err
	}
	req, err := h.svc.Complete(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h.out(req))
}
