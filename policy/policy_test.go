package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// base is a small valid policy; error cases edit its lines, so the line
// numbers in the comments matter.
var base = []string{
	"organization:",                   // 1
	"  name: Acme",                    // 2
	"  country: DE",                   // 3
	"  contact: privacy@acme.example", // 4
	"languages: [en, de]",             // 5
	"purposes:",                       // 6
	"  p1:",                           // 7
	"    title: {en: T, de: T}",       // 8
	"    description: {en: D, de: D}", // 9
	"    data: [voice]",               // 10
	"    recipients: [r1]",            // 11
	"    retention: 90d",              // 12
	"recipients:",                     // 13
	"  r1: {name: R, country: DE}",    // 14
}

// edit replaces lines from..to (1-based, inclusive) of base with repl;
// to == from-1 inserts before from, and from == len(base)+1 appends.
func edit(from, to int, repl ...string) []byte {
	var out []string
	out = append(out, base[:from-1]...)
	out = append(out, repl...)
	out = append(out, base[to:]...)
	return []byte(strings.Join(out, "\n") + "\n")
}

func set(line int, repl ...string) []byte { return edit(line, line, repl...) }

func TestBaseIsValid(t *testing.T) {
	if _, err := Parse("likeness.yaml", edit(1, 0)); err != nil {
		t.Fatal(err)
	}
}

