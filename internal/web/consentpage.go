package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"likeness"
	"likeness/internal/http/response"
	"likeness/internal/jurisdiction"
	"likeness/internal/vault"
	"likeness/policy"
)

// consentForm is the consent form: the notice for the purposes asked
// about, one unticked checkbox each, and the buttons.
type consentForm struct {
	Action         string
	Notice         *policy.Notice
	Purposes       []policy.NoticePurpose // the purposes asked about, in policy order
	Selected       map[string]bool        // what the person ticked, kept when the form comes back with an error
	WrittenRelease bool                   // a typed-name signature step (US-IL, biometric data)
	Signature      string
	Minor          bool // the person is a minor: their guardian consents and names themself
	Guardian       string
	Error          string
	RecordURL      string // non-empty: offer verbal consent (JavaScript)
	Portal         bool
}

// needsWrittenRelease reports whether a selected purpose uses data that
// needs a written release from a subject under code (BIPA).
func needsWrittenRelease(code string, purposes []policy.NoticePurpose, selected func(string) bool) bool {
	for _, p := range purposes {
		if !selected(p.ID) {
			continue
		}
		for _, d := range p.Data {
			if jurisdiction.WrittenReleaseRequired(code, d) {
				return true
			}
		}
	}
	return false
}

// noticeFor picks the notice in the page language, or the policy's default.
func (h *Handler) noticeFor(l *locale) *policy.Notice { return h.svc.NoticeFor(l.Code) }

func (h *Handler) newForm(l *locale, sub *likeness.Subject, purposes []string, action string) *consentForm {
	n := h.noticeFor(l)
	f := &consentForm{Action: action, Notice: n, Selected: map[string]bool{}}
	for _, np := range n.Purposes {
		if slices.Contains(purposes, np.ID) {
			f.Purposes = append(f.Purposes, np)
		}
	}
	f.WrittenRelease = needsWrittenRelease(sub.Jurisdiction, f.Purposes, func(string) bool { return true })
	f.Minor = sub.Guardian
	return f
}

// openLink loads a link of kind and its subject, answering with the right
// page when it cannot be used: unknown 404, used or expired 410.
func (h *Handler) openLink(w http.ResponseWriter, r *http.Request, kind string) (*likeness.Link, *likeness.Subject, *locale, bool) {
	id := r.PathValue("link")
	var link *likeness.Link
	var err error
	if likeness.ValidLinkID(id) {
		link, err = h.links.Link(r.Context(), id)
	} else {
		err = likeness.Errorf(likeness.ENOTFOUND, "link not found")
	}
	if err == nil && link.Kind != kind {
		err = likeness.Errorf(likeness.ENOTFOUND, "link not found")
	}
	if err != nil {
		h.linkError(w, r, h.localeFor(w, r, ""), err)
		return nil, nil, nil, false
	}
	sub, err := h.svc.Subject(r.Context(), link.SubjectID)
	l := h.localeFor(w, r, "")
	if sub != nil {
		l = h.localeFor(w, r, sub.Locale)
	}
	switch {
	case err != nil:
		h.linkError(w, r, l, err)
	case link.Used():
		h.linkError(w, r, l, likeness.Errorf(likeness.ECONFLICT, "used"))
	case link.Expired(h.Now()):
		h.linkError(w, r, l, likeness.Errorf(likeness.EGONE, "expired"))
	default:
		return link, sub, l, true
	}
	return nil, nil, nil, false
}

// linkError answers a link that cannot be used. Used and expired links
// both get 410 Gone: the link will never work again.
func (h *Handler) linkError(w http.ResponseWriter, r *http.Request, l *locale, err error) {
	switch likeness.ErrorCode(err) {
	case likeness.ENOTFOUND:
		h.messageReach(w, r, http.StatusNotFound, l, "error.notfound.title", "error.notfound.body")
	case likeness.ECONFLICT:
		h.messageReach(w, r, http.StatusGone, l, "error.used.title", "error.used.body")
	case likeness.EGONE:
		h.messageReach(w, r, http.StatusGone, l, "error.expired.title", "error.expired.body")
	default:
		h.internalError(w, r, l, err)
	}
}

