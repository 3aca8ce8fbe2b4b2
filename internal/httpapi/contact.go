package httpapi

import (
	"net/http"

	"likeness/internal/authz"
	"likeness/internal/http/input"
)

// contactRoutes set and remove a person's contact address. Whoever sets it
// chooses where the person's portal links are mailed, so it takes the
// capability of issuing portal links.
func contactRoutes(s *Server) []Route {
	roles := authz.Roles(authz.IssuePortalLink)
	return []Route{
		{Method: "PUT", Pattern: "/v1/subjects/{id}/contact", Roles: roles, Handler: s.handlePutContact},
		{Method: "DELETE", Pattern: "/v1/subjects/{id}/contact", Roles: roles, Handler: s.handleDeleteContact},
	}
}

func (s *Server) handlePutContact(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := input.DecodeJSON(r, w, 4<<10, &in); err != nil {
		return err
	}
	sub, err := s.subjects.Subject(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := authz.Check(r.Context(), authz.IssuePortalLink, sub.ID); err != nil {
		return err
	}
	if err := s.subjects.SetContact(r.Context(), sub.ID, in.Email); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleDeleteContact(w http.ResponseWriter, r *http.Request) error {
	sub, err := s.subjects.Subject(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := authz.Check(r.Context(), authz.IssuePortalLink, sub.ID); err != nil {
		return err
	}
	if err := s.subjects.ClearContact(r.Context(), sub.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
