package consent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
)

// importOne imports one record as line 1 of a fresh run and returns its line.
func (f *fixture) importOne(rec *likeness.ImportRecord) *consent.ImportLine {
	f.t.Helper()
	digest := sha256.Sum256([]byte(rec.ExternalID + likeness.NewID("line")))
	l := &consent.ImportLine{Line: 1, Digest: digest, Key: consent.ImportKey(rec.ImportID, digest), Record: rec}
	if err := f.svc.Import(context.Background(), likeness.NewID("imp"), []*consent.ImportLine{l}); err != nil {
		f.t.Fatal(err)
	}
	return l
}

func (f *fixture) noticeSHA(lang string) string {
	f.t.Helper()
	n, err := f.d.Notices.Notice(lang)
	if err != nil {
		f.t.Fatal(err)
	}
	return n.SHA256
}

func importedGrant(purpose string, at time.Time, sha string) likeness.ImportedConsent {
	return likeness.ImportedConsent{Purpose: purpose, State: likeness.ImportGranted, Time: at, Method: likeness.Checkbox,
		Language: "en", NoticeSHA256: sha}
}

// Each imported consent is checked as the API checks grants and
// withdrawals, and a line that fails records nothing, its person included.
func TestImportedConsentsAreCheckedAsTheAPIChecksThem(t *testing.T) {
	f := newFixture(t)
	sha := f.noticeSHA("en")
	past := t0.Add(-24 * time.Hour)
	ok := importedGrant("ai-training", past, sha)
	tests := []struct {
		name    string
		consent func(c *likeness.ImportedConsent)
		want    string
	}{
		{"unknown purpose", func(c *likeness.ImportedConsent) { c.Purpose = "nope" }, `unknown purpose "nope"`},
		{"unknown method", func(c *likeness.ImportedConsent) { c.Method = "telepathy" }, `method "telepathy" is not one of`},
		{"verbal without recording", func(c *likeness.ImportedConsent) { c.Method = likeness.Verbal }, "evidence.recording"},
		{"language not offered", func(c *likeness.ImportedConsent) { c.Language = "fr" }, `language "fr" is not offered`},
		{"no notice", func(c *likeness.ImportedConsent) { c.NoticeSHA256 = "" }, "needs notice_version, notice_sha256 or notice_text"},
		{"malformed hash", func(c *likeness.ImportedConsent) { c.NoticeSHA256 = strings.ToUpper(sha) }, "64 lowercase hex"},
		{"text and hash disagree", func(c *likeness.ImportedConsent) { c.NoticeText = "another text" }, "not the SHA-256 of notice_text"},
		{"version never published", func(c *likeness.ImportedConsent) { c.NoticeVersion = 9 }, "notice_version 9 was never published"},
		{"hash of another text than the version", func(c *likeness.ImportedConsent) {
			c.NoticeVersion, c.NoticeSHA256 = 1, strings.Repeat("ab", 32)
		}, "does not match the en notice of version 1"},
		{"no time", func(c *likeness.ImportedConsent) { c.Time = time.Time{} }, "time is required"},
		{"future", func(c *likeness.ImportedConsent) { c.Time = t0.Add(time.Hour) }, "is in the future"},
		{"unknown state", func(c *likeness.ImportedConsent) { c.State = "maybe" }, `state "maybe" is not`},
		{"withdrawal with a notice", func(c *likeness.ImportedConsent) { c.State = likeness.ImportWithdrawn }, "a withdrawal carries no language or notice"},
		{"too much evidence", func(c *likeness.ImportedConsent) { c.Evidence = map[string]string{"x": strings.Repeat("y", 5000)} }, "too long"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.consent(&c)
			ext := "person-" + string(rune('a'+i))
			l := f.importOne(&likeness.ImportRecord{ExternalID: ext, Jurisdiction: "EU-DE", Consents: []likeness.ImportedConsent{ok, c}})
			if l.Outcome != consent.ImportFailed || l.Err == nil || !strings.Contains(l.Err.Error(), "consents[1]: ") || !strings.Contains(l.Err.Error(), tt.want) {
				t.Fatalf("outcome %v, err %v; want failed with consents[1]: …%s", l.Outcome, l.Err, tt.want)
			}
			if _, err := f.d.Subjects.SubjectByExternalID(context.Background(), ext); likeness.ErrorCode(err) != likeness.ENOTFOUND {
				t.Fatalf("the failed line's person was created (%v)", err)
			}
		})
	}
	for name, rec := range map[string]*likeness.ImportRecord{
		"no external id":   {Jurisdiction: "EU-DE"},
		"bad jurisdiction": {ExternalID: "x", Jurisdiction: "Narnia"},
	} {
		if l := f.importOne(rec); l.Outcome != consent.ImportFailed || likeness.ErrorCode(l.Err) != likeness.EINVALID {
			t.Errorf("%s: outcome %v, err %v; want failed, invalid", name, l.Outcome, l.Err)
		}
	}
	if n, _ := f.store.LedgerSize(context.Background()); n != 0 {
		t.Fatalf("failed lines recorded %d events", n)
	}
}

