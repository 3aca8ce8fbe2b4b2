package httpapi

import (
	"net/http"

	"likeness"
)

// eventRoutes shows the outbox deliveries that gave up, and puts one back.
func eventRoutes(s *Server) []Route {
	return []Route{
		{"GET", "/v1/events/dead-letters", []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor}, s.handleDeadLetters},
		{"POST", "/v1/events/dead-letters/{sink}/{id}/retry", adminOnly, s.handleRetryDeadLetter},
	}
}

// handleDeadLetters lists dead deliveries, of one sink with ?sink=.
func (s *Server) handleDeadLetters(w http.ResponseWriter, r *http.Request) error {
	dead, err := s.store.DeadDeliveries(r.Context(), r.URL.Query().Get("sink"))
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
	if err := s.store.RetryDead(r.Context(), r.PathValue("sink"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
