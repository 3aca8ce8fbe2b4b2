package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
	"likeness/internal/web"
)

func TestConsentPageShowsTheNoticeWithNothingTicked(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "https://shop.example/after?x=1")
	p := e.browser().Get(path)
	if p.Status != 200 {
		t.Fatalf("GET consent page: %d %s", p.Status, p.Body)
	}
	for _, want := range []string{
		"Train our portrait and voice AI models", "Personalise our marketing videos", "Transcribe your calls", // what for
		"Acme Portraits GmbH", "privacy@acme.example", "dpo@acme.example", // who is responsible
		"Example GPU Cloud Inc., United States (US)", "standard contractual clauses", // who, where, safeguard
		"At most 3 years", "Your rights", "How to withdraw", "Accept selected", "Decline all",
		"If you withdraw", "We stop using your data for this purpose at once and erase the recordings and photos collected for it", // Art. 17(1)(b)
		`name="notice_version"`, `name="notice_sha256"`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if n := strings.Count(p.Body, `type="checkbox" name="purpose"`); n != 3 {
		t.Errorf("%d purpose checkboxes, want 3", n)
	}
	if strings.Contains(p.Body, "checked") {
		t.Error("a purpose is pre-ticked")
	}
	accept := regexp.MustCompile(`<button type="submit" name="action" value="accept" class="([^"]*)">`).FindStringSubmatch(p.Body)
	decline := regexp.MustCompile(`<button type="submit" name="action" value="decline" class="([^"]*)">`).FindStringSubmatch(p.Body)
	if accept == nil || decline == nil || accept[1] != decline[1] {
		t.Errorf("accept and decline buttons differ in style: %v vs %v", accept, decline)
	}
	csp := p.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors " + embedOrigin, "form-action 'self' https://shop.example"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if p.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy = %q", p.Header.Get("Referrer-Policy"))
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(p.Body) || strings.Contains(p.Body, " style=") || strings.Contains(p.Body, "<style") {
		t.Error("page has inline script or style")
	}
	if strings.Contains(p.Body, "https://") && regexp.MustCompile(`(src|href)="https?://`).MatchString(p.Body) {
		t.Error("page loads a third-party asset")
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Error("viewing the page recorded something or used the link")
	}
}

func TestDeclineAllRecordsNothing(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "https://shop.example/after")
	b := e.browser()
	form := hidden(t, b.Get(path), "")
	form.Set("action", "decline")
	form.Add("purpose", "ai-training") // even with a box ticked, declining records nothing
	p := b.Post(path, form)
	if p.Status != 200 || !strings.Contains(p.Body, "Nothing was recorded") || !strings.Contains(p.Body, `href="https://shop.example/after"`) {
		t.Fatalf("decline: %d %s", p.Status, p.Body)
	}
	if n := e.ledgerSize(); n != 0 {
		t.Fatalf("declining wrote %d ledger events", n)
	}
	if !e.link(path).Used() {
		t.Fatal("declining did not use up the link")
	}
	if p := b.Post(path, form); p.Status != http.StatusGone {
		t.Fatalf("second post: %d, want 410", p.Status)
	}
}

func TestAcceptRecordsExactlyTheSelectedPurposes(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := hidden(t, b.Get(path), "")
	form.Set("action", "accept")
	form["purpose"] = []string{"ai-training", "voice-transcription"}
	p := b.Post(path, form)
	if p.Status != 200 || !strings.Contains(p.Body, "your consent is recorded") {
		t.Fatalf("accept: %d %s", p.Status, p.Body)
	}
	var got []string
	for _, ev := range e.events(sub) {
		if ev.Type != likeness.Grant || ev.Method != likeness.Checkbox || ev.Language != "en" || ev.Collector != "web:consent-page" {
			t.Errorf("event %+v", ev)
		}
		got = append(got, ev.Purpose)
	}
	if !slices.Equal(got, []string{"ai-training", "voice-transcription"}) {
		t.Fatalf("recorded %v, want exactly the two selected", got)
	}
	if !e.allows(sub, "ai-training", "image") || e.allows(sub, "marketing-personalization", "image") {
		t.Fatal("decisions do not follow the choice")
	}
}

