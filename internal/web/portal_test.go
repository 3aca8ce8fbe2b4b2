package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/web"
)

func TestReusedPortalLinkIsRefused(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.portalLink(sub)
	b := e.browser()
	p := b.get(path)
	if p.status != 200 || !strings.Contains(p.body, `url=/me`) {
		t.Fatalf("login: %d %s", p.status, p.body)
	}
	c := sessionCookie(t, p)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/me" || c.MaxAge <= 0 || c.MaxAge > 30*60 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/me, at most 30 minutes", c)
	}
	if strings.Contains(c.Value, sub) {
		t.Error("the cookie shows the subject id in clear")
	}
	if p := b.get("/me"); p.status != 200 {
		t.Fatalf("/me after login: %d", p.status)
	}
	again := e.browser().get(path)
	if again.status != http.StatusGone || !strings.Contains(again.body, "already used") {
		t.Fatalf("reused portal link: %d", again.status)
	}
	if p := e.browser().get("/me"); p.status != http.StatusUnauthorized {
		t.Fatalf("/me without a session: %d", p.status)
	}
	// A consent link is not a portal link.
	if p := e.browser().get("/me/login/" + linkID(e.consentLink(sub, allPurposes, ""))); p.status != http.StatusNotFound {
		t.Fatalf("consent link used as portal link: %d", p.status)
	}
}

func sessionCookie(t *testing.T, p page) *http.Cookie {
	t.Helper()
	for _, line := range p.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == "likeness_portal" {
			return c
		}
	}
	t.Fatal("no session cookie set")
	return nil
}

func (e *env) signIn(sub string) *browser {
	e.t.Helper()
	b := e.browser()
	if p := b.get(e.portalLink(sub)); p.status != 200 {
		e.t.Fatalf("login: %d", p.status)
	}
	return b
}

