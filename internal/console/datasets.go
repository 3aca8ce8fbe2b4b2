package console

import (
	"net/http"
	"slices"
	"strings"

	"likeness"
	"likeness/internal/dataset"
	"likeness/internal/http/input"
)

type datasetsView struct {
	Enabled bool
	Rows    []datasetRow
}

type datasetRow struct {
	*likeness.Dataset
	Title           string
	Models          []string
	ModelsToRetrain []string
}

func modelNames(ms []*likeness.Model) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func (h *Handler) datasets(w http.ResponseWriter, r *http.Request, s *session) {
	l := h.localeFor(w, r)
	all, ok, err := h.allDatasets(r)
	if err != nil {
		h.failed(w, r, s, "list datasets", err)
		return
	}
	v := &datasetsView{Enabled: ok}
	for _, d := range slices.Backward(all) { // newest first
		row := datasetRow{Dataset: d, Title: h.purposeTitle(l, d.Purpose)}
		full, err := h.cfg.Datasets.Get(r.Context(), d.ID)
		if err != nil {
			h.failed(w, r, s, "get dataset", err)
			return
		}
		row.Models, row.ModelsToRetrain = modelNames(full.Models), modelNames(full.ModelsToRetrain)
		v.Rows = append(v.Rows, row)
	}
	h.render(w, r, s, http.StatusOK, "datasets", &view{L: l, Title: "datasets.title", Nav: "datasets", Data: v})
}

type auditView struct {
	Dataset *likeness.Dataset
	Title   string
	Target  string // the target JSON as typed
	Error   string // why the target was refused
	Report  *dataset.Report
}

// datasetAudit shows the representation audit of a dataset version, against
// an optional target distribution (JSON, as the API takes it).
func (h *Handler) datasetAudit(w http.ResponseWriter, r *http.Request, s *session) {
	l := h.localeFor(w, r)
	if h.cfg.Datasets == nil {
		h.render(w, r, s, http.StatusNotFound, "datasets", &view{L: l, Title: "datasets.title", Nav: "datasets", Data: &datasetsView{}})
		return
	}
	ctx := r.Context()
	d, err := h.cfg.Datasets.Get(ctx, r.PathValue("id"))
	if err != nil {
		h.failed(w, r, s, "get dataset", err)
		return
	}
	v := &auditView{Dataset: d.Dataset, Title: h.purposeTitle(l, d.Purpose), Target: strings.TrimSpace(r.URL.Query().Get("target"))}
	out := func(status int) {
		h.render(w, r, s, status, "audit", &view{L: l, Title: "audit.title", Nav: "datasets", Data: v})
	}
	var target dataset.Target
	if v.Target != "" {
		if len(v.Target) > 64<<10 {
			v.Error = l.T("audit.target.toolarge")
			out(http.StatusBadRequest)
			return
		}
		if err := input.Unmarshal([]byte(v.Target), &target); err != nil {
			v.Error = l.T("audit.target.invalid")
			out(http.StatusBadRequest)
			return
		}
	}
	rep, err := h.cfg.Datasets.Audit(ctx, d.ID, target)
	if likeness.ErrorCode(err) == likeness.EINVALID {
		v.Error = likeness.ErrorMessage(err)
		out(http.StatusBadRequest)
		return
	}
	if err != nil {
		h.failed(w, r, s, "audit dataset", err)
		return
	}
	v.Report = rep
	out(http.StatusOK)
}