// A Global Privacy Control signal from the person's browser opts a
// Californian out of sale and sharing on the pages as on the API: a grant of
// the marketing purpose (sale_or_share) sent with it is refused, saying why,
// and the others go through once it is unticked.
func TestAGPCSignalOnTheConsentPageRefusesSale(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("ca-1", "US-CA", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := hidden(t, b.Get(path), "")
	form.Set("action", "accept")
	form["purpose"] = []string{"ai-training", "marketing-personalization"}
	post := func(form url.Values) likenesstest.Page {
		req, _ := http.NewRequest("POST", b.Base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-GPC", "1")
		return b.Do(req)
	}
	if p := post(form); p.Status != http.StatusConflict || !strings.Contains(p.Body, "Global Privacy Control") {
		t.Fatalf("a sale purpose with GPC: %d\n%s", p.Status, p.Body)
	}
	for _, ev := range e.events(sub) {
		if ev.Type == likeness.Grant {
			t.Fatalf("a refused page recorded a grant: %+v", ev)
		}
	}
	form["purpose"] = []string{"ai-training"}
	if p := post(form); p.Status != 200 {
		t.Fatalf("the other purpose with GPC: %d\n%s", p.Status, p.Body)
	}
	if !e.allows(sub, "ai-training", "image") || e.allows(sub, "marketing-personalization", "image") {
		t.Fatal("decisions do not follow the choice and the signal")
	}
}

func TestAcceptWithNothingTickedAsksAgain(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := hidden(t, b.Get(path), "")
	form.Set("action", "accept")
	if p := b.Post(path, form); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "not ticked any purpose") {
		t.Fatalf("accept with nothing ticked: %d", p.Status)
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("an empty accept recorded something or used the link")
	}
}

func TestFormsRejectMissingOrForgedCSRF(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	good := hidden(t, b.Get(path), "")
	for name, token := range map[string]string{"missing": "", "forged": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "other link": ""} {
		form := url.Values{}
		for k, v := range good {
			form[k] = v
		}
		form.Set("csrf", token)
		if name == "other link" {
			other := e.consentLink(sub, allPurposes, "")
			form.Set("csrf", hidden(t, b.Get(other), "").Get("csrf"))
		}
		form.Set("action", "accept")
		form.Set("purpose", "ai-training")
		p := b.Post(path, form)
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "security check") {
			t.Errorf("%s token: %d, want 403 with a clear page", name, p.Status)
		}
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("a forged form recorded something or used the link")
	}

	// The portal's forms too.
	if _, err := e.svc.Grant(context.Background(), &likeness.GrantRequest{SubjectID: sub, Purposes: []string{"ai-training"},
		NoticeVersion: e.d.Notices.NoticeFor("en").Version, NoticeSHA256: e.d.Notices.NoticeFor("en").SHA256, Method: likeness.Checkbox, Language: "en"}); err != nil {
		t.Fatal(err)
	}
	before := e.ledgerSize()
	if p := b.Get(e.portalLink(sub)); p.Status != 200 {
		t.Fatalf("login: %d", p.Status)
	}
	for _, path := range []string{"/me/withdraw", "/me/erase", "/me/give/marketing-personalization", "/me/logout"} {
		for _, token := range []string{"", "forged"} {
			p := b.Post(path, url.Values{"csrf": {token}, "purpose": {"ai-training"}, "confirm": {"yes"}, "action": {"accept"}})
			if p.Status != http.StatusForbidden {
				t.Errorf("POST %s with token %q: %d, want 403", path, token, p.Status)
			}
		}
	}
	if e.ledgerSize() != before || !e.allows(sub, "ai-training", "image") {
		t.Fatal("a forged portal form changed something")
	}
}

func TestIllinoisBiometricConsentNeedsAWrittenRelease(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "US-IL", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	p := b.Get(path)
	if !strings.Contains(p.Body, `<label for="signature">`) || !strings.Contains(p.Body, "Written release") {
		t.Fatal("no written-release step for an Illinois subject")
	}
	if strings.Contains(p.Body, `id="verbal"`) {
		t.Error("verbal consent offered where a written release is required")
	}
	form := hidden(t, p, "")
	form.Set("action", "accept")
	form["purpose"] = []string{"ai-training"}
	if p := b.Post(path, form); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "written release") || !strings.Contains(p.Body, `value="ai-training" id="p-ai-training" checked`) {
		t.Fatalf("without a name: %d", p.Status)
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("a release without a name recorded something")
	}
	form.Set("signature", "  Ada Lovelace ")
	if p := b.Post(path, form); p.Status != 200 {
		t.Fatalf("with a name: %d %s", p.Status, p.Body)
	}
	evs := e.events(sub)
	if len(evs) != 1 || evs[0].Method != likeness.Written || evs[0].Evidence["signature"] != "Ada Lovelace" {
		t.Fatalf("events %+v, want one written grant signed by Ada Lovelace", evs)
	}
	if !e.allows(sub, "ai-training", "image") {
		t.Fatal("written release does not allow")
	}
}

func TestStaleNoticeAsksToReviewAgain(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := hidden(t, b.Get(path), "")
	form.Set("action", "accept")
	form.Set("purpose", "ai-training")
	form.Set("notice_sha256", strings.Repeat("0", 64))
	p := b.Post(path, form)
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "has changed since you opened it") || strings.Contains(p.Body, "checked") {
		t.Fatalf("stale notice: %d", p.Status)
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("a stale form recorded something or used the link")
	}
	// The page it shows is current: submitting it works.
	fresh := hidden(t, page{Body: p.Body}, "")
	fresh.Set("action", "accept")
	fresh.Set("purpose", "ai-training")
	if p := b.Post(path, fresh); p.Status != 200 {
		t.Fatalf("after review: %d", p.Status)
	}
}

