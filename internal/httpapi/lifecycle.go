package httpapi

import (
	"net/http"
	"strings"

	"likeness"
	"likeness/decision"
	"likeness/internal/jurisdiction"
	"likeness/policy"
)

func lifecycleRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Pattern: "/v1/renewals/due", Roles: readers, Handler: s.handleRenewalsDue},
		// Public: BIPA requires the retention schedule to be available to the public.
		{Method: "GET", Pattern: "/v1/retention-schedule", Roles: nil, Handler: s.handleRetentionSchedule},
	}
}

func (s *Server) handleRenewalsDue(w http.ResponseWriter, r *http.Request) error {
	within := policy.Duration{Days: 30}
	if v := r.URL.Query().Get("within"); v != "" {
		d, err := policy.ParseDuration(v)
		if err != nil {
			return likeness.Errorf(likeness.EINVALID, "within: %v", err)
		}
		within = d
	}
	now := s.now()
	due := s.index.DueForRenewal(now, within.AddTo(now).Sub(now), 10000)
	if due == nil {
		due = []decision.Due{} // an empty list, never null
	}
	return writeJSON(w, http.StatusOK, map[string]any{"within": within.String(), "due": due})
}

type scheduleEntry struct {
	Purpose    string   `json:"purpose"`
	Title      string   `json:"title"`
	Categories []string `json:"categories"`
	Retention  string   `json:"retention"`
	Text       string   `json:"text"`
}

func (s *Server) handleRetentionSchedule(w http.ResponseWriter, r *http.Request) error {
	p := s.notices.Policy()
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = p.Languages[0]
	}
	if !p.HasLanguage(lang) {
		return likeness.Errorf(likeness.EINVALID, "no schedule in language %q; offered: %v", lang, p.Languages)
	}
	var out []scheduleEntry
	var text strings.Builder
	bipa := policy.Duration{Years: jurisdiction.BIPAYears}.Human(lang)
	for _, id := range p.PurposeIDs {
		pp := p.Purposes[id]
		e := scheduleEntry{Purpose: id, Title: pp.Title[lang], Categories: pp.Data, Retention: pp.Retention.String()}
		labels := make([]string, len(pp.Data))
		for i, c := range pp.Data {
			labels[i] = policy.CategoryLabel(c, lang)
		}
		e.Text = jurisdiction.ScheduleText(lang, jurisdiction.ScheduleEntry{Title: e.Title, Categories: labels,
			Retention: pp.Retention.Human(lang), EraseOnWithdraw: pp.ErasesOnWithdraw(), BIPALimit: bipa})
		text.WriteString(e.Text + "\n")
		out = append(out, e)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organization": p.Organization.Name, "contact": p.Organization.Contact,
		"language": lang, "schedule": out, "text": text.String()})
}

// honourGPC honours a Global Privacy Control signal sent with a request
// about a subject (the collector forwards the person's Sec-GPC header):
// the opt-out is recorded, and a grant of a sale_or_share purpose in the
// same request is refused: the signal wins.
func (s *Server) honourGPC(r *http.Request, subjectID string, purposes []string) error {
	if r.Header.Get("Sec-GPC") != "1" {
		return nil
	}
	id, err := s.consent.HonourGPC(r.Context(), subjectID, purposes)
	if err != nil {
		return err
	}
	if id != "" {
		return likeness.Errorf(likeness.ECONFLICT, "the request carries a Global Privacy Control signal, which opts this person out of %q (sale or sharing); ask them without it", id)
	}
	return nil
}