func (e *env) grant(sub string, purposes ...string) {
	e.t.Helper()
	n := e.d.Notices.NoticeFor("en")
	if _, err := e.svc.Grant(context.Background(), &likeness.GrantRequest{SubjectID: sub, Purposes: purposes,
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"}); err != nil {
		e.t.Fatal(err)
	}
}

func TestWithdrawFromThePortalDeniesTheNextDecision(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	e.grant(sub, "ai-training", "voice-transcription")
	b := e.signIn(sub)
	home := b.get("/me")
	if n := strings.Count(home.body, `action="/me/withdraw"`); n != 2 {
		t.Fatalf("%d withdraw forms, want one per active purpose (2)", n)
	}
	if !strings.Contains(home.body, `href="/me/give/marketing-personalization`) {
		t.Fatal("no way to give consent to the other purpose")
	}
	if !e.allows(sub, "ai-training", "image") {
		t.Fatal("precondition: allowed")
	}
	form := home.hidden(t, "/me/withdraw")
	form.Set("purpose", "ai-training")
	p := b.post("/me/withdraw", form)
	if p.status != http.StatusSeeOther {
		t.Fatalf("withdraw: %d %s", p.status, p.body)
	}
	if e.allows(sub, "ai-training", "image") {
		t.Fatal("the next decision after a withdrawal allowed")
	}
	if !e.allows(sub, "voice-transcription", "voice") {
		t.Fatal("withdrawing one purpose touched another")
	}
	home = b.get(p.header.Get("Location"))
	if !strings.Contains(home.body, "Your consent is withdrawn") || !strings.Contains(home.body, "Consent withdrawn") {
		t.Fatal("portal does not confirm the withdrawal or show it in the history")
	}
	if !strings.Contains(home.body, "ml-pipeline") {
		t.Error("access log not shown")
	}
}

// A person sees which of their consents came from the organization's
// earlier system.
func TestPortalHistoryShowsImportedConsents(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	n := e.d.Notices.NoticeFor("en")
	rec := &likeness.ImportRecord{ExternalID: "u1", Jurisdiction: "EU-DE", Consents: []likeness.ImportedConsent{{
		Purpose: "ai-training", State: likeness.ImportGranted, Time: e.clock.Now().Add(-48 * time.Hour), Method: likeness.Checkbox,
		Language: "en", NoticeSHA256: n.SHA256}}}
	l := &consent.ImportLine{Line: 1, Key: [32]byte{1}, Digest: [32]byte{1}, Record: rec}
	if err := e.svc.Import(context.Background(), "imp_portal", []*consent.ImportLine{l}); err != nil || l.Err != nil {
		t.Fatalf("import: %v %v", err, l.Err)
	}
	home := e.signIn(sub).get("/me")
	if !strings.Contains(home.body, "Ticked a box (brought over from an earlier system)") {
		t.Fatalf("the history does not say the consent was brought over:\n%s", home.body)
	}
}

func TestGiveConsentFromThePortal(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	b := e.signIn(sub)
	p := b.get("/me/give/ai-training")
	if p.status != 200 || strings.Contains(p.body, "checked") || !strings.Contains(p.body, "Train our portrait") {
		t.Fatalf("give form: %d", p.status)
	}
	form := p.hidden(t, "/me/give/ai-training")
	form.Set("action", "accept")
	form.Set("purpose", "ai-training")
	if p := b.post("/me/give/ai-training", form); p.status != http.StatusSeeOther {
		t.Fatalf("give: %d %s", p.status, p.body)
	}
	evs := e.events(sub)
	if len(evs) != 1 || evs[0].Purpose != "ai-training" || evs[0].Collector != "web:portal" {
		t.Fatalf("events %+v", evs)
	}
}

func TestExportHoldsEverything(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	e.grant(sub, "ai-training", "marketing-personalization")
	// The withdrawal of ai-training erases its photo; the other one stays.
	gone := e.upload(sub, "ai-training", "image")
	photo := e.upload(sub, "marketing-personalization", "image")
	b := e.signIn(sub)
	home := b.get("/me")
	b.post("/me/withdraw", func() url.Values { f := home.hidden(t, "/me/withdraw"); f.Set("purpose", "ai-training"); return f }())
	p := b.get("/me/export")
	if p.status != 200 || p.header.Get("Content-Type") != "application/zip" || !strings.Contains(p.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", p.status, p.header)
	}
	files := unzip(t, p.raw)
	evs := e.events(sub)
	want := []string{"subject.json", "consents.json", "notice.json", "media/" + photo + ".jpg"}
	for _, ev := range evs {
		want = append(want, "receipts/"+ev.ID+".jws")
	}
	for _, name := range want {
		if _, ok := files[name]; !ok {
			t.Errorf("export lacks %s (has %v)", name, keysOf(files))
		}
	}
	if _, ok := files["media/"+gone+".jpg"]; ok {
		t.Error("the export holds the photo the withdrawal erased")
	}
	var consents struct {
		Purposes []likeness.PurposeState  `json:"purposes"`
		History  []*likeness.ConsentEvent `json:"history"`
	}
	if err := json.Unmarshal(files["consents.json"], &consents); err != nil {
		t.Fatal(err)
	}
	if len(consents.History) != 3 || len(consents.Purposes) != 3 {
		t.Fatalf("consents.json has %d events and %d purposes", len(consents.History), len(consents.Purposes))
	}
	if parts := strings.Split(string(files["receipts/"+evs[0].ID+".jws"]), "."); len(parts) != 3 {
		t.Fatal("receipt is not a compact JWS")
	}
	stored, _ := e.store.Asset(context.Background(), photo)
	sum := sha256.Sum256(files["media/"+photo+".jpg"])
	if hex.EncodeToString(sum[:]) != stored.SHA256 {
		t.Fatal("the exported photo is not the stored one, decrypted")
	}
	// One receipt on its own.
	r := b.get("/me/receipts/" + evs[0].ID)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Disposition"), "receipt-"+evs[0].ID+".jws") || strings.Count(r.body, ".") != 2 {
		t.Fatalf("receipt download: %d %v", r.status, r.header)
	}
	if r := b.get("/me/receipts/evt_someoneelse"); r.status != http.StatusNotFound {
		t.Fatalf("someone else's receipt: %d", r.status)
	}
	if r := e.browser().get("/me/export"); r.status != http.StatusUnauthorized {
		t.Fatalf("export without a session: %d", r.status)
	}
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("export is not a zip: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestEraseAsksForConfirmationThenEndsTheSession(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	e.grant(sub, "ai-training")
	b := e.signIn(sub)
	confirm := b.get("/me/erase")
	if confirm.status != 200 || !strings.Contains(confirm.body, "cannot be undone") {
		t.Fatalf("confirmation page: %d", confirm.status)
	}
	if !e.allows(sub, "ai-training", "image") {
		t.Fatal("opening the confirmation page erased something")
	}
	p := b.post("/me/erase", confirm.hidden(t, "/me/erase"))
	if p.status != 200 || !strings.Contains(p.body, "Your data is erased") || !strings.Contains(p.body, `href="data:application/`) {
		t.Fatalf("erase: %d %s", p.status, p.body)
	}
	if c := sessionCookie(t, p); c.MaxAge >= 0 {
		t.Fatal("erasure did not end the session")
	}
	if e.allows(sub, "ai-training", "image") {
		t.Fatal("a decision after erasure allowed")
	}
	if p := b.get("/me"); p.status == 200 {
		t.Fatal("the portal still opens after erasure")
	}
}

func TestErasureUnavailableWithoutAnEraser(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.Eraser = nil })
	sub := e.subject("u1", "EU-DE", "en")
	b := e.signIn(sub)
	if p := b.get("/me"); strings.Contains(p.body, `href="/me/erase`) || !strings.Contains(p.body, "write to privacy@acme.example") {
		t.Fatal("portal offers erasure it cannot do")
	}
	if p := b.get("/me/erase"); p.status != http.StatusNotImplemented {
		t.Fatalf("erase page without an eraser: %d", p.status)
	}
}