func TestVerbalConsentStoresTheRecording(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "https://shop.example/x")
	b := e.browser()
	p := b.Get(path)
	if !strings.Contains(p.Body, `data-record-url="`+path+`/recording"`) {
		t.Fatal("no verbal-consent option")
	}
	form := hidden(t, p, "")
	var postAs func(csrf string, audio bool, ctype string, recording []byte) (int, map[string]any)
	// The start of a WebM (EBML) file, as MediaRecorder makes it.
	recording := append([]byte("\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm"), bytes.Repeat([]byte("opus frames "), 60)...)
	post := func(csrf string, audio bool) (int, map[string]any) {
		return postAs(csrf, audio, "audio/webm", recording)
	}
	postAs = func(csrf string, audio bool, ctype string, recording []byte) (int, map[string]any) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, k := range []string{"notice_version", "notice_sha256", "lang"} {
			mw.WriteField(k, form.Get(k))
		}
		mw.WriteField("csrf", csrf)
		mw.WriteField("purpose", "voice-transcription")
		ct := ctype
		if !audio {
			ct = "text/plain"
		}
		w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="recording"; filename="c.webm"`}, "Content-Type": {ct}})
		w.Write(recording)
		mw.Close()
		req, _ := http.NewRequest("POST", e.srv.URL+path+"/recording", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		res, err := b.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	if status, _ := post("forged", true); status != http.StatusForbidden {
		t.Fatalf("forged CSRF: %d", status)
	}
	if status, _ := post(form.Get("csrf"), false); status != http.StatusBadRequest {
		t.Fatalf("not audio: %d", status)
	}
	// Recordings the vault refuses: not the audio they claim to be, longer
	// than a sentence. Each says why, and leaves the link for a retry.
	if status, out := postAs(form.Get("csrf"), true, "audio/wav", bytes.Repeat([]byte("not a WAV "), 100)); status != http.StatusBadRequest {
		t.Fatalf("unreadable recording: %d %v, want 400", status, out)
	}
	long := append(append([]byte{}, recording[:14]...), make([]byte, vault.MaxRecording)...)
	if status, out := postAs(form.Get("csrf"), true, "audio/webm", long); status != http.StatusRequestEntityTooLarge ||
		!strings.Contains(fmt.Sprint(out["error"]), "too long") {
		t.Fatalf("recording over %d bytes: %d %v, want 413 saying it is too long", vault.MaxRecording, status, out)
	}
	if as, _ := e.store.SubjectAssets(context.Background(), sub); e.ledgerSize() != 0 || len(as) != 0 {
		t.Fatal("a refused recording left something behind")
	}
	status, out := post(form.Get("csrf"), true)
	if status != 200 || out["continue"] != "https://shop.example/x" {
		t.Fatalf("verbal consent: %d %v", status, out)
	}
	evs := e.events(sub)
	if len(evs) != 1 || evs[0].Method != likeness.Verbal || evs[0].Evidence["recording"] == "" {
		t.Fatalf("events %+v", evs)
	}
	rec, err := e.store.Asset(context.Background(), evs[0].Evidence["recording"])
	sum := sha256.Sum256(recording)
	if err != nil || rec.Purpose != vault.EvidencePurpose || rec.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("recording not stored in the vault as evidence: %+v %v", rec, err)
	}
	if status, _ := post(form.Get("csrf"), true); status != http.StatusGone {
		t.Fatalf("second recording on a used link: %d", status)
	}
	if as, _ := e.store.SubjectAssets(context.Background(), sub); len(as) != 1 {
		t.Fatalf("%d recordings kept, want the one of the consent: a used link stores nothing", len(as))
	}
}

func TestNoVerbalOptionWithoutARecordingStore(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.Recordings = nil })
	sub := e.subject("u1", "EU-DE", "en")
	if p := e.browser().Get(e.consentLink(sub, allPurposes, "")); strings.Contains(p.Body, "data-record-url") {
		t.Fatal("verbal consent offered without a recording store")
	}
}

func TestAChildsConsentIsGivenByTheirGuardian(t *testing.T) {
	e := newEnv(t)
	kid, _, err := e.d.Subjects.CreateMinor(context.Background(), "kid-1", "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	path := e.consentLink(kid.ID, allPurposes, "")
	b := e.browser()
	p := b.Get(path)
	if !strings.Contains(p.Body, `<label for="guardian">`) {
		t.Fatal("no guardian step for a minor")
	}
	form := hidden(t, p, "")
	form.Set("action", "accept")
	form["purpose"] = []string{"voice-transcription"}
	if p := b.Post(path, form); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "guardian") {
		t.Fatalf("without the guardian's name: %d", p.Status)
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("consent without a guardian recorded something")
	}
	form.Set("guardian", "Pat Parent")
	if p := b.Post(path, form); p.Status != 200 {
		t.Fatalf("with the guardian's name: %d %s", p.Status, p.Body)
	}
	if evs := e.events(kid.ID); len(evs) != 1 || evs[0].Evidence["guardian"] != "Pat Parent" {
		t.Fatalf("events %+v, want one grant naming the guardian", evs)
	}
}
