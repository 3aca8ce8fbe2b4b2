package web

import (
	"archive/zip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"likeness/internal/dpv"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"likeness"
	"likeness/internal/authz"
	"likeness/internal/http/page"
	"likeness/policy"
)

const portalCollector = "web:portal"

// portalLogin uses a single-use portal link and starts a session. It
// answers with a page that moves on to /me rather than a redirect: a
// SameSite=Strict cookie set on a navigation that began on another site
// (a mail client) would not be sent along a redirect, but is on a
// navigation this page starts itself.
func (h *Handler) portalLogin(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("link")
	l := h.localeFor(w, r, "")
	if !likeness.ValidLinkID(id) {
		h.linkError(w, r, l, likeness.Errorf(likeness.ENOTFOUND, "link not found"))
		return
	}
	link, err := h.links.Link(r.Context(), id)
	if err == nil && link.Kind != likeness.LinkPortal {
		err = likeness.Errorf(likeness.ENOTFOUND, "link not found")
	}
	if err != nil {
		h.linkError(w, r, l, err)
		return
	}
	sub, err := h.svc.Subject(r.Context(), link.SubjectID)
	if err != nil {
		h.linkError(w, r, l, err)
		return
	}
	l = h.localeFor(w, r, sub.Locale)
	if link, err = h.links.UseLink(r.Context(), id, h.Now()); err != nil {
		h.linkError(w, r, l, err)
		return
	}
	link.ID = id
	if err := h.startSession(w, r, link); err != nil {
		h.internalError(w, r, l, err)
		return
	}
	h.render(w, r, http.StatusOK, "login", &view{L: l, Title: l.T("login.title")})
}

type portalFunc func(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale)

// portal requires a live session for a page, records the visit, and runs
// fn with the person as the context's actor (see package authz).
func (h *Handler) portal(fn portalFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(r)
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			h.endSession(w, r, nil)
			h.messageReach(w, r, http.StatusUnauthorized, h.localeFor(w, r, ""), "error.session.title", "error.session.body")
			return
		}
		if err != nil {
			h.internalError(w, r, h.localeFor(w, r, ""), err)
			return
		}
		sub, err := h.svc.Subject(r.Context(), s.SubjectID())
		if err == nil && sub.Erased() {
			err = likeness.Errorf(likeness.EGONE, "subject was erased")
		}
		if c := likeness.ErrorCode(err); c == likeness.EGONE || c == likeness.ENOTFOUND {
			h.endSession(w, r, s)
			h.message(w, r, http.StatusGone, h.localeFor(w, r, ""), "error.erased.title", "error.erased.body")
			return
		}
		if err == nil {
			err = h.logVisit(r, s)
		}
		if err != nil {
			h.internalError(w, r, h.localeFor(w, r, ""), err)
			return
		}
		r = r.WithContext(likeness.WithActor(r.Context(), s.actor()))
		sw := &statusWriter{ResponseWriter: w}
		fn(sw, r, s, sub, h.localeFor(w, r, sub.Locale))
		if r.Method == http.MethodPost && sw.status >= 400 {
			// The visit was recorded as admitted; what it asked was refused.
			if err := h.logRefusal(r, s, sw.status); err != nil {
				h.Log.Error("record a refused portal request", "err", err)
			}
		}
	}
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// portalPost is portal for form posts: it also checks the CSRF token.
func (h *Handler) portalPost(fn portalFunc) http.HandlerFunc {
	return h.portal(func(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			h.message(w, r, http.StatusBadRequest, l, "error.invalid.title", "error.invalid.body")
			return
		}
		l = h.localeFor(w, r, sub.Locale)
		if !h.validCSRF(r.PostForm.Get("csrf"), "portal:"+s.Nonce) {
			h.message(w, r, http.StatusForbidden, l, "error.csrf.title", "error.csrf.body")
			return
		}
		fn(w, r, s, sub, l)
	})
}

// homeView is the portal's main page.
type homeView struct {
	Flash    string
	States   []stateRow
	History  []historyRow
	Access   []AccessEntry
	AccessOK bool // an access log is configured
	Training []TrainingUse
	// TrainingOK: training lineage is configured
	TrainingOK bool
	// Withdrawn is what withdrawals erased, each with its certificate.
	Withdrawn []withdrawnRow
	CanErase  bool
	Titles    map[string]string
	// JWKS is the ledger's public key for the in-browser receipt check.
	JWKS string
}

// withdrawnRow is one withdrawal's erasure as the portal shows it.
type withdrawnRow struct {
	Time, Purpose string
	Items         int
	Download      template.URL // data: URL of the signed certificate
	FileName      string
}

