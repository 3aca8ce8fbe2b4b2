package console

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"likeness"
)

// AccessLogLimit bounds the access log rows the subject page shows.
const AccessLogLimit = 200

type subjectView struct {
	Query    string // the external id the operator typed, echoed only in the search box
	Searched bool
	NotFound bool
	Erased   bool
	Subject  *likeness.Subject
	States   []stateRow
	History  []eventRow
	Assets   []assetRow
	Access   []accessRow
}

type stateRow struct {
	Purpose, Title string
	State          likeness.State
	Since, Expires time.Time
	Event          *eventRow
}

type eventRow struct {
	ID, Purpose, Title string
	Type               likeness.EventType
	Method             likeness.Method
	NoticeVersion      int64
	Language           string
	Collector          string
	Evidence           []string // the names of the evidence fields, never their values
	Time               time.Time
	LedgerIndex        int64
}

type assetRow struct {
	ID, Category, Purpose, Title, Region, DerivedFrom string
	Created, RetainUntil                              time.Time
	Overdue                                           bool
}

type accessRow struct {
	Time                            time.Time
	KeyID                           string
	Role                            likeness.Role
	Action, AssetID, Purpose, Title string
	Recipient, Country              string
	Allow                           bool
	Reasons                         []string
	Operator, Reason                string // who read content in the console, and why
}

// subjects shows the search form, or the person whose pseudonymous
// subject id (id) other pages link to.
func (h *Handler) subjects(w http.ResponseWriter, r *http.Request, s *session) {
	h.showSubject(w, r, s, "", strings.TrimSpace(r.URL.Query().Get("id")))
}

// searchSubject looks a person up by the organization's user id
// (external_id), sent in a form body: in a URL it would stay in the
// browser's history and in every proxy's access log.
func (h *Handler) searchSubject(w http.ResponseWriter, r *http.Request, s *session) {
	h.showSubject(w, r, s, strings.TrimSpace(r.PostForm.Get("external_id")), "")
}

// showSubject shows the person with external id ext, or else subject id
// id, or the empty form.
func (h *Handler) showSubject(w http.ResponseWriter, r *http.Request, s *session, ext, id string) {
	ctx := r.Context()
	l := h.localeFor(w, r)
	v := &subjectView{Query: ext}
	out := func(status int) {
		h.render(w, r, s, status, "subjects", &view{L: l, Title: "subjects.title", Nav: "subjects", Data: v})
	}
	if v.Query == "" && id == "" {
		out(http.StatusOK)
		return
	}
	v.Searched = true
	var sub *likeness.Subject
	var err error
	if v.Query != "" {
		sub, err = h.cfg.Subjects.SubjectByExternalID(ctx, v.Query)
	} else {
		sub, err = h.cfg.Subjects.Subject(ctx, id)
	}
	if err == nil {
		// Who looked; whom they looked at is no business of the process log.
		h.Log.Info("console: subject viewed", "key_id", s.KeyID, "operator", s.Operator)
		err = h.fillSubject(r, l, v, sub)
	}
	switch likeness.ErrorCode(err) {
	case "":
		out(http.StatusOK)
	case likeness.ENOTFOUND:
		v.NotFound = true
		out(http.StatusNotFound)
	case likeness.EGONE:
		// Erased: nothing about the person is left to show.
		v = &subjectView{Query: v.Query, Searched: true, Erased: true}
		out(http.StatusGone)
	default:
		h.failed(w, r, s, "look up subject", err)
	}
}

func (h *Handler) fillSubject(r *http.Request, l *locale, v *subjectView, sub *likeness.Subject) error {
	ctx := r.Context()
	states, hist, err := h.cfg.Consents.Consents(ctx, sub.ID)
	if err != nil {
		return err
	}
	assets, err := h.cfg.Vault.SubjectAssets(ctx, sub.ID)
	if err != nil {
		return err
	}
	access, err := h.cfg.Vault.AccessLog(ctx, sub.ID, AccessLogLimit)
	if err != nil {
		return err
	}
	v.Subject = sub
	for _, ev := range hist {
		v.History = append(v.History, h.eventRow(l, ev))
	}
	for _, st := range states {
		row := stateRow{Purpose: st.Purpose, Title: h.purposeTitle(l, st.Purpose), State: st.State, Since: st.Since, Expires: st.Expires}
		if st.Event != nil {
			e := h.eventRow(l, st.Event)
			row.Event = &e
		}
		v.States = append(v.States, row)
	}
	now := h.Now()
	for _, a := range assets {
		v.Assets = append(v.Assets, assetRow{ID: a.ID, Category: a.Category, Purpose: a.Purpose, Title: h.purposeTitle(l, a.Purpose),
			Region: a.Region, DerivedFrom: a.DerivedFrom, Created: a.CreatedAt, RetainUntil: a.RetainUntil,
			Overdue: !a.RetainUntil.IsZero() && !now.Before(a.RetainUntil)})
	}
	for _, e := range access {
		v.Access = append(v.Access, accessRow{Time: e.Time, KeyID: e.KeyID, Role: e.Role, Action: e.Action, AssetID: e.AssetID,
			Purpose: e.Purpose, Title: h.purposeTitle(l, e.Purpose), Recipient: e.Recipient, Country: e.Country,
			Allow: e.Allow, Reasons: e.Reasons, Operator: e.Operator, Reason: e.Reason})
	}
	return nil
}

func (h *Handler) eventRow(l *locale, ev *likeness.ConsentEvent) eventRow {
	var names []string
	for k := range ev.Evidence {
		names = append(names, k)
	}
	slices.Sort(names)
	return eventRow{ID: ev.ID, Purpose: ev.Purpose, Title: h.purposeTitle(l, ev.Purpose), Type: ev.Type, Method: ev.Method,
		NoticeVersion: ev.NoticeVersion, Language: ev.Language, Collector: ev.Collector, Evidence: names,
		Time: ev.Time, LedgerIndex: ev.LedgerIndex}
}

// purposeTitle names a purpose in the page's language, else by its id.
func (h *Handler) purposeTitle(l *locale, id string) string {
	if id == "" {
		return ""
	}
	p, ok := h.cfg.Policy().Purpose(id)
	if !ok {
		return id
	}
	if t := p.Title[l.Code]; t != "" {
		return t
	}
	if t := p.Title["en"]; t != "" {
		return t
	}
	return id
}