// TestParseReportsEachProblemWithLineAndField checks where each kind of
// mistake in a policy file is reported; its length is the table of cases.
func TestParseReportsEachProblemWithLineAndField(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		line  int
		field string
		msg   string // substring of the message
	}{
		{"unknown root field", edit(15, 14, "colour: blue"), 15, "colour", "unknown field"},
		{"unknown organization field", edit(4, 3, "  phone: 123"), 4, "organization.phone", "unknown field"},
		{"unknown purpose field", edit(13, 12, "    colour: red"), 13, "purposes.p1.colour", "unknown field"},
		{"unknown recipient field", set(14, "  r1: {name: R, country: DE, url: x}"), 14, "recipients.r1.url", "unknown field"},
		{"unknown anonymization field", edit(13, 12, "    anonymization: {faces: none, hair: blur}"), 13, "purposes.p1.anonymization.hair", "unknown field"},
		{"missing organization.name", edit(2, 2), 1, "organization.name", "required"},
		{"missing organization.contact", edit(4, 4), 1, "organization.contact", "required"},
		{"missing organization", edit(1, 4), 1, "organization", "required"},
		{"missing languages", edit(5, 5), 1, "languages", "required"},
		{"empty languages", set(5, "languages: []"), 5, "languages", "at least one"},
		{"unsupported language", set(5, "languages: [en, fr]"), 5, "languages[1]", `"fr" is not supported`},
		{"duplicate language", set(5, "languages: [en, en]"), 5, "languages[1]", "twice"},
		{"missing purposes", edit(6, 12), 1, "purposes", "required"},
		{"no purposes", edit(6, 12, "purposes: {}"), 6, "purposes", "at least one purpose"},
		{"missing title", edit(8, 8), 7, "purposes.p1.title", "required"},
		{"missing description", edit(9, 9), 7, "purposes.p1.description", "required"},
		{"missing data", edit(10, 10), 7, "purposes.p1.data", "required"},
		{"empty data", set(10, "    data: []"), 10, "purposes.p1.data", "at least one data category"},
		{"missing retention", edit(12, 12), 7, "purposes.p1.retention", "required"},
		{"title missing a language", set(8, "    title: {en: T}"), 8, "purposes.p1.title.de", `"de"`},
		{"description missing a language", set(9, "    description:", "      de: D"), 9, "purposes.p1.description.en", `"en"`},
		{"text in unlisted language", set(8, "    title: {en: T, de: T, fr: T}"), 8, "purposes.p1.title.fr", `"fr" is not in languages`},
		{"empty text", set(9, "    description:", "      en: D", "      de: ''"), 11, "purposes.p1.description.de", "empty"},
		{"unknown data category", set(10, "    data: [voice, smell]"), 10, "purposes.p1.data[1]", `unknown data category "smell"`},
		{"duplicate data category", set(10, "    data: [voice, voice]"), 10, "purposes.p1.data[1]", "twice"},
		{"unknown recipient", set(11, "    recipients: [r1, r2]"), 11, "purposes.p1.recipients[1]", `unknown recipient "r2"`},
		{"bad retention", set(12, "    retention: 3yrs"), 12, "purposes.p1.retention", `"3yrs" is not a duration (use 90d, 12mo or 3y)`},
		{"zero retention", set(12, "    retention: 0d"), 12, "purposes.p1.retention", "longer than 0"},
		{"bad renew_every", edit(13, 12, "    renew_every: soon"), 13, "purposes.p1.renew_every", `"soon" is not a duration`},
		{"bad sale_or_share", edit(13, 12, "    sale_or_share: yes"), 13, "purposes.p1.sale_or_share", "true or false"},
		{"bad on_withdraw", edit(13, 12, "    on_withdraw: forget"), 13, "purposes.p1.on_withdraw", `"forget" is not allowed`},
		{"on_withdraw stop", edit(13, 12, "    on_withdraw: stop"), 13, "purposes.p1.on_withdraw", `write on_withdraw: {keep: <basis>, reason: "…"}`},
		{"on_withdraw keep without basis", edit(13, 12, "    on_withdraw: keep"), 13, "purposes.p1.on_withdraw", "no legal basis"},
		{"keep without reason", edit(13, 12, "    on_withdraw: {keep: legal_obligation}"), 13, "purposes.p1.on_withdraw.reason", "needs a written reason"},
		{"keep with empty reason", edit(13, 12, "    on_withdraw:", "      keep: contract", "      reason: ''"), 15, "purposes.p1.on_withdraw.reason", "must not be empty"},
		{"keep on consent", edit(13, 12, "    on_withdraw: {keep: consent, reason: R}"), 13, "purposes.p1.on_withdraw.keep", `"consent" is not allowed`},
		{"reason without keep", edit(13, 12, "    on_withdraw: {reason: R}"), 13, "purposes.p1.on_withdraw.keep", "required"},
		{"bad faces", edit(13, 12, "    anonymization: {faces: pixelate}"), 13, "purposes.p1.anonymization.faces", `"pixelate"`},
		{"bad voice", edit(13, 12, "    anonymization:", "      voice: robot"), 14, "purposes.p1.anonymization.voice", `"robot"`},
		{"bad k", edit(13, 12, "    anonymization: {k: 1}"), 13, "purposes.p1.anonymization.k", "at least 2"},
		{"k not a number", edit(13, 12, "    anonymization: {k: many}"), 13, "purposes.p1.anonymization.k", "whole number"},
		{"none without reason", edit(13, 12, "    anonymization: none"), 13, "purposes.p1.anonymization", "needs a written reason"},
		{"voice none without reason", edit(13, 12, "    anonymization:", "      voice: none"), 13, "purposes.p1.anonymization", "needs a written reason"},
		{"empty reason", edit(13, 12, "    anonymization: {voice: none, reason: ''}"), 13, "purposes.p1.anonymization.reason", "must not be empty"},
		{"recipient without country", set(14, "  r1: {name: R}"), 14, "recipients.r1.country", "required"},
		{"recipient without name", set(14, "  r1: {country: DE}"), 14, "recipients.r1.name", "required"},
		{"lower-case country", set(14, "  r1: {name: R, country: de}"), 14, "recipients.r1.country", "not a country code"},
		{"three-letter country", set(14, "  r1: {name: R, country: DEU}"), 14, "recipients.r1.country", "not a country code"},
		{"organization country", set(3, "  country: Germany"), 3, "organization.country", "not a country code"},
		{"bad transfer", set(14, "  r1: {name: R, country: US, transfer: trust-us}"), 14, "recipients.r1.transfer", `"trust-us" is not allowed`},
		{"bad purpose id", set(7, "  P_1:"), 7, "purposes.P_1", "not a valid id"},
		{"purpose id too long", set(7, "  "+strings.Repeat("a", 64)+":"), 7, "purposes." + strings.Repeat("a", 64), "not a valid id"},
		{"bad recipient id", set(14, "  -r1: {name: R, country: DE}"), 14, "recipients.-r1", "not a valid id"},
		{"duplicate purpose field", edit(13, 12, "    retention: 1y"), 13, "purposes.p1.retention", "duplicate key (first at line 12)"},
		{"duplicate purpose id", edit(13, 12, "  p1:", "    title: {en: T, de: T}"), 13, "purposes.p1", "duplicate key (first at line 7)"},
		{"duplicate recipient id", edit(15, 14, "  r1: {name: R2, country: FR}"), 15, "recipients.r1", "duplicate key"},
		{"duplicate root key", edit(15, 14, "languages: [en]"), 15, "languages", "duplicate key (first at line 5)"},
		{"duplicate organization key", edit(3, 2, "  name: Other"), 3, "organization.name", "duplicate key"},
		{"bad embed origin", edit(15, 14, "embed_origins: [https://ok.example, 'ftp://x.example/path']"), 15, "embed_origins[1]", "not an origin"},
		{"organization not a mapping", edit(1, 4, "organization: Acme"), 1, "organization", "mapping"},
		{"data not a list", set(10, "    data: voice"), 10, "purposes.p1.data", "list"},
		{"not YAML", set(10, "    data: voice: x"), 10, "", "not valid YAML"},
		{"alias", edit(8, 9, "    title: &t {en: T, de: T}", "    description: *t"), 9, "", "aliases"},
		{"two documents", edit(15, 14, "---", "languages: [en]"), 15, "", "only one YAML document"},
		{"empty file", []byte("# nothing\n"), 1, "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("likeness.yaml", tt.data)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a *ValidationError\n%s", err, tt.data)
			}
			for _, p := range ve.Problems {
				if p.File == "likeness.yaml" && p.Line == tt.line && p.Field == tt.field && strings.Contains(p.Message, tt.msg) {
					return
				}
			}
			t.Errorf("no problem at line %d, field %q, with %q; got:\n%v", tt.line, tt.field, tt.msg, err)
		})
	}
}