// The notice an imported grant names is resolved to this deployment's
// versions when it is one of them; a notice of another system counts as
// given under the current version, so a later material change still asks
// for renewal.
func TestImportedGrantsKeepTheirNotice(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sha1 := f.noticeSHA("en")
	f.clock.Set(t0.AddDate(0, 1, 0))
	if err := f.d.Notices.SetPolicy(ctx, materialChange(t)); err != nil {
		t.Fatal(err)
	}
	past := t0.Add(-24 * time.Hour)
	old := f.importOne(&likeness.ImportRecord{ExternalID: "under-v1", Jurisdiction: "EU-DE",
		Consents: []likeness.ImportedConsent{importedGrant("ai-training", past, sha1), importedGrant("marketing-personalization", past, sha1)}})
	foreign := importedGrant("ai-training", past, "")
	foreign.NoticeText = "The notice of the system we left."
	other := f.importOne(&likeness.ImportRecord{ExternalID: "foreign", Jurisdiction: "EU-DE", Consents: []likeness.ImportedConsent{foreign}})
	if old.Outcome != consent.ImportRecorded || other.Outcome != consent.ImportRecorded {
		t.Fatalf("outcomes %v (%v), %v (%v)", old.Outcome, old.Err, other.Outcome, other.Err)
	}
	if ev := old.Events[0]; ev.NoticeVersion != 1 || ev.NoticeSHA256 != sha1 || old.ForeignNotices != 0 {
		t.Errorf("grant under our version 1: notice v%d %s, foreign %d", ev.NoticeVersion, ev.NoticeSHA256, old.ForeignNotices)
	}
	sum := sha256.Sum256([]byte(foreign.NoticeText))
	if ev := other.Events[0]; ev.NoticeVersion != 2 || ev.NoticeSHA256 != string(hexOf(sum)) || other.ForeignNotices != 1 {
		t.Errorf("grant under a foreign notice: notice v%d %s, foreign %d", ev.NoticeVersion, ev.NoticeSHA256, other.ForeignNotices)
	}
	wantDeny(t, "ai-training imported under version 1, changed materially since", f.decide(old.Events[0].SubjectID, "ai-training", "voice", time.Time{}), "needs_renewal")
	wantAllow(t, "marketing imported under version 1, unchanged", f.decide(old.Events[0].SubjectID, "marketing-personalization", "image", time.Time{}))
	wantAllow(t, "ai-training under a foreign notice", f.decide(other.Events[0].SubjectID, "ai-training", "voice", time.Time{}))
}

func hexOf(b [32]byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 64)
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0xf]
	}
	return out
}

// An imported withdrawal of a person the service knew is a withdrawal: if
// it is the latest word, what was collected for the purpose is erased, as
// after a live one; an older one changes nothing.
func TestImportedWithdrawalOfAKnownPersonErasesThePurposesData(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sub := f.subject("known")
	f.grant(sub, "ai-training")
	asset, err := f.d.Vault.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice",
		ContentType: "audio/wav", Body: bytes.NewReader(likenesstest.WAV("imp", 1000))})
	if err != nil {
		t.Fatal(err)
	}
	withdraw := likeness.ImportedConsent{Purpose: "ai-training", State: likeness.ImportWithdrawn, Method: likeness.Checkbox}

	withdraw.Time = t0.Add(-time.Hour) // before the live grant
	if l := f.importOne(&likeness.ImportRecord{ExternalID: "known", Jurisdiction: "EU-DE", Consents: []likeness.ImportedConsent{withdraw}}); l.Outcome != consent.ImportRecorded {
		t.Fatalf("older withdrawal: %v %v", l.Outcome, l.Err)
	}
	wantAllow(t, "after an imported withdrawal older than the live grant", f.decide(sub, "ai-training", "voice", time.Time{}))
	if a, err := f.store.Asset(ctx, asset.ID); err != nil || a.Erased() {
		t.Fatalf("an older imported withdrawal erased the asset (%v)", err)
	}

	f.clock.Add(time.Hour)
	withdraw.Time = f.clock.Now().Add(-time.Minute)
	if l := f.importOne(&likeness.ImportRecord{ExternalID: "known", Jurisdiction: "EU-DE", Consents: []likeness.ImportedConsent{withdraw}}); l.Outcome != consent.ImportRecorded || l.NewSubject {
		t.Fatalf("newer withdrawal: %v %v (new subject %v)", l.Outcome, l.Err, l.NewSubject)
	}
	wantDeny(t, "after a newer imported withdrawal", f.decide(sub, "ai-training", "voice", time.Time{}), "withdrawn")
	if a, err := f.store.Asset(ctx, asset.ID); err != nil || !a.Erased() {
		t.Fatalf("the newer imported withdrawal left the asset (%v)", err)
	}
}

