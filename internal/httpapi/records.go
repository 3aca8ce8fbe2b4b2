package httpapi

import (
	"net/http"

	"likeness"
	"likeness/internal/records"
)

// recordReaders may read the GDPR records: the privacy officer (admin) and
// auditors.
var recordReaders = []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor}

// recordRoutes serve the record of processing activities and the DPIA
// drafts; with a nil builder they answer 404.
func recordRoutes(b *records.Builder) []Route {
	h := &recordHandlers{b: b}
	return []Route{
		{Method: "GET", Pattern: "/v1/records/processing", Roles: recordReaders, Handler: h.processing},
		{Method: "GET", Pattern: "/v1/records/dpia", Roles: recordReaders, Handler: h.dpia},
	}
}

type recordHandlers struct{ b *records.Builder }

func (h *recordHandlers) builder() (*records.Builder, error) {
	if h.b == nil {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "records are not enabled on this server")
	}
	return h.b, nil
}

func (h *recordHandlers) processing(w http.ResponseWriter, r *http.Request) error {
	b, err := h.builder()
	if err != nil {
		return err
	}
	rec, err := b.Processing(r.Context(), r.URL.Query().Get("lang"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rec)
}

func (h *recordHandlers) dpia(w http.ResponseWriter, r *http.Request) error {
	b, err := h.builder()
	if err != nil {
		return err
	}
	d, err := b.DPIA(r.Context(), r.URL.Query().Get("lang"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}