func TestValidationErrorNamesFileLineAndField(t *testing.T) {
	_, err := Parse("likeness.yaml", set(12, "    retention: 3yrs"))
	want := `likeness.yaml:12: purposes.p1.retention: "3yrs" is not a duration (use 90d, 12mo or 3y)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}

func TestParseReportsAllProblemsInLineOrder(t *testing.T) {
	data := edit(10, 14,
		"    data: [smell]",             // 10
		"    recipients: [nobody]",      // 11
		"    retention: forever",        // 12
		"recipients:",                   // 13
		"  r1: {name: R, country: usa}", // 14
		"colour: blue",                  // 15
	)
	_, err := Parse("likeness.yaml", data)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse = %v, want a *ValidationError", err)
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Field)
	}
	want := []string{"purposes.p1.data[0]", "purposes.p1.recipients[0]", "purposes.p1.retention", "recipients.r1.country", "colour"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem fields (-want +got):\n%s", diff)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(want) {
		t.Errorf("Error() has %d lines, want %d:\n%s", n, len(want), err)
	}
}

func TestExampleParses(t *testing.T) {
	p, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Organization{Name: "Acme Portraits GmbH", Country: "DE", Contact: "privacy@acme.example", DPO: "dpo@acme.example"}, p.Organization); diff != "" {
		t.Errorf("organization (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"en", "de"}, p.Languages); diff != "" {
		t.Errorf("languages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ai-training", "marketing-personalization", "voice-transcription"}, p.PurposeIDs); diff != "" {
		t.Errorf("purpose ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"acme-ml", "acme-marketing", "acme-support", "gpu-cloud-us", "adpartner-us"}, p.RecipientIDs); diff != "" {
		t.Errorf("recipient ids (-want +got):\n%s", diff)
	}
	ai, ok := p.Purpose("ai-training")
	if !ok {
		t.Fatal("no ai-training purpose")
	}
	want := &Purpose{
		ID: "ai-training",
		Title: map[string]string{
			"en": "Train our portrait and voice AI models",
			"de": "Training unserer Porträt- und Stimm-KI-Modelle",
		},
		Description: ai.Description,
		Data:        []string{"image", "voice", "biometric_template"},
		Recipients:  []string{"acme-ml", "gpu-cloud-us"},
		Retention:   Duration{Years: 3},
		RenewEvery:  Duration{Months: 12},
		OnWithdraw:  "erase",
	}
	if diff := cmp.Diff(want, ai); diff != "" {
		t.Errorf("ai-training (-want +got):\n%s", diff)
	}
	if mk, _ := p.Purpose("marketing-personalization"); !mk.SaleOrShare {
		t.Error("marketing-personalization: SaleOrShare = false, want true")
	}
	if r, _ := p.Recipient("gpu-cloud-us"); *r != (Recipient{ID: "gpu-cloud-us", Name: "Example GPU Cloud Inc.", Country: "US", Transfer: "scc"}) {
		t.Errorf("gpu-cloud-us = %+v", r)
	}
	if _, ok := p.Recipient("nobody"); ok {
		t.Error("Recipient(nobody) found")
	}
	if p.Name != "testdata/example.yaml" || len(p.Source) == 0 {
		t.Errorf("Name = %q, len(Source) = %d", p.Name, len(p.Source))
	}
	if !p.HasLanguage("de") || p.HasLanguage("fr") {
		t.Error("HasLanguage wrong")
	}
}

func TestLoadErrorNamesThePath(t *testing.T) {
	_, err := Load("testdata/missing.yaml")
	if err == nil || !strings.Contains(err.Error(), "testdata/missing.yaml") {
		t.Errorf("Load = %v", err)
	}
}

func TestDefaultParsesAndRendersInEnglishAndGerman(t *testing.T) {
	p := Default()
	if p.Name != "default" || p.Organization.Name != "Example Organization" {
		t.Errorf("Default() = %q, %q", p.Name, p.Organization.Name)
	}
	if diff := cmp.Diff([]string{"en", "de"}, p.Languages); diff != "" {
		t.Errorf("languages (-want +got):\n%s", diff)
	}
	for _, lang := range []string{"en", "de"} {
		n, err := p.Notice(lang)
		if err != nil {
			t.Fatal(err)
		}
		if n.Language != lang || len(n.Purposes) != len(p.PurposeIDs) || len(n.Rights) == 0 || n.Text == "" {
			t.Errorf("Notice(%s) incomplete: %+v", lang, n)
		}
		for _, np := range n.Purposes {
			if np.Title == "" || np.Description == "" || np.Retention == "" || np.Material != p.Material(np.ID) {
				t.Errorf("Notice(%s) purpose %s incomplete: %+v", lang, np.ID, np)
			}
		}
	}
}

func TestNoticeIsInTheRequestedLanguage(t *testing.T) {
	p, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	en, err := p.Notice("en")
	if err != nil {
		t.Fatal(err)
	}
	de, err := p.Notice("de")
	if err != nil {
		t.Fatal(err)
	}
	if en.Text == de.Text || en.SHA256 == de.SHA256 {
		t.Fatal("en and de notices are the same")
	}
	for _, s := range []string{"Your rights", "3 years", "12 months", "90 days", "United States (US)", "standard contractual clauses", "Global Privacy Control", "dpo@acme.example", "Train our portrait and voice AI models"} {
		if !strings.Contains(en.Text, s) {
			t.Errorf("en text lacks %q", s)
		}
	}
	for _, s := range []string{"Ihre Rechte", "3 Jahre", "12 Monate", "90 Tage", "Vereinigte Staaten (US)", "Standardvertragsklauseln", "Training unserer Porträt- und Stimm-KI-Modelle", "So widerrufen Sie"} {
		if !strings.Contains(de.Text, s) {
			t.Errorf("de text lacks %q", s)
		}
	}
	for _, s := range []string{"Your rights", "How long", "Who receives", " years"} {
		if strings.Contains(de.Text, s) {
			t.Errorf("de text contains English %q", s)
		}
	}
	if en.Purposes[0].Retention != "3 years" || de.Purposes[0].Retention != "3 Jahre" || de.Purposes[2].RenewEvery != "" {
		t.Errorf("retention/renewal: %+v / %+v", en.Purposes[0], de.Purposes[2])
	}
}

func TestNoticeSameInputSameHash(t *testing.T) {
	data := edit(1, 0)
	var first *Notice
	for range 3 {
		p, err := Parse("likeness.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		n, err := p.Notice("de")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(n.Text))
		if n.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("SHA256 %s is not the hash of Text", n.SHA256)
		}
		if first == nil {
			first = n
			continue
		}
		if diff := cmp.Diff(first, n); diff != "" {
			t.Errorf("second rendering differs (-first +again):\n%s", diff)
		}
	}
	if first.Version != 0 {
		t.Errorf("Version = %d, want 0", first.Version)
	}
}

func TestNoticeDefaultsToFirstLanguageAndRejectsOthers(t *testing.T) {
	p := Default()
	n, err := p.Notice("")
	if err != nil || n.Language != "en" {
		t.Errorf("Notice(\"\") = %v, %v", n, err)
	}
	if _, err := p.Notice("fr"); !errors.Is(err, ErrUnknownLanguage) {
		t.Errorf("Notice(fr) = %v, want ErrUnknownLanguage", err)
	}
}

func TestNoticeJSONUsesSnakeCase(t *testing.T) {
	n, err := Default().Notice("en")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"sha256":`, `"organization":{"name":`, `"renew_every":"12 months"`, `"sale_or_share":false`, `"material":"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s", k)
		}
	}
}

func TestMaterialChangesOnlyWithSubstance(t *testing.T) {
	material := func(t *testing.T, data []byte) string {
		t.Helper()
		p, err := Parse("likeness.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		return p.Material("p1")
	}
	orig := material(t, edit(1, 0))
	if len(orig) != 64 {
		t.Fatalf("Material = %q, want 64 hex digits", orig)
	}
	tests := []struct {
		name    string
		data    []byte
		changed bool
	}{
		{"title reworded", set(8, "    title: {en: Other words, de: Andere Worte}"), false},
		{"description reworded", set(9, "    description: {en: X, de: Y}"), false},
		{"recipient renamed", set(14, "  r1: {name: Renamed, country: DE}"), false},
		{"categories reordered", set(10, "    data: [transcript, voice]"), true},
		{"retention as weeks", set(12, "    retention: 2w"), true},
		{"renewal added", edit(13, 12, "    renew_every: 6mo"), false},
		{"category added", set(10, "    data: [voice, transcript]"), true},
		{"recipient added", edit(11, 14, "    recipients: [r1, r2]", "    retention: 90d", "recipients:", "  r1: {name: R, country: DE}", "  r2: {name: R2, country: DE}"), true},
		{"recipient country changed", set(14, "  r1: {name: R, country: US, transfer: scc}"), true},
		{"transfer changed", set(14, "  r1: {name: R, country: DE, transfer: bcr}"), true},
		{"retention longer", set(12, "    retention: 91d"), true},
		{"sale_or_share", edit(13, 12, "    sale_or_share: true"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := material(t, tt.data)
			if (got != orig) != tt.changed {
				t.Errorf("Material changed = %v, want %v", got != orig, tt.changed)
			}
		})
	}
	// Reordering the same categories is not a change.
	a := material(t, set(10, "    data: [voice, transcript]"))
	b := material(t, set(10, "    data: [transcript, voice]"))
	if a != b {
		t.Error("Material depends on the order of data categories")
	}
	p, _ := Parse("likeness.yaml", edit(1, 0))
	if p.Material("nope") != "" {
		t.Error("Material of an unknown purpose is not empty")
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in     string
		want   Duration
		str    string
		en, de string
		approx time.Duration
	}{
		{"90d", Duration{Days: 90}, "90d", "90 days", "90 Tage", 90 * 24 * time.Hour},
		{"1d", Duration{Days: 1}, "1d", "1 day", "1 Tag", 24 * time.Hour},
		{"6w", Duration{Days: 42}, "42d", "42 days", "42 Tage", 42 * 24 * time.Hour},
		{"12mo", Duration{Months: 12}, "12mo", "12 months", "12 Monate", 360 * 24 * time.Hour},
		{"1mo", Duration{Months: 1}, "1mo", "1 month", "1 Monat", 30 * 24 * time.Hour},
		{"3y", Duration{Years: 3}, "3y", "3 years", "3 Jahre", 3 * 365 * 24 * time.Hour},
		{"1y", Duration{Years: 1}, "1y", "1 year", "1 Jahr", 365 * 24 * time.Hour},
		{"1y6mo", Duration{Years: 1, Months: 6}, "1y6mo", "1 year and 6 months", "1 Jahr und 6 Monate", 545 * 24 * time.Hour},
		{"1y2mo3d", Duration{1, 2, 3}, "1y2mo3d", "1 year, 2 months and 3 days", "1 Jahr, 2 Monate und 3 Tage", 428 * 24 * time.Hour},
		{"0d", Duration{}, "0d", "0 days", "0 Tage", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDuration(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d != tt.want {
				t.Errorf("ParseDuration = %+v, want %+v", d, tt.want)
			}
			if got := d.String(); got != tt.str {
				t.Errorf("String = %q, want %q", got, tt.str)
			}
			if again, err := ParseDuration(d.String()); err != nil || again != d {
				t.Errorf("String does not round-trip: %+v, %v", again, err)
			}
			if got := d.Human("en"); got != tt.en {
				t.Errorf("Human(en) = %q, want %q", got, tt.en)
			}
			if got := d.Human("de"); got != tt.de {
				t.Errorf("Human(de) = %q, want %q", got, tt.de)
			}
			if got := d.Approx(); got != tt.approx {
				t.Errorf("Approx = %v, want %v", got, tt.approx)
			}
			if d.IsZero() != (tt.want == Duration{}) {
				t.Errorf("IsZero = %v", d.IsZero())
			}
		})
	}
}

func TestParseDurationRejects(t *testing.T) {
	for _, s := range []string{"", "3yrs", "3", "d", "-3d", "3 d", "3D", "1.5y", "3h", "90s", "1d1y", "1y1y", "6mo1y", "201y", "9999999d"} {
		if d, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %+v, want an error", s, d)
		}
	}
}

func TestDurationAddTo(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }
	tests := []struct {
		d    string
		from time.Time
		want time.Time
	}{
		{"12mo", day(2026, 1, 31), day(2027, 1, 31)},
		{"1mo", day(2026, 1, 31), day(2026, 3, 3)}, // time.AddDate normalisation
		{"1y", day(2024, 2, 29), day(2025, 3, 1)},
		{"3y", day(2026, 6, 15), day(2029, 6, 15)},
		{"90d", day(2026, 1, 1), day(2026, 4, 1)},
		{"6w", day(2026, 1, 1), day(2026, 2, 12)},
	}
	for _, tt := range tests {
		d, err := ParseDuration(tt.d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AddTo(tt.from); !got.Equal(tt.want) {
			t.Errorf("%s from %s = %s, want %s", tt.d, tt.from.Format(time.DateOnly), got.Format(time.DateOnly), tt.want.Format(time.DateOnly))
		}
	}
}

func TestDurationEncodings(t *testing.T) {
	type wrap struct {
		D Duration `json:"d" yaml:"d"`
	}
	b, err := json.Marshal(wrap{Duration{Months: 12}})
	if err != nil || string(b) != `{"d":"12mo"}` {
		t.Errorf("json.Marshal = %s, %v", b, err)
	}
	var w wrap
	if err := json.Unmarshal([]byte(`{"d":"6w"}`), &w); err != nil || w.D != (Duration{Days: 42}) {
		t.Errorf("json.Unmarshal = %+v, %v", w, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"3yrs"}`), &w); err == nil {
		t.Error("json.Unmarshal accepted 3yrs")
	}
	if err := json.Unmarshal([]byte(`{"d":90}`), &w); err == nil {
		t.Error("json.Unmarshal accepted a number")
	}
	if err := yaml.Unmarshal([]byte("d: 3y\n"), &w); err != nil || w.D != (Duration{Years: 3}) {
		t.Errorf("yaml.Unmarshal = %+v, %v", w, err)
	}
	if err := yaml.Unmarshal([]byte("d: 3yrs\n"), &w); err == nil {
		t.Error("yaml.Unmarshal accepted 3yrs")
	}
	y, err := yaml.Marshal(wrap{Duration{Days: 90}})
	if err != nil || string(y) != "d: 90d\n" {
		t.Errorf("yaml.Marshal = %q, %v", y, err)
	}
}

