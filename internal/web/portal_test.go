package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
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
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
	"likeness/internal/web"
	"likeness/ledger"
)

func TestReusedPortalLinkIsRefused(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.portalLink(sub)
	b := e.browser()
	p := b.Get(path)
	if p.Status != 200 || !strings.Contains(p.Body, `url=/me`) {
		t.Fatalf("login: %d %s", p.Status, p.Body)
	}
	c := sessionCookie(t, p)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/me" || c.MaxAge <= 0 || c.MaxAge > 30*60 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/me, at most 30 minutes", c)
	}
	if strings.Contains(c.Value, sub) {
		t.Error("the cookie shows the subject id in clear")
	}
	if p := b.Get("/me"); p.Status != 200 {
		t.Fatalf("/me after login: %d", p.Status)
	}
	again := e.browser().Get(path)
	if again.Status != http.StatusGone || !strings.Contains(again.Body, "already used") {
		t.Fatalf("reused portal link: %d", again.Status)
	}
	if p := e.browser().Get("/me"); p.Status != http.StatusUnauthorized {
		t.Fatalf("/me without a session: %d", p.Status)
	}
	// A consent link is not a portal link.
	if p := e.browser().Get("/me/login/" + linkID(e.consentLink(sub, allPurposes, ""))); p.Status != http.StatusNotFound {
		t.Fatalf("consent link used as portal link: %d", p.Status)
	}
}