type stateRow struct {
	Purpose policy.NoticePurpose
	State   string // likeness.State
	Label   string
	Since   string
	Expires string
	Active  bool   // given (or waiting for validation): it can be withdrawn
	Reason  string // why a reviewer did not accept it
}

type historyRow struct {
	ID, Time, Purpose, Type, Method string
	NoticeVersion                   int64
	Evidence                        string
}

func (h *Handler) portalHome(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
	states, hist, err := h.svc.Consents(r.Context(), sub.ID)
	if err != nil {
		h.internalError(w, r, l, err)
		return
	}
	n := h.noticeFor(l)
	hv := &homeView{AccessOK: h.cfg.AccessLog != nil, TrainingOK: h.cfg.Lineage != nil, CanErase: h.cfg.Eraser != nil, Titles: map[string]string{},
		JWKS: string(h.svc.JWKS())}
	for _, np := range n.Purposes {
		hv.Titles[np.ID] = np.Title
	}
	if m := r.URL.Query().Get("msg"); m != "" {
		switch m {
		case "withdrawn", "given":
			hv.Flash = l.T("flash." + m)
		}
	}
	date := page.Date
	for _, ps := range states {
		i := slices.IndexFunc(n.Purposes, func(p policy.NoticePurpose) bool { return p.ID == ps.Purpose })
		if i < 0 {
			continue
		}
		row := stateRow{Purpose: n.Purposes[i], State: string(ps.State), Label: l.T("state." + string(ps.State)),
			Since: date(ps.Since), Expires: date(ps.Expires),
			Active: ps.State == likeness.StateActive || ps.State == likeness.StatePendingValidation}
		if ps.State == likeness.StateValidationRejected && ps.Event != nil {
			row.Reason = ps.Event.Evidence["reason"]
		}
		hv.States = append(hv.States, row)
	}
	for i := len(hist) - 1; i >= 0; i-- {
		ev := hist[i]
		row := historyRow{ID: ev.ID, Time: date(ev.Time), Purpose: hv.Titles[ev.Purpose], Type: l.T("event." + string(ev.Type)),
			NoticeVersion: ev.NoticeVersion}
		if ev.Purpose == "" {
			row.Purpose = "—"
		} else if row.Purpose == "" {
			row.Purpose = ev.Purpose
		}
		if ev.Method != "" {
			row.Method = l.T("method." + string(ev.Method))
		}
		if ev.Imported {
			row.Method = l.T("history.imported", row.Method)
		}
		if sig := ev.Evidence["signature"]; sig != "" {
			row.Evidence = l.T("history.signed", sig)
		} else if ev.Evidence["recording"] != "" {
			row.Evidence = l.T("history.recorded")
		} else if r := ev.Evidence["reason"]; r != "" && (ev.Type == likeness.Validated || ev.Type == likeness.ValidationRejected) {
			row.Evidence = l.T("history.reason", r)
		}
		hv.History = append(hv.History, row)
	}
	if h.cfg.AccessLog != nil {
		if hv.Access, err = h.cfg.AccessLog.SubjectAccessLog(r.Context(), sub.ID); err != nil {
			h.internalError(w, r, l, err)
			return
		}
	}
	if h.cfg.Lineage != nil {
		if hv.Training, err = h.cfg.Lineage.SubjectTraining(r.Context(), sub.ID); err != nil {
			h.internalError(w, r, l, err)
			return
		}
	}
	if h.cfg.Withdrawn != nil {
		recs, err := h.cfg.Withdrawn.SubjectWithdrawalErasures(r.Context(), sub.ID)
		if err != nil {
			h.internalError(w, r, l, err)
			return
		}
		for _, e := range recs {
			if len(e.Certificate) == 0 {
				continue // being completed
			}
			row := withdrawnRow{Time: date(e.CompletedAt), Purpose: hv.Titles[e.Purpose], Items: certifiedItems(e.Certificate),
				Download: dataURL("application/jose", e.Certificate),
				FileName: "withdrawal-erasure-" + e.EventID + ".jws"}
			if row.Purpose == "" {
				row.Purpose = e.Purpose
			}
			hv.Withdrawn = append(hv.Withdrawn, row)
		}
	}
	h.render(w, r, http.StatusOK, "portal", &view{L: l, Title: l.T("portal.title"), CSRF: h.csrfToken("portal:" + s.Nonce), Portal: true, Home: hv})
}

