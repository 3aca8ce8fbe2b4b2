package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"likeness"
	"likeness/internal/authz"
	"likeness/internal/consent"
)

// Validations is the queue of consents the policy holds for a reviewer.
// *consent.Service implements it.
type Validations interface {
	Validations(ctx context.Context, state string, limit int) ([]*likeness.Validation, error)
	// Validation returns ENOTFOUND for an event that never waited.
	Validation(ctx context.Context, eventID string) (*consent.ValidationItem, error)
	// Validate records a verdict; EFORBIDDEN (no capability, or four
	// eyes), ECONFLICT (already decided), EINVALID (no reason), and then
	// nothing is written.
	Validate(ctx context.Context, eventID, verdict, reason string) (*likeness.ConsentEvent, error)
}

// ValidationLimit bounds each list on the queue page.
const ValidationLimit = 200

type validationsView struct {
	Pending []validationRow
	Decided []validationRow
	Done    string // the verdict just given, for the status line
}

type validationRow struct {
	*likeness.Validation
	Title   string
	Overdue bool
}

// validations lists the pending consents, earliest deadline first (so the
// overdue ones lead, flagged), and the latest decided ones.
func (h *Handler) validations(w http.ResponseWriter, r *http.Request, s *session) {
	l := h.localeFor(w, r)
	if h.cfg.Validations == nil {
		h.message(w, r, s, http.StatusNotFound, "validations.title", "validations.disabled")
		return
	}
	ctx := r.Context()
	v := &validationsView{}
	switch d := r.URL.Query().Get("done"); d {
	case likeness.ValidationStateApproved, likeness.ValidationStateRejected:
		v.Done = d
	}
	now := h.Now()
	for _, st := range []string{likeness.ValidationStatePending, likeness.ValidationStateApproved, likeness.ValidationStateRejected} {
		items, err := h.cfg.Validations.Validations(ctx, st, ValidationLimit)
		if err != nil {
			h.failed(w, r, s, "list validations", err)
			return
		}
		for _, it := range items {
			row := validationRow{Validation: it, Title: h.purposeTitle(l, it.Purpose), Overdue: it.Overdue(now)}
			if st == likeness.ValidationStatePending {
				v.Pending = append(v.Pending, row)
			} else {
				v.Decided = append(v.Decided, row)
			}
		}
	}
	// The store lists by deadline; the decided ones read newest first.
	slices.SortFunc(v.Decided, func(a, b validationRow) int { return b.DecidedAt.Compare(a.DecidedAt) })
	v.Decided = v.Decided[:min(len(v.Decided), ValidationLimit)]
	h.render(w, r, s, http.StatusOK, "validations", &view{L: l, Title: "validations.title", Nav: "validations", Data: v})
}

type validationView struct {
	*consent.ValidationItem
	Title     string
	Overdue   bool
	Recording string // the asset id of a spoken consent's recording, if any
	// Evidence is the rest of the evidence, by name.
	Evidence [][2]string
	// CanDecide: the session holds the capability and did not record
	// the consent; OwnConsent: it recorded it (four eyes).
	CanDecide, OwnConsent bool
	CanListen             bool
	Reason                string // the verdict's reason, once decided
}

// validation shows one consent with what a reviewer needs to decide: the
// method, the notice version and hash, the language, the guardian, the
// evidence, a form to hear the recording (with a stated reason, kept in
// the person's access log), and the approve and reject form.
func (h *Handler) validation(w http.ResponseWriter, r *http.Request, s *session) {
	l := h.localeFor(w, r)
	if h.cfg.Validations == nil {
		h.notFound(w, r)
		return
	}
	it, err := h.cfg.Validations.Validation(r.Context(), r.PathValue("id"))
	if err != nil {
		h.failed(w, r, s, "read validation", err)
		return
	}
	a := s.actor()
	v := &validationView{ValidationItem: it, Title: h.purposeTitle(l, it.Purpose), Overdue: it.Overdue(h.Now()),
		OwnConsent: a.Name() == it.Collector}
	holds := authz.Allowed(a, authz.ValidateConsent, it.SubjectID)
	v.CanDecide = holds && !v.OwnConsent && it.State == likeness.ValidationStatePending
	v.CanListen = holds
	for k, val := range it.Consent.Evidence {
		if k == "recording" {
			v.Recording = val
			continue
		}
		v.Evidence = append(v.Evidence, [2]string{k, val})
	}
	if it.Verdict != nil {
		v.Reason = it.Verdict.Evidence["reason"]
	}
	h.render(w, r, s, http.StatusOK, "validation", &view{L: l, Title: "validation.title", Nav: "validations", Data: v})
}

// decideValidation records an approval or rejection; the service checks
// the capability and four eyes and writes nothing on refusal.
func (h *Handler) decideValidation(w http.ResponseWriter, r *http.Request, s *session) {
	if h.cfg.Validations == nil {
		h.notFound(w, r)
		return
	}
	id := r.PathValue("id")
	ctx := likeness.WithActor(r.Context(), s.actor())
	ev, err := h.cfg.Validations.Validate(ctx, id, r.PostForm.Get("decision"), r.PostForm.Get("reason"))
	if err != nil {
		h.failed(w, r, s, "decide validation", err)
		return
	}
	state := likeness.ValidationStateApproved
	if ev.Type == likeness.ValidationRejected {
		state = likeness.ValidationStateRejected
	}
	h.recordAs(r, s, "console: validation "+id+" "+state, ev.SubjectID)
	http.Redirect(w, r, "/console/validations?done="+url.QueryEscape(state), http.StatusSeeOther)
}
