package console

import (
	"net/http"

	"likeness/internal/records"
)

// recordsView is the record of processing activities and the DPIA drafts,
// both in the page's language.
type recordsView struct {
	Record *records.Record
	DPIA   *records.DPIA
}

// records shows the Art. 30 record and the Art. 35 drafts as one printable
// page.
func (h *Handler) records(w http.ResponseWriter, r *http.Request, s *session) {
	l := h.localeFor(w, r)
	if h.cfg.Records == nil {
		h.message(w, r, s, http.StatusNotFound, "records.title", "records.disabled")
		return
	}
	rec, err := h.cfg.Records.Processing(r.Context(), l.Code)
	if err != nil {
		h.failed(w, r, s, "build the record of processing activities", err)
		return
	}
	d, err := h.cfg.Records.DPIA(r.Context(), l.Code)
	if err != nil {
		h.failed(w, r, s, "draft the impact assessments", err)
		return
	}
	h.render(w, r, s, http.StatusOK, "records", &view{L: l, Title: "records.title", Nav: "records", Data: &recordsView{Record: rec, DPIA: d}})
}