func sessionCookie(t *testing.T, p page) *http.Cookie {
	t.Helper()
	for _, line := range p.Header.Values("Set-Cookie") {
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
	if p := b.Get(e.portalLink(sub)); p.Status != 200 {
		e.t.Fatalf("login: %d", p.Status)
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
	home := b.Get("/me")
	if n := strings.Count(home.Body, `action="/me/withdraw"`); n != 2 {
		t.Fatalf("%d withdraw forms, want one per active purpose (2)", n)
	}
	if !strings.Contains(home.Body, `href="/me/give/marketing-personalization`) {
		t.Fatal("no way to give consent to the other purpose")
	}
	if !e.allows(sub, "ai-training", "image") {
		t.Fatal("precondition: allowed")
	}
	form := hidden(t, home, "/me/withdraw")
	form.Set("purpose", "ai-training")
	p := b.Post("/me/withdraw", form)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("withdraw: %d %s", p.Status, p.Body)
	}
	if e.allows(sub, "ai-training", "image") {
		t.Fatal("the next decision after a withdrawal allowed")
	}
	if !e.allows(sub, "voice-transcription", "voice") {
		t.Fatal("withdrawing one purpose touched another")
	}
	home = b.Get(p.Header.Get("Location"))
	if !strings.Contains(home.Body, "Your consent is withdrawn") || !strings.Contains(home.Body, "Consent withdrawn") {
		t.Fatal("portal does not confirm the withdrawal or show it in the history")
	}
	if !strings.Contains(home.Body, "ml-pipeline") {
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
	home := e.signIn(sub).Get("/me")
	if !strings.Contains(home.Body, "Ticked a box (brought over from an earlier system)") {
		t.Fatalf("the history does not say the consent was brought over:\n%s", home.Body)
	}
}

func TestGiveConsentFromThePortal(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	b := e.signIn(sub)
	p := b.Get("/me/give/ai-training")
	if p.Status != 200 || strings.Contains(p.Body, "checked") || !strings.Contains(p.Body, "Train our portrait") {
		t.Fatalf("give form: %d", p.Status)
	}
	form := hidden(t, p, "/me/give/ai-training")
	form.Set("action", "accept")
	form.Set("purpose", "ai-training")
	if p := b.Post("/me/give/ai-training", form); p.Status != http.StatusSeeOther {
		t.Fatalf("give: %d %s", p.Status, p.Body)
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
	home := b.Get("/me")
	b.Post("/me/withdraw", func() url.Values { f := hidden(t, home, "/me/withdraw"); f.Set("purpose", "ai-training"); return f }())
	p := b.Get("/me/export")
	if p.Status != 200 || p.Header.Get("Content-Type") != "application/zip" || !strings.Contains(p.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", p.Status, p.Header)
	}
	files := unzip(t, p.Raw)
	evs := e.events(sub)
	want := []string{"subject.json", "consents.json", "consent-records.jsonld", "notice.json", "media/" + photo + ".jpg"}
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
	// The same consents as ISO/IEC TS 27560 records: one per purpose with
	// history, each conforming to the DPV profile.
	var records struct {
		Graph []struct {
			Type       string `json:"@type"`
			ConformsTo string `json:"dct:conformsTo"`
			History    []any  `json:"likeness:history"`
		} `json:"@graph"`
	}
	if err := json.Unmarshal(files["consent-records.jsonld"], &records); err != nil {
		t.Fatal(err)
	}
	events := 0
	for _, r := range records.Graph {
		if r.Type != "dpv:ConsentRecord" || r.ConformsTo != "https://w3id.org/dpv/schema/dpv-27560#record" {
			t.Errorf("consent-records.jsonld holds %s conforming to %s", r.Type, r.ConformsTo)
		}
		events += len(r.History)
	}
	if events != len(consents.History) {
		t.Errorf("consent-records.jsonld records %d events, consents.json %d", events, len(consents.History))
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
	r := b.Get("/me/receipts/" + evs[0].ID)
	if r.Status != 200 || !strings.Contains(r.Header.Get("Content-Disposition"), "receipt-"+evs[0].ID+".jws") || strings.Count(r.Body, ".") != 2 {
		t.Fatalf("receipt download: %d %v", r.Status, r.Header)
	}
	if r := b.Get("/me/receipts/evt_someoneelse"); r.Status != http.StatusNotFound {
		t.Fatalf("someone else's receipt: %d", r.Status)
	}
	if r := e.browser().Get("/me/export"); r.Status != http.StatusUnauthorized {
		t.Fatalf("export without a session: %d", r.Status)
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
		if f.Modified.Year() < 2000 {
			t.Errorf("%s is dated %v: an archive's entries carry the export's date", f.Name, f.Modified)
		}
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
	confirm := b.Get("/me/erase")
	if confirm.Status != 200 || !strings.Contains(confirm.Body, "cannot be undone") {
		t.Fatalf("confirmation page: %d", confirm.Status)
	}
	if !e.allows(sub, "ai-training", "image") {
		t.Fatal("opening the confirmation page erased something")
	}
	p := b.Post("/me/erase", hidden(t, confirm, "/me/erase"))
	if p.Status != 200 || !strings.Contains(p.Body, "Your data is erased") || !strings.Contains(p.Body, `href="data:application/`) {
		t.Fatalf("erase: %d %s", p.Status, p.Body)
	}
	if c := sessionCookie(t, p); c.MaxAge >= 0 {
		t.Fatal("erasure did not end the session")
	}
	if e.allows(sub, "ai-training", "image") {
		t.Fatal("a decision after erasure allowed")
	}
	if p := b.Get("/me"); p.Status == 200 {
		t.Fatal("the portal still opens after erasure")
	}
}

func TestErasureUnavailableWithoutAnEraser(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.Eraser = nil })
	sub := e.subject("u1", "EU-DE", "en")
	b := e.signIn(sub)
	if p := b.Get("/me"); strings.Contains(p.Body, `href="/me/erase`) || !strings.Contains(p.Body, "write to privacy@acme.example") {
		t.Fatal("portal offers erasure it cannot do")
	}
	if p := b.Get("/me/erase"); p.Status != http.StatusNotImplemented {
		t.Fatalf("erase page without an eraser: %d", p.Status)
	}
}

// A portal request that is refused is not in the audit log as allowed:
// the visit is recorded as admitted, and the refusal after it.
func TestARefusedPortalRequestIsAuditedAsRefused(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	e.grant(sub, "ai-training")
	b := e.signIn(sub)
	form := hidden(t, b.Get("/me"), "/me/withdraw")
	form.Set("purpose", "nope")
	if p := b.Post("/me/withdraw", form); p.Status != http.StatusBadRequest {
		t.Fatalf("withdrawing an unknown purpose: %d", p.Status)
	}
	entries, err := e.store.RecentAccess(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	var refused bool
	for _, a := range entries {
		if a.Action == "portal POST /me/withdraw: refused" {
			refused = !a.Allow && a.SubjectID == sub && slices.Contains(a.Reasons, "answered 400")
		}
	}
	if !refused {
		t.Errorf("no refusal of the withdrawal in the audit log: %+v", entries)
	}
}

// After a withdrawal that erased what the purpose collected, the portal
// shows the person the erasure with its certificate to download, which
// checks with the ledger's key and lists what was erased.
func TestThePortalShowsWhatAWithdrawalErasedWithItsCertificate(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	e.grant(sub, "ai-training")
	a, err := e.vault.Ingest(context.Background(), &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice",
		ContentType: "audio/wav", Body: bytes.NewReader(likenesstest.WAV("portal-erased", 200))})
	if err != nil {
		t.Fatal(err)
	}
	b := e.signIn(sub)
	home := b.Get("/me")
	if strings.Contains(home.Body, "What we erased after you withdrew consent") {
		t.Fatal("the section shows before any withdrawal")
	}
	form := hidden(t, home, "/me/withdraw")
	form.Set("purpose", "ai-training")
	if p := b.Post("/me/withdraw", form); p.Status != http.StatusSeeOther {
		t.Fatalf("withdraw: %d %s", p.Status, p.Body)
	}
	home = b.Get("/me")
	if !strings.Contains(home.Body, "What we erased after you withdrew consent") || !strings.Contains(home.Body, "<td>1</td>") {
		t.Fatalf("the portal does not show the erasure of the one recording:\n%s", home.Body)
	}
	const prefix = `href="data:application/jose;base64,`
	_, rest, ok := strings.Cut(home.Body, prefix)
	if !ok {
		t.Fatal("no certificate to download")
	}
	enc, _, _ := strings.Cut(rest, `"`)
	jws, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := e.d.Ledger.Signer().Verifier().VerifyStatement(ledger.CertificateType, string(jws))
	if err != nil {
		t.Fatalf("the downloaded certificate does not verify: %v", err)
	}
	if !strings.Contains(string(payload), a.ID) {
		t.Errorf("the certificate %s does not list the erased recording %s", payload, a.ID)
	}
}

// kindAccess is an access log whose entries say what happened by kind, as
// cmd/likeness's does.
type kindAccess struct{}

func (kindAccess) SubjectAccessLog(ctx context.Context, subjectID string) ([]web.AccessEntry, error) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	return []web.AccessEntry{
		{Time: at, Who: "olga (admin)", Purpose: "ai-training", Action: "content read, because: Stichprobe", Kind: "read_because", Detail: "Stichprobe"},
		{Time: at, Who: "likeness", Purpose: "ai-training", Action: "erased after withdrawal of ai-training", Kind: "erased"},
	}, nil
}

// The portal's "who used your data" is in the person's language, what
// happened included, not only the headings.
func TestThePortalsAccessLogSpeaksThePersonsLanguage(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.AccessLog = kindAccess{} })
	for _, c := range []struct{ locale, read, erased, not string }{
		{"de", "Inhalt gelesen, mit der Begründung: Stichprobe", "nach Ihrem Widerruf gelöscht", "content read"},
		{"en", "content read, because: Stichprobe", "erased after your withdrawal", "Inhalt gelesen"},
	} {
		sub := e.subject("lang-"+c.locale, "EU-DE", c.locale)
		home := e.signIn(sub).Get("/me")
		if !strings.Contains(home.Body, c.read) || !strings.Contains(home.Body, c.erased) || strings.Contains(home.Body, c.not) {
			t.Errorf("%s: the access log does not read %q and %q (or reads %q)", c.locale, c.read, c.erased, c.not)
		}
	}
}
