package console

import (
	"net/http"
	"time"

	"likeness"
)

// obligationsView lists what the law puts a clock on: open data-subject
// requests and open breach incidents, most urgent first.
type obligationsView struct {
	Requests  []requestRow
	Incidents []incidentRow
}

type requestRow struct {
	ID, SubjectID      string
	Type               likeness.RequestType
	Received, Deadline time.Time
	Extended, Overdue  bool
}

type incidentRow struct {
	ID, Title          string
	Detected, Deadline time.Time
	Affected           int
	State              string
	Overdue            bool
}

// openObligations reads the open requests and incidents.
func (h *Handler) openObligations(r *http.Request) (*obligationsView, error) {
	ctx, now := r.Context(), h.Now()
	v := &obligationsView{}
	reqs, err := h.cfg.Store.Requests(ctx, likeness.RequestFilter{State: likeness.RequestOpen, Limit: 1000})
	if err != nil {
		return nil, err
	}
	for _, q := range reqs {
		v.Requests = append(v.Requests, requestRow{ID: q.ID, SubjectID: q.SubjectID, Type: q.Type, Received: q.ReceivedAt,
			Deadline: q.Deadline(), Extended: !q.ExtendedTo.IsZero(), Overdue: q.Overdue(now)})
	}
	incs, err := h.cfg.Store.Incidents(ctx, likeness.IncidentFilter{})
	if err != nil {
		return nil, err
	}
	for _, inc := range incs {
		if inc.State == likeness.IncidentClosed {
			continue
		}
		v.Incidents = append(v.Incidents, incidentRow{ID: inc.ID, Title: inc.Title, Detected: inc.DetectedAt,
			Deadline: inc.AuthorityDeadline, Affected: inc.AffectedSubjects, State: inc.State, Overdue: inc.Overdue(now)})
	}
	return v, nil
}

func (h *Handler) obligations(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := h.openObligations(r)
	if err != nil {
		h.failed(w, r, s, "list requests and incidents", err)
		return
	}
	h.render(w, r, s, http.StatusOK, "obligations", &view{Title: "obligations.title", Nav: "obligations", Data: v})
}
