package httpapi

import (
	"net/http"
	"strings"

	"likeness"
	"likeness/internal/http/input"
	"likeness/internal/vault"
)

// reviewReaders may see the review queue and cards; only an admin decides.
var reviewReaders = []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor}

// reviewRoutes are the human review queue of dataset items and the dataset
// cards.
func reviewRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Pattern: "/v1/datasets/{id}/reviews", Roles: reviewReaders, Handler: s.handleDatasetReviews},
		{Method: "POST", Pattern: "/v1/datasets/{id}/reviews/{item}", Roles: adminOnly, Handler: s.handleDecideReview},
		{Method: "GET", Pattern: "/v1/datasets/{id}/reviews/{item}/content", Roles: adminOnly, Handler: s.handleReviewContent},
		{Method: "GET", Pattern: "/v1/datasets/{id}/card", Roles: datasetReaders, Handler: s.handleDatasetCard},
	}
}

func (s *Server) handleDatasetReviews(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	rs, err := ds.Reviews(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"reviews": rs})
}

// handleDecideReview takes {"decision":"approve"|"exclude","reason":"…"};
// the reviewer is the calling key.
func (s *Server) handleDecideReview(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	var req struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	if err := input.DecodeJSON(r, w, s.maxBody, &req); err != nil {
		return err
	}
	rv, err := ds.Decide(r.Context(), r.PathValue("id"), r.PathValue("item"), req.Decision, req.Reason)
	if err != nil {
		return err
	}
	why := "dataset review " + rv.DatasetID + "/" + rv.ItemID + ": " + rv.State
	if rv.Note != "" {
		why += ": " + rv.Note
	}
	likeness.AnnotateAudit(r.Context(), rv.Purpose, why)
	return writeJSON(w, http.StatusOK, rv)
}

// handleReviewContent is the held item itself, for the reviewer who decides
// it: read through the vault under the dataset's purpose, so that a
// decision allows it and the person's access log records who looked and
// why ("dataset review").
func (s *Server) handleReviewContent(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := input.Params(q, "reason"); err != nil {
		return err
	}
	reason := "dataset review of " + r.PathValue("id")
	if said := strings.TrimSpace(q.Get("reason")); said != "" {
		reason += ": " + said // the vault bounds the whole (vault.MaxReason)
	}
	assetID, purpose, err := ds.HeldAsset(r.Context(), r.PathValue("id"), r.PathValue("item"))
	if err != nil {
		return err
	}
	return s.serveContent(w, r, &vault.Access{AssetID: assetID, Purpose: purpose, Reason: reason})
}

// handleDatasetCard returns the card as JSON, or with ?format=md as Markdown.
func (s *Server) handleDatasetCard(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	c, err := ds.Card(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("format") {
	case "", "json":
		return writeJSON(w, http.StatusOK, c)
	case "md":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		_, err := w.Write([]byte(c.Markdown()))
		return err
	}
	return likeness.Errorf(likeness.EINVALID, "format must be json or md")
}