func (h *Handler) portalWithdraw(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
	purpose := r.PostForm.Get("purpose")
	if _, ok := h.svc.Policy().Purpose(purpose); !ok {
		h.message(w, r, http.StatusBadRequest, l, "error.invalid.title", "error.invalid.body")
		return
	}
	ctx := likeness.WithActor(r.Context(), likeness.Actor{KeyID: portalCollector})
	if _, err := h.svc.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub.ID, Purpose: purpose, Method: likeness.Checkbox}); err != nil {
		h.grantError(w, r, l, err)
		return
	}
	http.Redirect(w, r, "/me?msg=withdrawn&lang="+url.QueryEscape(l.Code), http.StatusSeeOther)
}

func (h *Handler) portalGiveForm(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
	purpose := r.PathValue("purpose")
	if _, ok := h.svc.Policy().Purpose(purpose); !ok {
		h.message(w, r, http.StatusNotFound, l, "error.notfound.title", "error.notfound.body")
		return
	}
	f := h.newForm(l, sub, []string{purpose}, "/me/give/"+purpose)
	f.Portal = true
	h.render(w, r, http.StatusOK, "consent", &view{L: l, Title: l.T("consent.title"), CSRF: h.csrfToken("portal:" + s.Nonce), Portal: true, Form: f})
}

func (h *Handler) portalGive(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
	purpose := r.PathValue("purpose")
	if _, ok := h.svc.Policy().Purpose(purpose); !ok {
		h.message(w, r, http.StatusNotFound, l, "error.notfound.title", "error.notfound.body")
		return
	}
	d, err := readDecision(r.PostForm, []string{purpose})
	if err != nil || d.unknownAction {
		h.message(w, r, http.StatusBadRequest, l, "error.invalid.title", "error.invalid.body")
		return
	}
	if !d.accept {
		http.Redirect(w, r, "/me?lang="+url.QueryEscape(l.Code), http.StatusSeeOther)
		return
	}
	f := h.newForm(l, sub, []string{purpose}, "/me/give/"+purpose)
	f.Portal = true
	v := &view{L: l, Title: l.T("consent.title"), CSRF: h.csrfToken("portal:" + s.Nonce), Portal: true, Form: f}
	ctx := likeness.WithActor(r.Context(), likeness.Actor{KeyID: portalCollector})
	if _, answered := h.grantDecision(ctx, w, r, v, sub, d, func() error { return nil }); answered {
		return
	}
	http.Redirect(w, r, "/me?msg=given&lang="+url.QueryEscape(l.Code), http.StatusSeeOther)
}

// receipts signs a receipt for each event.
func (h *Handler) receipts(r *http.Request, sub *likeness.Subject, evs []*likeness.ConsentEvent) ([]string, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	return h.svc.Receipts(r.Context(), h.svc.Policy(), sub, evs)
}

