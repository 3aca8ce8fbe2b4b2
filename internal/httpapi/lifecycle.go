package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"likeness"
	"likeness/policy"
)

func lifecycleRoutes(s *Server) []Route {
	return []Route{
		{"GET", "/v1/renewals/due", readers, s.handleRenewalsDue},
		// Public: BIPA requires the retention schedule to be available to the public.
		{"GET", "/v1/retention-schedule", nil, s.handleRetentionSchedule},
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
	for _, id := range p.PurposeIDs {
		pp := p.Purposes[id]
		e := scheduleEntry{Purpose: id, Title: pp.Title[lang], Categories: pp.Data, Retention: pp.Retention.String()}
		labels := make([]string, len(pp.Data))
		for i, c := range pp.Data {
			labels[i] = policy.CategoryLabel(c, lang)
		}
		if lang == "de" {
			when := "sofort nach einem Löschantrag"
			if pp.OnWithdraw == "erase" {
				when = "sofort nach Widerruf oder Löschantrag"
			}
			e.Text = fmt.Sprintf("%s: %s werden höchstens %s nach der Erhebung gelöscht, %s, und biometrische Daten von Personen in Illinois spätestens 3 Jahre nach dem letzten Kontakt.",
				e.Title, strings.Join(labels, ", "), pp.Retention.Human(lang), when)
		} else {
			when := "at once on an erasure request (a withdrawal stops their use at once)"
			if pp.OnWithdraw == "erase" {
				when = "at once on withdrawal or an erasure request"
			}
			e.Text = fmt.Sprintf("%s: %s are destroyed at most %s after collection, %s, and biometric data of people in Illinois no later than 3 years after their last interaction with us.",
				e.Title, strings.Join(labels, ", "), pp.Retention.Human(lang), when)
		}
		text.WriteString(e.Text + "\n")
		out = append(out, e)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"organization": p.Organization.Name, "contact": p.Organization.Contact,
		"language": lang, "schedule": out, "text": text.String()})
}

// applyGPC honours a Global Privacy Control signal sent with a request about
// a subject (the collector forwards the person's Sec-GPC header).
func (s *Server) applyGPC(r *http.Request, subjectID string) error {
	if r.Header.Get("Sec-GPC") != "1" {
		return nil
	}
	_, err := s.consent.ApplyGPC(r.Context(), subjectID)
	return err
}

// refuseGPCSale refuses a grant of a sale_or_share purpose in a request that
// carries the person's opt-out signal: the signal wins.
func (s *Server) refuseGPCSale(r *http.Request, subjectID string, purposes []string) error {
	if r.Header.Get("Sec-GPC") != "1" {
		return nil
	}
	sub, err := s.subjects.Subject(r.Context(), subjectID)
	if err != nil {
		return err
	}
	if j, err := likeness.ParseJurisdiction(sub.Jurisdiction); err != nil || j.Regime != "US" || j.Region != "CA" {
		return nil
	}
	p := s.notices.Policy()
	for _, id := range purposes {
		if pp, ok := p.Purpose(id); ok && pp.SaleOrShare {
			return likeness.Errorf(likeness.ECONFLICT, "the request carries a Global Privacy Control signal, which opts this person out of %q (sale or sharing); ask them without it", id)
		}
	}
	return nil
}