func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, l *locale, err error) {
	// The route pattern, never the path: paths carry link secrets.
	h.Log.Error("web page failed", "route", r.Pattern, "err", err)
	h.message(w, r, http.StatusInternalServerError, l, "error.internal.title", "error.internal.body")
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// consentHeaders sets the CSP of the consent page: embeddable from the
// policy's origins, and the return URL allowed as a form target.
func (h *Handler) consentHeaders(w http.ResponseWriter, link *likeness.Link) {
	setSecurityHeaders(w, h.svc.Policy().EmbedOrigins, originOf(link.ReturnURL))
}

func (h *Handler) consentPage(w http.ResponseWriter, r *http.Request) {
	link, sub, l, ok := h.openLink(w, r, likeness.LinkConsent)
	if !ok {
		return
	}
	h.consentHeaders(w, link)
	f := h.newForm(l, sub, link.Purposes, "/consent/"+link.ID)
	if h.cfg.Recordings != nil && !f.WrittenRelease {
		f.RecordURL = "/consent/" + link.ID + "/recording"
	}
	h.render(w, r, http.StatusOK, "consent", &view{L: l, Title: l.T("consent.title"), CSRF: h.csrfToken("consent:" + link.ID), Form: f})
}

// decision is what a person submitted on a consent form.
type decision struct {
	accept        bool
	purposes      []string
	version       int64
	sha, lang     string
	signature     string
	guardian      string
	unknownAction bool
}

func readDecision(form url.Values, allowed []string) (decision, error) {
	d := decision{lang: form.Get("lang"), sha: form.Get("notice_sha256"), signature: strings.TrimSpace(form.Get("signature")),
		guardian: strings.TrimSpace(form.Get("guardian"))}
	switch form.Get("action") {
	case "accept":
		d.accept = true
	case "decline":
	default:
		d.unknownAction = true
	}
	d.version, _ = strconv.ParseInt(form.Get("notice_version"), 10, 64)
	for _, p := range form["purpose"] {
		if !slices.Contains(allowed, p) {
			return d, likeness.Errorf(likeness.EINVALID, "purpose %q was not asked about", p)
		}
		if !slices.Contains(d.purposes, p) {
			d.purposes = append(d.purposes, p)
		}
	}
	return d, nil
}

// grantDecision applies an accepted decision: it checks the form against
// the current notice and the written-release rule, re-rendering the form
// (nothing recorded) when something is missing; then consume (using the
// link, if any) and Grant. It reports whether it answered with the form.
func (h *Handler) grantDecision(ctx context.Context, w http.ResponseWriter, r *http.Request, v *view, sub *likeness.Subject, d decision, consume func() error) ([]*likeness.ConsentEvent, bool) {
	l, f := v.L, v.Form
	for _, p := range d.purposes {
		f.Selected[p] = true
	}
	f.Signature = d.signature
	again := func(status int, key string) ([]*likeness.ConsentEvent, bool) {
		f.Error = l.T(key)
		h.render(w, r, status, "consent", v)
		return nil, true
	}
	if len(d.purposes) == 0 {
		return again(http.StatusUnprocessableEntity, "consent.error.none")
	}
	if d.version != f.Notice.Version || d.sha != f.Notice.SHA256 {
		// The notice changed (or the language did): show the current one.
		f.Selected = map[string]bool{}
		return again(http.StatusConflict, "consent.error.stale")
	}
	if refused, err := h.gpcRefuses(ctx, r, sub, d.purposes); err != nil {
		h.internalError(w, r, l, err)
		return nil, true
	} else if refused != "" {
		f.Selected[refused] = false
		return again(http.StatusConflict, "consent.error.gpc")
	}
	f.Guardian = d.guardian
	method, evidence := likeness.Checkbox, map[string]string{}
	if needsWrittenRelease(sub.Jurisdiction, f.Purposes, func(p string) bool { return f.Selected[p] }) {
		if d.signature == "" || len(d.signature) > 200 {
			return again(http.StatusUnprocessableEntity, "consent.error.signature")
		}
		method, evidence["signature"] = likeness.Written, d.signature
	}
	if sub.Guardian {
		if d.guardian == "" || len(d.guardian) > 200 {
			return again(http.StatusUnprocessableEntity, "consent.error.guardian")
		}
		evidence["guardian"] = d.guardian
	}
	if err := consume(); err != nil {
		h.linkError(w, r, l, err)
		return nil, true
	}
	evs, err := h.svc.Grant(ctx, &likeness.GrantRequest{SubjectID: sub.ID, Purposes: d.purposes, NoticeVersion: d.version,
		NoticeSHA256: d.sha, Method: method, Language: f.Notice.Language, Evidence: evidence})
	if err != nil {
		h.grantError(w, r, l, err)
		return nil, true
	}
	return evs, false
}

// grantMessages are the title and body keys of a refused grant, by error
// code; the status comes from the one table (package response).
var grantMessages = map[string][2]string{
	likeness.ECONFLICT: {"consent.error.stale.title", "consent.error.stale"},
	likeness.EGONE:     {"error.erased.title", "error.erased.body"},
	likeness.EINVALID:  {"error.invalid.title", "error.invalid.body"},
}

func (h *Handler) grantError(w http.ResponseWriter, r *http.Request, l *locale, err error) {
	keys, ok := grantMessages[likeness.ErrorCode(err)]
	if !ok {
		h.internalError(w, r, l, err)
		return
	}
	h.message(w, r, response.Status(err), l, keys[0], keys[1])
}

const consentCollector = "web:consent-page"

func (h *Handler) consentSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.message(w, r, http.StatusBadRequest, h.localeFor(w, r, ""), "error.invalid.title", "error.invalid.body")
		return
	}
	link, sub, l, ok := h.openLink(w, r, likeness.LinkConsent)
	if !ok {
		return
	}
	h.consentHeaders(w, link)
	if !h.validCSRF(r.PostForm.Get("csrf"), "consent:"+link.ID) {
		h.message(w, r, http.StatusForbidden, l, "error.csrf.title", "error.csrf.body")
		return
	}
	d, err := readDecision(r.PostForm, link.Purposes)
	if err != nil || d.unknownAction {
		h.message(w, r, http.StatusBadRequest, l, "error.invalid.title", "error.invalid.body")
		return
	}
	ctx := likeness.WithActor(r.Context(), likeness.Actor{KeyID: consentCollector})
	consume := func() error { _, err := h.links.UseLink(ctx, link.ID, h.Now()); return err }
	done := &doneView{Continue: link.ReturnURL}
	if !d.accept {
		// Declining records nothing; the link is used up all the same.
		if err := consume(); err != nil {
			h.linkError(w, r, l, err)
			return
		}
		done.Declined = true
		h.render(w, r, http.StatusOK, "done", &view{L: l, Title: l.T("done.declined.title"), Done: done})
		return
	}
	v := &view{L: l, Title: l.T("consent.title"), CSRF: h.csrfToken("consent:" + link.ID), Form: h.newForm(l, sub, link.Purposes, "/consent/"+link.ID)}
	evs, answered := h.grantDecision(ctx, w, r, v, sub, d, consume)
	if answered {
		return
	}
	done.Granted = titles(v.Form.Purposes, evs)
	done.Pending = titles(v.Form.Purposes, pendingOf(evs))
	h.render(w, r, http.StatusOK, "done", &view{L: l, Title: l.T("done.accepted.title"), Done: done})
}

