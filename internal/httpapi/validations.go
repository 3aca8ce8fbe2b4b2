package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"likeness"
	"likeness/internal/authz"
	"likeness/internal/consent"
	"likeness/internal/http/input"
)

// Validations is the queue of consents the policy holds for a reviewer.
// *consent.Service implements it.
type Validations interface {
	// Validations returns EINVALID for an unknown state.
	Validations(ctx context.Context, state string, limit int) ([]*likeness.Validation, error)
	// Validation returns ENOTFOUND for an event that never waited.
	Validation(ctx context.Context, eventID string) (*consent.ValidationItem, error)
	// Validate records a verdict (consent.Approve or consent.Reject);
	// EFORBIDDEN for a caller without the capability or who recorded the
	// consent, ECONFLICT for an item already decided, and nothing written.
	Validate(ctx context.Context, eventID, verdict, reason string) (*likeness.ConsentEvent, error)
}

// validationReaders see the queue and the evidence: admins and auditors,
// who read consent histories with their evidence anyway. Deciding is the
// validate_consent capability's.
var validationReaders = []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor}

// maxValidationList bounds one listing of the queue.
const maxValidationList = 1000

// validationRoutes are the validation queue; with no queue configured they
// answer 404.
func validationRoutes(s *Server, v Validations) []Route {
	h := &validationHandlers{s: s, v: v}
	return []Route{
		{Method: "GET", Pattern: "/v1/validations", Roles: validationReaders, Handler: h.list},
		{Method: "GET", Pattern: "/v1/validations/{id}", Roles: validationReaders, Handler: h.get},
		{Method: "POST", Pattern: "/v1/validations/{id}", Roles: authz.Roles(authz.ValidateConsent), Handler: h.decide},
	}
}

type validationHandlers struct {
	s *Server
	v Validations
}

func (h *validationHandlers) queue() (Validations, error) {
	if h.v == nil {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "consent validation is not enabled on this server")
	}
	return h.v, nil
}

// validationJSON is an item as the API shows it, flagged when overdue.
type validationJSON struct {
	*likeness.Validation
	Overdue bool `json:"overdue"`
}

func (h *validationHandlers) view(v *likeness.Validation, now time.Time) validationJSON {
	return validationJSON{Validation: v, Overdue: v.Overdue(now)}
}

// list answers ?state= (pending by default; "all" for every state) and
// ?limit= (1..1000, 100 by default), earliest deadline first, so overdue
// items lead.
func (h *validationHandlers) list(w http.ResponseWriter, r *http.Request) error {
	q, err := h.queue()
	if err != nil {
		return err
	}
	state := r.URL.Query().Get("state")
	switch state {
	case "":
		state = likeness.ValidationStatePending
	case "all":
		state = ""
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxValidationList {
			return likeness.Errorf(likeness.EINVALID, "limit must be 1..%d", maxValidationList)
		}
		limit = n
	}
	vs, err := q.Validations(r.Context(), state, limit)
	if err != nil {
		return err
	}
	now := h.s.now()
	out := make([]validationJSON, len(vs))
	for i, v := range vs {
		out[i] = h.view(v, now)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"validations": out})
}

// itemJSON is one item with what a reviewer looks at.
type itemJSON struct {
	validationJSON
	Consent  *likeness.ConsentEvent `json:"consent"`
	Guardian bool                   `json:"guardian"`
	Verdict  *likeness.ConsentEvent `json:"verdict,omitempty"`
}

func (h *validationHandlers) item(ctx context.Context, id string) (*itemJSON, error) {
	q, err := h.queue()
	if err != nil {
		return nil, err
	}
	it, err := q.Validation(ctx, id)
	if err != nil {
		return nil, err
	}
	return &itemJSON{validationJSON: h.view(it.Validation, h.s.now()), Consent: it.Consent, Guardian: it.Guardian, Verdict: it.Verdict}, nil
}

func (h *validationHandlers) get(w http.ResponseWriter, r *http.Request) error {
	it, err := h.item(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, it)
}

// decide takes {"decision": "approve"|"reject", "reason": "…"}; the
// reviewer is the calling key, which must not be the one that recorded the
// consent. The answer carries the verdict event, its receipt and the
// revision a decision elsewhere can wait for.
func (h *validationHandlers) decide(w http.ResponseWriter, r *http.Request) error {
	q, err := h.queue()
	if err != nil {
		return err
	}
	var req struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	if err := input.DecodeJSON(r, w, h.s.maxBody, &req); err != nil {
		return err
	}
	ev, err := q.Validate(r.Context(), r.PathValue("id"), req.Decision, req.Reason)
	if err != nil {
		return err
	}
	rev := revisionOf(ev)
	h.s.markRevision(w, rev)
	out := committedAnswer{"event": ev, "revision": rev}
	if it, err := h.item(r.Context(), ev.Refers); err == nil {
		out["validation"] = it.validationJSON
	} else {
		h.s.log.Warn("verdict recorded; reading its item back failed", "err", err)
	}
	h.s.receipts(r, out, []*likeness.ConsentEvent{ev}, "receipt", true)
	return writeJSON(w, http.StatusCreated, out)
}
