package httpapi

import (
	"net/http"

	"likeness"
	"likeness/internal/http/input"
)

// eventRoutes shows the outbox deliveries that gave up, and puts one back.
func eventRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Pattern: "/v1/events/dead-letters", Roles: []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor}, Handler: s.handleDeadLetters},
		{Method: "POST", Pattern: "/v1/events/dead-letters/{sink}/{id}/retry", Roles: adminOnly, Handler: s.handleRetryDeadLetter},
	}
}

// handleDeadLetters lists dead deliveries, of one sink with ?sink=.
func (s *Server) handleDeadLetters(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	dead, err := s.store.DeadDeliveries(r.Context(), r.URL.Query().Get("sink"), limit)
	if err != nil {
		return err
	}
	if dead == nil {
		dead = []*likeness.Delivery{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"deliveries": dead})
}

// handleRetryDeadLetter makes a dead delivery pending again; the dispatcher
// sends it on its next pass.
func (s *Server) handleRetryDeadLetter(w http.ResponseWriter, r *http.Request) error {
	if err := input.NoBody(r); err != nil {
		return err
	}
	if err := s.store.RetryDead(r.Context(), r.PathValue("sink"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