// doneView confirms a decision.
type doneView struct {
	Declined bool
	Granted  []string // titles of the purposes consented to
	Pending  []string // of those, the ones a reviewer checks before they count
	Continue string   // the organization's return URL
	Portal   bool
}

// pendingOf returns the events that wait for a reviewer's validation.
func pendingOf(evs []*likeness.ConsentEvent) []*likeness.ConsentEvent {
	var out []*likeness.ConsentEvent
	for _, ev := range evs {
		if ev.Validation == likeness.ValidationPending {
			out = append(out, ev)
		}
	}
	return out
}

func titles(ps []policy.NoticePurpose, evs []*likeness.ConsentEvent) []string {
	var out []string
	for _, ev := range evs {
		for _, p := range ps {
			if p.ID == ev.Purpose {
				out = append(out, p.Title)
			}
		}
	}
	return out
}

// maxRecording bounds a verbal-consent request: the vault's bound on the
// recording (a short sentence) and room for the form fields around it.
const maxRecording = vault.MaxRecording + 64<<10

// consentRecording takes a verbal consent: the form fields, then the
// recording as the last part of a multipart body, streamed to the vault
// (never to a temporary file). The recording is stored first and the link
// used after, so a recording the vault refuses (too long, not audio it
// reads) leaves the link for another try; of two sent at once on one link,
// the one that loses the link is discarded. It is kept as one function
// because the body is read once, in order, and each part's checks belong
// next to the read.
func (h *Handler) consentRecording(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, l *locale, key string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": l.T(key)})
	}
	if h.cfg.Recordings == nil {
		fail(http.StatusNotFound, h.localeFor(w, r, ""), "error.notfound.body")
		return
	}
	link, sub, l, ok := h.openLinkJSON(w, r, fail)
	if !ok {
		return
	}
	h.consentHeaders(w, link)
	r.Body = http.MaxBytesReader(w, r.Body, maxRecording)
	mr, err := r.MultipartReader()
	if err != nil {
		fail(http.StatusUnsupportedMediaType, l, "error.invalid.body")
		return
	}
	form := url.Values{}
	var part io.Reader
	var ctype string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(http.StatusBadRequest, l, "error.invalid.body")
			return
		}
		if p.FormName() == "recording" {
			ctype = p.Header.Get("Content-Type")
			part = p
			break
		}
		b, err := io.ReadAll(io.LimitReader(p, 4096))
		if err != nil {
			fail(http.StatusBadRequest, l, "error.invalid.body")
			return
		}
		form.Add(p.FormName(), string(b))
	}
	if !h.validCSRF(form.Get("csrf"), "consent:"+link.ID) {
		fail(http.StatusForbidden, l, "error.csrf.body")
		return
	}
	mt, _, _ := mime.ParseMediaType(ctype)
	if part == nil || !strings.HasPrefix(mt, "audio/") {
		fail(http.StatusBadRequest, l, "verbal.error.recording")
		return
	}
	form.Set("action", "accept")
	d, err := readDecision(form, link.Purposes)
	f := h.newForm(l, sub, link.Purposes, "")
	if err != nil || len(d.purposes) == 0 {
		fail(http.StatusUnprocessableEntity, l, "consent.error.none")
		return
	}
	if d.version != f.Notice.Version || d.sha != f.Notice.SHA256 {
		fail(http.StatusConflict, l, "consent.error.stale")
		return
	}
	if f.WrittenRelease {
		fail(http.StatusUnprocessableEntity, l, "consent.error.signature")
		return
	}
	ctx := likeness.WithActor(r.Context(), likeness.Actor{KeyID: consentCollector})
	if refused, err := h.gpcRefuses(ctx, r, sub, d.purposes); err != nil {
		h.Log.Error("apply a Global Privacy Control signal", "err", err)
		fail(http.StatusInternalServerError, l, "error.internal.body")
		return
	} else if refused != "" {
		fail(http.StatusConflict, l, "consent.error.gpc")
		return
	}
	asset, err := h.cfg.Recordings.StoreRecording(ctx, sub.ID, mt, part)
	if err != nil {
		switch likeness.ErrorCode(err) {
		case likeness.ETOOLARGE:
			fail(http.StatusRequestEntityTooLarge, l, "verbal.error.toolong")
		case likeness.EINVALID, likeness.EUNSUPPORTED:
			fail(http.StatusBadRequest, l, "verbal.error.recording")
		default:
			h.Log.Error("store verbal consent recording", "err", err)
			fail(http.StatusInternalServerError, l, "error.internal.body")
		}
		return
	}
	if _, err := h.links.UseLink(ctx, link.ID, h.Now()); err != nil {
		if derr := h.cfg.Recordings.DiscardRecording(context.WithoutCancel(ctx), asset); derr != nil {
			h.Log.Error("discard the recording sent on a used link", "err", derr)
		}
		fail(http.StatusGone, l, "error.used.body")
		return
	}
	evs, err := h.svc.Grant(ctx, &likeness.GrantRequest{SubjectID: sub.ID, Purposes: d.purposes, NoticeVersion: d.version,
		NoticeSHA256: d.sha, Method: likeness.Verbal, Language: f.Notice.Language, Evidence: map[string]string{"recording": asset}})
	if err != nil {
		h.Log.Error("grant verbal consent", "err", err)
		if derr := h.cfg.Recordings.DiscardRecording(context.WithoutCancel(ctx), asset); derr != nil {
			h.Log.Error("discard the recording of a failed verbal consent", "err", derr)
		}
		fail(http.StatusInternalServerError, l, "error.internal.body")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"title":    l.T("done.accepted.title"),
		"message":  l.T("done.accepted.body"),
		"granted":  titles(f.Purposes, evs),
		"continue": link.ReturnURL,
		"label":    l.T("done.continue"),
	})
}