func (h *Handler) portalReceipt(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
	_, hist, err := h.svc.Consents(r.Context(), sub.ID)
	if err != nil {
		h.internalError(w, r, l, err)
		return
	}
	id := r.PathValue("event_id")
	i := slices.IndexFunc(hist, func(ev *likeness.ConsentEvent) bool { return ev.ID == id })
	if i < 0 {
		h.message(w, r, http.StatusNotFound, l, "error.notfound.title", "error.notfound.body")
		return
	}
	rs, err := h.receipts(r, sub, hist[i:i+1])
	if err != nil {
		h.internalError(w, r, l, err)
		return
	}
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="receipt-%s.jws"`, id))
	io.WriteString(w, rs[0])
}

// portalExport streams everything about the subject as a zip: subject.json,
// consents.json (states and full history with evidence), the same consents
// as ISO/IEC TS 27560 records in JSON-LD (consent-records.jsonld, package
// dpv), notice.json, one signed receipt per event and, through Media, the
// decrypted media.
func (h *Handler) portalExport(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
	states, hist, err := h.svc.Consents(r.Context(), sub.ID)
	if err != nil {
		h.internalError(w, r, l, err)
		return
	}
	rs, err := h.receipts(r, sub, hist)
	if err != nil {
		h.internalError(w, r, l, err)
		return
	}
	if hist == nil {
		hist = []*likeness.ConsentEvent{}
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="my-data.zip"`)
	zw := zip.NewWriter(w)
	// Every entry dated now: zip.Writer.Create leaves the date at zero,
	// which unzip shows as 1980-00-00.
	now := h.Now()
	create := func(name string) (io.Writer, error) {
		return zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
	}
	addJSON := func(name string, v any) error {
		f, err := create(name)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	err = addJSON("subject.json", sub)
	if err == nil {
		err = addJSON("consents.json", map[string]any{"subject_id": sub.ID, "purposes": states, "history": hist})
	}
	if err == nil {
		var doc []byte
		if doc, err = dpv.Records(dpv.Input{Policy: h.svc.Policy(), Origin: h.svc.Origin(), Subject: sub,
			States: states, History: hist, Now: h.Now()}); err == nil {
			var f io.Writer
			if f, err = create("consent-records.jsonld"); err == nil {
				_, err = f.Write(doc)
			}
		}
	}
	if err == nil {
		err = addJSON("notice.json", h.noticeFor(l))
	}
	for i := 0; err == nil && i < len(rs); i++ {
		var f io.Writer
		if f, err = create("receipts/" + hist[i].ID + ".jws"); err == nil {
			_, err = io.WriteString(f, rs[i])
		}
	}
	if err == nil && h.cfg.Media != nil {
		err = h.cfg.Media.ExportMedia(r.Context(), sub.ID, func(name string, rd io.Reader) error {
			name = strings.TrimLeft(strings.ReplaceAll(name, "\\", "/"), "/")
			if name == "" || strings.Contains(name, "..") {
				return fmt.Errorf("web: bad media name %q", name)
			}
			f, err := create("media/" + name)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, rd)
			return err
		})
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		// Headers are gone; the truncated zip will not open, which is the
		// honest outcome. The detail stays in the log.
		h.Log.Error("export failed", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// certifiedItems counts the assets a withdrawal's certificate lists, read
// from its claims for display (the signature is for the person to check
// with the ledger's key; see likeness certificate verify).
func certifiedItems(jws []byte) int {
	parts := strings.Split(string(jws), ".")
	if len(parts) != 3 {
		return 0
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return 0
	}
	var claims struct {
		Assets []string `json:"assets"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return 0
	}
	return len(claims.Assets)
}

// dataURL is b as a data: URL of type ctype, for a download the page
// carries itself (a certificate).
func dataURL(ctype string, b []byte) template.URL {
	return template.URL("data:" + ctype + ";base64," + base64.StdEncoding.EncodeToString(b))
}

type eraseView struct {
	Certificate string
	Download    template.URL // data: URL of the certificate
	FileName    string
}

func (h *Handler) portalEraseConfirm(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
	if h.cfg.Eraser == nil {
		h.message(w, r, http.StatusNotImplemented, l, "erase.unavailable.title", "erase.unavailable.body", h.svc.Policy().Organization.Contact)
		return
	}
	h.render(w, r, http.StatusOK, "erase", &view{L: l, Title: l.T("erase.title"), CSRF: h.csrfToken("portal:" + s.Nonce), Portal: true})
}

func (h *Handler) portalErase(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
	if h.cfg.Eraser == nil {
		h.message(w, r, http.StatusNotImplemented, l, "erase.unavailable.title", "erase.unavailable.body", h.svc.Policy().Organization.Contact)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		h.message(w, r, http.StatusBadRequest, l, "error.invalid.title", "error.invalid.body")
		return
	}
	if err := authz.Check(r.Context(), authz.Erase, sub.ID); err != nil {
		h.grantError(w, r, l, err)
		return
	}
	ctx := likeness.WithActor(r.Context(), likeness.Actor{KeyID: portalCollector})
	cert, err := h.cfg.Eraser.EraseSubject(ctx, sub.ID)
	if err != nil {
		h.grantError(w, r, l, err)
		return
	}
	// The store ended every session of the subject with the erasure; this
	// also clears the cookie.
	if err := h.endSession(w, r, s); err != nil {
		h.Log.Warn("could not end a portal session after erasure", "session", s.ps.Ref(), "err", err)
	}
	ev := &eraseView{Certificate: string(cert), FileName: "erasure-certificate.txt"}
	ctype := "text/plain"
	switch {
	case json.Valid(cert):
		ev.FileName, ctype = "erasure-certificate.json", "application/json"
	case strings.Count(string(cert), ".") == 2 && !strings.ContainsAny(string(cert), " \n"):
		ev.FileName, ctype = "erasure-certificate.jws", "application/jose"
	}
	ev.Download = dataURL(ctype, cert)
	h.render(w, r, http.StatusOK, "erased", &view{L: l, Title: l.T("erased.title"), Erase: ev})
}

func (h *Handler) portalLogout(w http.ResponseWriter, r *http.Request, s *session, sub *likeness.Subject, l *locale) {
	if err := h.endSession(w, r, s); err != nil {
		h.internalError(w, r, l, err)
		return
	}
	h.message(w, r, http.StatusOK, l, "logout.title", "logout.body")
}
