package console

import (
	"net/http"
	"net/url"

	"likeness"
)

type reviewsView struct {
	Dataset *likeness.Dataset
	Title   string
	Pending []*likeness.DatasetReview
	Decided []*likeness.DatasetReview
	Done    string // the decision just taken, for the status line
}

// datasetReviews lists the items a dataset build held for human review,
// with approve and exclude forms for an admin.
func (h *Handler) datasetReviews(w http.ResponseWriter, r *http.Request, s *session) {
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
	rs, err := h.cfg.Datasets.Reviews(ctx, d.ID)
	if err != nil {
		h.failed(w, r, s, "list dataset reviews", err)
		return
	}
	v := &reviewsView{Dataset: d.Dataset, Title: h.purposeTitle(l, d.Purpose), Done: r.URL.Query().Get("done")}
	for _, rv := range rs {
		if rv.State == likeness.ReviewPending {
			v.Pending = append(v.Pending, rv)
		} else {
			v.Decided = append(v.Decided, rv)
		}
	}
	h.render(w, r, s, http.StatusOK, "reviews", &view{L: l, Title: "reviews.title", Nav: "datasets", Data: v})
}

// decideReview takes an admin's approve or exclude of one held item.
func (h *Handler) decideReview(w http.ResponseWriter, r *http.Request, s *session) {
	if h.cfg.Datasets == nil {
		h.notFound(w, r)
		return
	}
	id, item := r.PathValue("id"), r.PathValue("item")
	ctx := likeness.WithActor(r.Context(), s.actor())
	rv, err := h.cfg.Datasets.Decide(ctx, id, item, r.PostForm.Get("decision"), r.PostForm.Get("reason"))
	if err != nil {
		h.failed(w, r, s, "decide dataset review", err)
		return
	}
	h.recordAs(r, s, "console: dataset review "+id+"/"+item+" "+rv.State, "")
	http.Redirect(w, r, "/console/datasets/"+url.PathEscape(id)+"/reviews?done="+url.QueryEscape(rv.State), http.StatusSeeOther)
}
