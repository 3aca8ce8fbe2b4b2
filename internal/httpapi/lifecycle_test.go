package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/vault"
	"likeness/policy"
)

func TestGPCSignalOptsACaliforniaSubjectOutOfSaleOrShare(t *testing.T) {
	e := newEnv(t, "")
	ca, eu := e.subject("ca", "US-CA"), e.subject("eu", "EU-DE")
	for _, sub := range []string{ca, eu} {
		if r := e.grant(sub, "marketing-personalization", "ai-training"); r.status != 201 {
			t.Fatalf("grant: %d %s", r.status, r.body)
		}
	}
	for _, sub := range []string{ca, eu} {
		// The collector's app forwards the person's header when it looks them up.
		ext := map[string]string{ca: "ca", eu: "eu"}[sub]
		jur := map[string]string{ca: "US-CA", eu: "EU-DE"}[sub]
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/subjects", strings.NewReader(`{"external_id":"`+ext+`","jurisdiction":"`+jur+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.tokens[likeness.RoleCollector])
		req.Header.Set("Sec-GPC", "1")
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	ask := func(sub, purpose string) decisionJSON {
		return e.decide(map[string]any{"subject_id": sub, "purpose": purpose, "data_category": "image"})
	}
	if d := ask(ca, "marketing-personalization"); d.Allow || !has(d.Reasons, "withdrawn") {
		t.Fatalf("California subject after GPC, sale_or_share purpose: %+v", d)
	}
	if d := ask(ca, "ai-training"); !d.Allow {
		t.Fatalf("GPC must not touch purposes that are not sale or share: %+v", d)
	}
	if d := ask(eu, "marketing-personalization"); !d.Allow {
		t.Fatalf("GPC is a CCPA signal; the EU subject's consent stands: %+v", d)
	}
	hist, _ := e.store.SubjectEvents(context.Background(), ca)
	last := hist[len(hist)-1]
	if last.Type != likeness.Withdraw || last.Method != likeness.GPC {
		t.Fatalf("last event %+v, want a gpc withdrawal in the ledger", last)
	}
	// A read-only key's lookup records nothing, header or not.
	size, _ := e.store.LedgerSize(context.Background())
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/subjects/"+ca+"/consents", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[likeness.RoleAuditor])
	req.Header.Set("Sec-GPC", "1")
	if res, err := e.srv.Client().Do(req); err == nil {
		res.Body.Close()
	}
	if after, _ := e.store.LedgerSize(context.Background()); after != size {
		t.Fatal("an auditor's GET wrote to the ledger")
	}
	n := e.notice("en")
	body := `{"purposes":["marketing-personalization"],"notice_version":` + strconv.FormatInt(n.Version, 10) + `,"notice_sha256":"` + n.SHA256 + `","method":"checkbox","language":"en"}`
	req, _ = http.NewRequest("POST", e.srv.URL+"/v1/subjects/"+ca+"/consents", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.tokens[likeness.RoleCollector])
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-GPC", "1")
	res, _ := e.srv.Client().Do(req)
	res.Body.Close()
	if res.StatusCode != 409 {
		t.Fatalf("grant of a sale_or_share purpose with GPC: %d, want 409", res.StatusCode)
	}
}

func TestReconsentDueAfterRenewEveryAndRenewalIsANewLedgerEvent(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("renew", "EU-DE")
	e.grant(sub, "ai-training") // renew_every: 12mo
	start := e.clock.Now()
	due := func(within string) []map[string]any {
		var out struct{ Due []map[string]any }
		r := e.call(likeness.RoleAuditor, "GET", "/v1/renewals/due?within="+within, nil)
		if r.status != 200 {
			t.Fatalf("renewals due: %d %s", r.status, r.body)
		}
		r.json(t, &out)
		return out.Due
	}
	if d := due("30d"); len(d) != 0 {
		t.Fatalf("a fresh grant is due: %v", d)
	}
	e.clock.Set(start.AddDate(0, 11, 10))
	if d := due("30d"); len(d) != 1 || d[0]["subject_id"] != sub || d[0]["state"] != "active" {
		t.Fatalf("due within 30d, 11 months later: %v", d)
	}
	e.clock.Set(start.AddDate(1, 0, 1))
	if d := due("30d"); len(d) != 1 || d[0]["state"] != "expired" {
		t.Fatalf("after renew_every: %v", d)
	}
	if d := e.decide(map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "image"}); d.Allow || !has(d.Reasons, "expired") {
		t.Fatalf("decision after renew_every: %+v", d)
	}
	size, _ := e.store.LedgerSize(context.Background())
	if r := e.grant(sub, "ai-training"); r.status != 201 || !strings.Contains(string(r.body), `"type":"renew"`) {
		t.Fatalf("renewal: %d %s", r.status, r.body)
	}
	if after, _ := e.store.LedgerSize(context.Background()); after != size+1 {
		t.Fatalf("renewal did not append a ledger event")
	}
	if d := e.decide(map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "image"}); !d.Allow {
		t.Fatalf("decision after renewal: %+v", d)
	}
}

func TestRetentionScheduleIsPublicInEveryLanguage(t *testing.T) {
	e := newEnv(t, "")
	for lang, word := range map[string]string{"en": "destroyed", "de": "gelöscht"} {
		r := e.call("", "GET", "/v1/retention-schedule?lang="+lang, nil)
		if r.status != 200 || !strings.Contains(string(r.body), word) || !strings.Contains(string(r.body), "voice-transcription") {
			t.Fatalf("%s schedule without a key: %d %s", lang, r.status, r.body)
		}
	}
}

func TestRetentionDeniesExpiredAssetsBeforeTheSweeperErasesThem(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("retain", "EU-DE")
	e.grant(sub, "voice-transcription") // retention: 90d
	var a likeness.Asset
	e.upload(likeness.RoleCollector, sub, "purpose=voice-transcription&category=voice", "audio/wav", wav("r", 100)).json(t, &a)
	e.clock.Set(e.clock.Now().Add(91 * 24 * time.Hour))
	d := e.decide(map[string]any{"asset_id": a.ID, "purpose": "voice-transcription", "data_category": "voice"})
	if d.Allow || !has(d.Reasons, "asset_retention_expired") {
		t.Fatalf("decision past retention, before the sweep: %+v", d)
	}
	n, err := e.vault.SweepExpired(context.Background(), 10)
	if err != nil || n != 1 {
		t.Fatalf("sweep erased %d (%v), want 1", n, err)
	}
	if g := e.call(likeness.RoleAuditor, "GET", "/v1/assets/"+a.ID, nil); g.status != 410 {
		t.Fatalf("asset after sweep: %d", g.status)
	}
	if files := countFiles(t, filepath.Join(e.dir, "blobs")); files != 0 {
		t.Fatalf("%d blobs after sweep", files)
	}
}

// TestWithdrawalErasesAssetsUnlessThePolicyKeepsThem: withdrawing the
// purpose an asset was collected for erases it and what was derived from it
// (GDPR Art. 17(1)(b)): blobs gone, rows marked erased, 410, a line in the
// person's access log. A purpose that declares a keep keeps its assets.
func TestWithdrawalErasesAssetsUnlessThePolicyKeepsThem(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			ctx := context.Background()
			const renew = "    renew_every: 12mo        # consent must be confirmed again after this long\n"
			src := strings.Replace(string(policy.Example().Source), renew,
				renew+"    on_withdraw: {keep: legitimate_interests, reason: Models already trained on the data cannot be untrained.}\n", 1)
			p, err := policy.Parse("keep.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.d.Notices.SetPolicy(ctx, p); err != nil {
				t.Fatal(err)
			}
			sub := e.subject("we", "EU-DE")
			e.grant(sub, "voice-transcription", "ai-training")
			var erased, derived, kept likeness.Asset
			e.upload(likeness.RoleCollector, sub, "purpose=voice-transcription&category=voice", "audio/wav", wav("e", 100)).json(t, &erased)
			e.upload(likeness.RoleCollector, sub, "purpose=voice-transcription&category=transcript&derived_from="+erased.ID, "text/plain",
				[]byte("a transcript")).json(t, &derived)
			e.upload(likeness.RoleCollector, sub, "purpose=ai-training&category=voice", "audio/wav", wav("k", 100)).json(t, &kept)
			blobs := filepath.Join(e.dir, "blobs")
			if n := countFiles(t, blobs); n != 3 {
				t.Fatalf("%d blobs before the withdrawals, want 3", n)
			}
			for _, purpose := range []string{"voice-transcription", "ai-training"} {
				if r := e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+sub+"/consents/"+purpose+"/withdraw", nil); r.status != 201 {
					t.Fatalf("withdraw %s: %d %s", purpose, r.status, r.body)
				}
			}
			for _, id := range []string{erased.ID, derived.ID} {
				if g := e.call(likeness.RoleAuditor, "GET", "/v1/assets/"+id, nil); g.status != 410 {
					t.Fatalf("asset %s of the withdrawn purpose: %d, want 410", id, g.status)
				}
				if c := e.content(likeness.RolePipeline, id, "purpose=voice-transcription"); c.status != 410 {
					t.Fatalf("content of an erased asset: %d, want 410", c.status)
				}
				if a, err := e.store.Asset(ctx, id); err != nil || !a.Erased() || a.ErasedReason != likeness.TaintConsentWithdrawn || a.SHA256 != "" {
					t.Fatalf("asset row after the withdrawal: %+v %v", a, err)
				}
			}
			if n := countFiles(t, blobs); n != 1 {
				t.Fatalf("%d blobs after the withdrawals, want 1 (the kept asset's)", n)
			}
			if g := e.call(likeness.RoleAuditor, "GET", "/v1/assets/"+kept.ID, nil); g.status != 200 {
				t.Fatalf("asset of a purpose that keeps: %d, want kept (200)", g.status)
			}
			if c := e.content(likeness.RolePipeline, kept.ID, "purpose=ai-training"); c.status != 403 {
				t.Fatalf("kept asset's content after withdrawal: %d, want 403", c.status)
			}
			log, err := e.store.SubjectAccessLog(ctx, sub, 100)
			if err != nil {
				t.Fatal(err)
			}
			logged := map[string]bool{}
			for _, en := range log {
				if en.Action == vault.ActionErasedOnWithdrawal && en.Purpose == "voice-transcription" {
					logged[en.AssetID] = true
				}
			}
			if !logged[erased.ID] || !logged[derived.ID] || len(logged) != 2 {
				t.Fatalf("access log of the erasure: %v, want the asset and its transcript", logged)
			}
		})
	}
}

func TestAKeepWithoutReasonIsRefusedWithFileAndLine(t *testing.T) {
	src := strings.Replace(string(policy.Example().Source), "    retention: 90d\n", "    retention: 90d\n    on_withdraw: {keep: contract}\n", 1)
	line := strings.Count(src[:strings.Index(src, "on_withdraw: {keep: contract}")], "\n") + 1
	_, err := policy.Parse("keep.yaml", []byte(src))
	if want := "keep.yaml:" + strconv.Itoa(line) + ": purposes.voice-transcription.on_withdraw.reason:"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse = %v, want %q", err, want)
	}
}

func TestSubjectErasureAnswers410AndCertificateVerifies(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("gone", "EU-DE")
	e.grant(sub, "ai-training")
	var a likeness.Asset
	e.upload(likeness.RoleCollector, sub, "purpose=ai-training&category=voice", "audio/wav", wav("g", 100)).json(t, &a)
	r := e.call(likeness.RoleAdmin, "DELETE", "/v1/subjects/"+sub, nil)
	if r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	var out struct {
		Certificate struct {
			JWS    string `json:"jws"`
			Claims struct {
				Subject   string `json:"subject"`
				Destroyed struct {
					DataKey bool     `json:"data_key"`
					Assets  []string `json:"assets"`
				} `json:"destroyed"`
			} `json:"claims"`
		} `json:"certificate"`
	}
	r.json(t, &out)
	if _, err := e.d.Erasure.VerifyCertificate([]byte(out.Certificate.JWS)); err != nil {
		t.Fatalf("certificate does not verify: %v", err)
	}
	if !out.Certificate.Claims.Destroyed.DataKey || len(out.Certificate.Claims.Destroyed.Assets) != 1 {
		t.Fatalf("certificate claims: %+v", out.Certificate.Claims)
	}
	for _, path := range []string{"/v1/subjects/" + sub, "/v1/subjects/" + sub + "/consents", "/v1/subjects/" + sub + "/assets", "/v1/assets/" + a.ID} {
		if g := e.call(likeness.RoleAdmin, "GET", path, nil); g.status != 410 {
			t.Errorf("GET %s after erasure: %d, want 410", path, g.status)
		}
	}
	if g := e.grant(sub, "ai-training"); g.status != 410 {
		t.Errorf("grant after erasure: %d, want 410", g.status)
	}
	if d := e.decide(map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "voice"}); d.Allow || !has(d.Reasons, "subject_erased") {
		t.Fatalf("decision after erasure: %+v", d)
	}
	// Downstream systems hear of it through the outbox.
	dels, err := e.store.ClaimDeliveries(context.Background(), "test-sink", e.clock.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, d := range dels {
		types = append(types, d.Message.Type)
	}
	if got := strings.Join(types, ","); got != "consent.granted,asset.erased,subject.erased" {
		t.Fatalf("outbox messages %s, want consent.granted,asset.erased,subject.erased", got)
	}
	again := e.call(likeness.RoleAdmin, "DELETE", "/v1/subjects/"+sub, nil)
	if again.status != 200 || !strings.Contains(string(again.body), out.Certificate.JWS) {
		t.Fatalf("second erase: %d, want the same certificate", again.status)
	}
}