// A line about a person whose erasure has begun records nothing. Once the
// erasure is complete the person is forgotten, their external id included:
// a line naming that id is about a new person, and the erased one stays
// erased.
func TestImportAndErasure(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sha := f.noticeSHA("en")
	line := func(ext string) *likeness.ImportRecord {
		return &likeness.ImportRecord{ExternalID: ext, Jurisdiction: "EU-DE",
			Consents: []likeness.ImportedConsent{importedGrant("ai-training", t0.Add(-time.Hour), sha)}}
	}
	erasing := f.subject("erasing")
	if _, err := f.store.BeginErasure(ctx, erasing, t0); err != nil {
		t.Fatal(err)
	}
	before, _ := f.store.LedgerSize(ctx)
	if l := f.importOne(line("erasing")); l.Outcome != consent.ImportFailed || likeness.ErrorCode(l.Err) != likeness.EGONE {
		t.Fatalf("line about a person being erased: %v %v; want failed, gone", l.Outcome, l.Err)
	}
	if after, _ := f.store.LedgerSize(ctx); after != before {
		t.Fatalf("%d events recorded about a person being erased", after-before)
	}

	gone := f.subject("gone")
	f.grant(gone, "ai-training")
	if _, err := f.d.Erasure.EraseSubject(likeness.WithActor(ctx, likeness.Actor{KeyID: "test", Role: likeness.RoleAdmin}), gone); err != nil {
		t.Fatal(err)
	}
	l := f.importOne(line("gone"))
	if l.Outcome != consent.ImportRecorded || !l.NewSubject || l.Events[0].SubjectID == gone {
		t.Fatalf("line naming an erased person's external id: %v %v, new %v", l.Outcome, l.Err, l.NewSubject)
	}
	wantDeny(t, "the erased person", f.decide(gone, "ai-training", "voice", time.Time{}), "subject_erased")
}

// An import_id, not the bytes of the line, identifies a line that has one:
// the same id with the same content is skipped, with other content refused.
func TestImportIDIdentifiesALine(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	rec := &likeness.ImportRecord{ImportID: "crm-1", ExternalID: "p1", Jurisdiction: "EU-DE",
		Consents: []likeness.ImportedConsent{importedGrant("ai-training", t0.Add(-time.Hour), f.noticeSHA("en"))}}
	line := func(n int64, content string) *consent.ImportLine {
		d := sha256.Sum256([]byte(content))
		return &consent.ImportLine{Line: n, Digest: d, Key: consent.ImportKey(rec.ImportID, d), Record: rec}
	}
	first := []*consent.ImportLine{line(1, "v1"), line(2, "v1"), line(3, "v2")}
	if err := f.svc.Import(ctx, "imp_a", first); err != nil {
		t.Fatal(err)
	}
	if first[0].Outcome != consent.ImportRecorded || first[1].Outcome != consent.ImportDuplicate || first[1].SameAs != 1 ||
		likeness.ErrorCode(first[2].Err) != likeness.ECONFLICT {
		t.Fatalf("outcomes %v, %v (same as %d), %v (%v)", first[0].Outcome, first[1].Outcome, first[1].SameAs, first[2].Outcome, first[2].Err)
	}
	again := []*consent.ImportLine{line(7, "v1")}
	if err := f.svc.Import(ctx, "imp_b", again); err != nil {
		t.Fatal(err)
	}
	other := []*consent.ImportLine{line(8, "v2")}
	if err := f.svc.Import(ctx, "imp_c", other); err != nil {
		t.Fatal(err)
	}
	if again[0].Outcome != consent.ImportAlreadyDone || again[0].Previous.Line != 1 || again[0].Previous.Run != "imp_a" ||
		other[0].Err == nil || !strings.Contains(other[0].Err.Error(), "was imported on") {
		t.Fatalf("later runs: %v (%+v), %v", again[0].Outcome, again[0].Previous, other[0].Err)
	}
	if n, _ := f.store.LedgerSize(ctx); n != 1 {
		t.Fatalf("ledger holds %d events, want 1", n)
	}
}
