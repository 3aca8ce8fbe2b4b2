package httpapi

import (
	"net/http"
	"time"

	"likeness"
	"likeness/internal/http/input"
	"likeness/internal/incidents"
)

// incidentReaders may read incidents: the privacy officer (admin) and
// auditors. Only admins open, notify and close.
var incidentReaders = []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor}

// IncidentRoutes are the breach-response endpoints over svc. They are
// registered whether or not the server has an incident service, so the
// API's shape does not depend on configuration; with a nil svc they answer
// 404.
func IncidentRoutes(s *Server, svc *incidents.Service) []Route {
	h := &incidentHandlers{s: s, svc: svc}
	return []Route{
		{Method: "POST", Pattern: "/v1/incidents", Roles: adminOnly, Handler: h.open},
		{Method: "GET", Pattern: "/v1/incidents", Roles: incidentReaders, Handler: h.list},
		{Method: "GET", Pattern: "/v1/incidents/{id}", Roles: incidentReaders, Handler: h.get},
		{Method: "GET", Pattern: "/v1/incidents/{id}/subjects", Roles: incidentReaders, Handler: h.subjects},
		{Method: "POST", Pattern: "/v1/incidents/{id}/notifications", Roles: adminOnly, Handler: h.notify},
		{Method: "POST", Pattern: "/v1/incidents/{id}/close", Roles: adminOnly, Handler: h.close},
	}
}

type incidentHandlers struct {
	s   *Server
	svc *incidents.Service
}

func (h *incidentHandlers) service() (*incidents.Service, error) {
	if h.svc == nil {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "incidents are not enabled on this server")
	}
	return h.svc, nil
}

// OpenIncidentRequest is the body of POST /v1/incidents. Title and
// description must not contain personal data: they go to the authority and
// to the people affected.
type OpenIncidentRequest struct {
	Title       string                 `json:"title"`
	Description string                 `json:"description"`
	DetectedAt  time.Time              `json:"detected_at"`
	Scope       likeness.IncidentScope `json:"scope"`
}

func (h *incidentHandlers) open(w http.ResponseWriter, r *http.Request) error {
	svc, err := h.service()
	if err != nil {
		return err
	}
	var req OpenIncidentRequest
	if err := input.DecodeJSON(r, w, h.s.maxBody, &req); err != nil {
		return err
	}
	v, err := svc.Open(r.Context(), req.Title, req.Description, req.DetectedAt, req.Scope)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

func (h *incidentHandlers) list(w http.ResponseWriter, r *http.Request) error {
	svc, err := h.service()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	o := incidents.ListOptions{State: q.Get("state")}
	switch q.Get("overdue") {
	case "", "false":
	case "true":
		o.Overdue = true
	default:
		return likeness.Errorf(likeness.EINVALID, "overdue must be true or false")
	}
	vs, err := svc.List(r.Context(), o)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"incidents": vs})
}

func (h *incidentHandlers) get(w http.ResponseWriter, r *http.Request) error {
	svc, err := h.service()
	if err != nil {
		return err
	}
	v, err := svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (h *incidentHandlers) subjects(w http.ResponseWriter, r *http.Request) error {
	svc, err := h.service()
	if err != nil {
		return err
	}
	subs, err := svc.Subjects(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"subjects": subs})
}

// IncidentNotificationRequest is the body of POST
// /v1/incidents/{id}/notifications. At defaults to now.
type IncidentNotificationRequest struct {
	Kind      string    `json:"kind"`
	Reference string    `json:"reference"`
	At        time.Time `json:"at,omitzero"`
}

func (h *incidentHandlers) notify(w http.ResponseWriter, r *http.Request) error {
	svc, err := h.service()
	if err != nil {
		return err
	}
	var req IncidentNotificationRequest
	if err := input.DecodeJSON(r, w, h.s.maxBody, &req); err != nil {
		return err
	}
	var v *incidents.View
	switch req.Kind {
	case likeness.NotifyAuthority:
		v, err = svc.NotifyAuthority(r.Context(), r.PathValue("id"), req.Reference, req.At)
	case likeness.NotifySubjects:
		v, err = svc.NotifySubjects(r.Context(), r.PathValue("id"), req.Reference, req.At)
	default:
		return likeness.Errorf(likeness.EINVALID, "kind must be %q or %q", likeness.NotifyAuthority, likeness.NotifySubjects)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

// CloseIncidentRequest is the body of POST /v1/incidents/{id}/close.
type CloseIncidentRequest struct {
	Reason string `json:"reason"`
	Note   string `json:"note"`
}

func (h *incidentHandlers) close(w http.ResponseWriter, r *http.Request) error {
	svc, err := h.service()
	if err != nil {
		return err
	}
	var req CloseIncidentRequest
	if err := input.DecodeJSON(r, w, h.s.maxBody, &req); err != nil {
		return err
	}
	v, err := svc.Close(r.Context(), r.PathValue("id"), req.Reason, req.Note)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}