// openLinkJSON is openLink for the recording endpoint, answering in JSON.
func (h *Handler) openLinkJSON(w http.ResponseWriter, r *http.Request, fail func(int, *locale, string)) (*likeness.Link, *likeness.Subject, *locale, bool) {
	l := h.localeFor(w, r, "")
	id := r.PathValue("link")
	if !likeness.ValidLinkID(id) {
		fail(http.StatusNotFound, l, "error.notfound.body")
		return nil, nil, nil, false
	}
	link, err := h.links.Link(r.Context(), id)
	if err != nil || link.Kind != likeness.LinkConsent {
		fail(http.StatusNotFound, l, "error.notfound.body")
		return nil, nil, nil, false
	}
	sub, err := h.svc.Subject(r.Context(), link.SubjectID)
	if err != nil {
		fail(http.StatusGone, l, "error.erased.body")
		return nil, nil, nil, false
	}
	l = h.localeFor(w, r, sub.Locale)
	if link.Used() {
		fail(http.StatusGone, l, "error.used.body")
		return nil, nil, nil, false
	}
	if link.Expired(h.Now()) {
		fail(http.StatusGone, l, "error.expired.body")
		return nil, nil, nil, false
	}
	return link, sub, l, true
}

// gpcRefuses honours a Global Privacy Control signal sent with a page's
// request, as the API does: where the person's law gives an opt-out of
// sale or sharing, the signal is recorded as one (a withdrawal of every
// sale_or_share purpose), and a grant of such a purpose in the same request
// is refused: it returns the first one asked for.
func (h *Handler) gpcRefuses(ctx context.Context, r *http.Request, sub *likeness.Subject, purposes []string) (string, error) {
	if r.Header.Get("Sec-GPC") != "1" {
		return "", nil
	}
	return h.svc.HonourGPC(ctx, sub.ID, purposes)
}
