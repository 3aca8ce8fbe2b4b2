package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"likeness"
	"likeness/policy"
)

// RenewalLimit bounds the rows the renewals page lists.
const RenewalLimit = 1000

type renewalsView struct {
	Within string // as typed
	Days   int
	Error  bool
	Rows   []renewalRow
	More   bool // the list was cut at RenewalLimit
}

type renewalRow struct {
	SubjectID, Purpose, Title string
	State                     likeness.State
	Expires                   time.Time
}

// parseWithin reads a window such as "30d", "720h" or "45" (days).
func parseWithin(s string, now time.Time) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return RenewalWindow, true
	}
	if n, err := strconv.Atoi(s); err == nil {
		s = strconv.Itoa(n) + "d" // a bare number is days
	}
	// The API's and the policy's durations: 30d, 12mo, 3y.
	p, err := policy.ParseDuration(s)
	if err != nil {
		return 0, false
	}
	d := p.AddTo(now).Sub(now)
	if d < 0 || d > 3660*24*time.Hour {
		return 0, false
	}
	return d, true
}

func (h *Handler) renewals(w http.ResponseWriter, r *http.Request, s *session) {
	l := h.localeFor(w, r)
	v := &renewalsView{Within: r.URL.Query().Get("within")}
	if v.Within == "" {
		v.Within = "30d"
	}
	within, ok := parseWithin(v.Within, h.Now())
	if !ok {
		v.Error = true
		h.render(w, r, s, http.StatusBadRequest, "renewals", &view{L: l, Title: "renewals.title", Nav: "renewals", Data: v})
		return
	}
	v.Days = int(within / (24 * time.Hour))
	due := h.cfg.Index.DueForRenewal(h.Now(), within, RenewalLimit+1)
	if len(due) > RenewalLimit {
		due, v.More = due[:RenewalLimit], true
	}
	for _, d := range due {
		v.Rows = append(v.Rows, renewalRow{SubjectID: d.SubjectID, Purpose: d.Purpose, Title: h.purposeTitle(l, d.Purpose), State: d.State, Expires: d.Expires})
	}
	h.render(w, r, s, http.StatusOK, "renewals", &view{L: l, Title: "renewals.title", Nav: "renewals", Data: v})
}