func TestIsCategory(t *testing.T) {
	for _, c := range Categories {
		if !IsCategory(c) {
			t.Errorf("IsCategory(%q) = false", c)
		}
		if CategoryLabel(c, "de") == c || CategoryLabel(c, "en") == c {
			t.Errorf("no label for %q", c)
		}
	}
	if IsCategory("smell") || IsCategory("") {
		t.Error("IsCategory accepts unknown categories")
	}
}

func TestEmbedOriginsAreNormalised(t *testing.T) {
	p, err := Parse("likeness.yaml", edit(15, 14, "embed_origins: [HTTPS://App.Example.com/, 'http://localhost:8080', 'https://*.example.org']"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://app.example.com", "http://localhost:8080", "https://*.example.org"}
	if diff := cmp.Diff(want, p.EmbedOrigins); diff != "" {
		t.Errorf("embed origins (-want +got):\n%s", diff)
	}
}

func TestAnonymizationDefaults(t *testing.T) {
	p, err := Parse("likeness.yaml", edit(13, 12, "    on_withdraw: erase", "    anonymization: {faces: blur_all}"))
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := p.Purpose("p1")
	// Omitted fields take the safe defaults: the voice is still disguised.
	if diff := cmp.Diff(&Anonymization{Faces: "blur_all", Voice: "mcadams", K: 5}, pu.Anonymization); diff != "" {
		t.Errorf("anonymization (-want +got):\n%s", diff)
	}
	if pu.OnWithdraw != "erase" {
		t.Errorf("OnWithdraw = %q", pu.OnWithdraw)
	}
}

func TestUndeclaredAnonymizationIsTheSafeDefaultAndNoneNeedsAReason(t *testing.T) {
	p, err := Parse("likeness.yaml", edit(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := p.Purpose("p1")
	if got := pu.AnonymizationOrDefault(); got != DefaultAnonymization() || got.Voice != "mcadams" || got.Faces != "blur_all" {
		t.Errorf("undeclared anonymization = %+v, want the safe default", got)
	}
	p, err = Parse("likeness.yaml", edit(13, 12, "    anonymization: {faces: none, voice: none, reason: Voice cloning needs the voice as it is.}"))
	if err != nil {
		t.Fatal(err)
	}
	pu, _ = p.Purpose("p1")
	if a := pu.AnonymizationOrDefault(); a.Voice != "none" || a.Reason != "Voice cloning needs the voice as it is." {
		t.Errorf("declared none = %+v", a)
	}
	for _, lang := range []string{"en", "de"} {
		n, err := p.Notice(lang)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(n.Text, "Voice cloning needs the voice as it is.") {
			t.Errorf("%s notice does not give the reason for no anonymization:\n%s", lang, n.Text)
		}
	}
	// A none that touches nothing the purpose collects needs no reason.
	if _, err := Parse("likeness.yaml", edit(13, 12, "    anonymization: {faces: none}")); err != nil {
		t.Errorf("faces: none on a voice-only purpose: %v", err)
	}
}

func TestWithdrawalErasesUnlessAKeepIsDeclaredWithBasisAndReason(t *testing.T) {
	p, err := Parse("likeness.yaml", edit(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := p.Purpose("p1")
	if !pu.ErasesOnWithdraw() || pu.OnWithdraw != WithdrawErase {
		t.Errorf("undeclared on_withdraw = %q, want erase", pu.OnWithdraw)
	}
	erasing := p.Material("p1")
	const reason = "Tax law requires us to keep recorded orders for 10 years."
	p, err = Parse("likeness.yaml", edit(13, 12, "    on_withdraw: {keep: legal_obligation, reason: "+reason+"}"))
	if err != nil {
		t.Fatal(err)
	}
	pu, _ = p.Purpose("p1")
	if pu.ErasesOnWithdraw() || pu.KeepBasis != "legal_obligation" || pu.KeepReason != reason {
		t.Errorf("declared keep = %+v", pu)
	}
	if p.Material("p1") == erasing {
		t.Error("keeping data after a withdrawal does not change the material fingerprint")
	}
	for lang, basis := range map[string]string{"en": "a legal obligation (GDPR Art. 6(1)(c))", "de": "Art. 6 Abs. 1 lit. c DSGVO"} {
		n, err := p.Notice(lang)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(n.Text, basis) || !strings.Contains(n.Text, reason) || n.Purposes[0].OnWithdraw != WithdrawKeep ||
			!strings.Contains(n.Purposes[0].OnWithdrawText, reason) {
			t.Errorf("%s notice does not say why the data is kept:\n%s", lang, n.Text)
		}
	}
	n, err := Example().Notice("en")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(n.Text, "erase the recordings and photos collected for it") || strings.Contains(n.Text, "We keep what was already collected") {
		t.Errorf("the example notice does not say a withdrawal erases:\n%s", n.Text)
	}
}
