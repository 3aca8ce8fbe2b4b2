package records

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"likeness/internal/jurisdiction"
	"likeness/policy"
)

// testdata/likeness.yaml is a copy of the example policy in the project's
// shared examples, which live outside the repository.
func loadExample(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Load("testdata/likeness.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type fixedCounts struct {
	subjects         int64
	consents, assets map[string]int64
}

func (f fixedCounts) ProcessingCounts(context.Context) (int64, map[string]int64, map[string]int64, error) {
	return f.subjects, f.consents, f.assets, nil
}

var clock = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func newBuilder(t *testing.T, p *policy.Policy) *Builder {
	t.Helper()
	return New(func() *policy.Policy { return p }, fixedCounts{subjects: 7,
		consents: map[string]int64{"ai-training": 4, "voice-transcription": 2},
		assets:   map[string]int64{"image": 11, "voice": 3}}, clock)
}

func TestRecordListsEveryPurposeRecipientAndTransferBasis(t *testing.T) {
	p := loadExample(t)
	rec, err := newBuilder(t, p).Processing(context.Background(), "en")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Controller.Name != p.Organization.Name || rec.Controller.Contact != p.Organization.Contact || rec.Controller.DPO != p.Organization.DPO {
		t.Errorf("controller = %+v, want the policy's organization %+v", rec.Controller, p.Organization)
	}
	if rec.Subjects != 7 {
		t.Errorf("data subjects = %d, want 7", rec.Subjects)
	}
	var purposes []string
	for _, a := range rec.Activities {
		purposes = append(purposes, a.Purpose)
		pu := p.Purposes[a.Purpose]
		if a.Title != pu.Title["en"] || a.Description != pu.Description["en"] {
			t.Errorf("%s: title/description %q/%q, want the policy's", a.Purpose, a.Title, a.Description)
		}
		var cats, recips []string
		for _, c := range a.Categories {
			cats = append(cats, c.ID)
			if c.Biometric != jurisdiction.Biometric(c.ID) {
				t.Errorf("%s: category %s biometric = %t", a.Purpose, c.ID, c.Biometric)
			}
		}
		for _, r := range a.Recipients {
			recips = append(recips, r.ID)
		}
		if !slices.Equal(cats, pu.Data) || !slices.Equal(recips, pu.Recipients) {
			t.Errorf("%s: categories %v recipients %v, want %v %v", a.Purpose, cats, recips, pu.Data, pu.Recipients)
		}
		if a.Retention != pu.Retention.String() || !strings.Contains(a.ErasureLimit, pu.Retention.Human("en")) {
			t.Errorf("%s: retention %q / %q, want %s", a.Purpose, a.Retention, a.ErasureLimit, pu.Retention)
		}
	}
	if !slices.Equal(purposes, p.PurposeIDs) {
		t.Errorf("purposes %v, want %v", purposes, p.PurposeIDs)
	}
	if got := rec.Activities[0].Consents; got != 4 {
		t.Errorf("active consents of %s = %d, want 4", rec.Activities[0].Purpose, got)
	}
	var recipients []string
	for _, r := range rec.Recipients {
		recipients = append(recipients, r.ID)
		want := p.Recipients[r.ID]
		if r.Name != want.Name || r.Country != want.Country || r.Transfer != want.Transfer || r.Basis == "" {
			t.Errorf("recipient %+v, want %+v with a basis", r, want)
		}
		if r.ThirdCountry != (r.Country != "DE") {
			t.Errorf("recipient %s third country = %t", r.ID, r.ThirdCountry)
		}
	}
	if !slices.Equal(recipients, p.RecipientIDs) {
		t.Errorf("recipients %v, want %v", recipients, p.RecipientIDs)
	}
	if len(rec.Measures) != len(measureIDs) {
		t.Errorf("%d security measures, want %d", len(rec.Measures), len(measureIDs))
	}
}

func TestTransferBasisNamesTheMechanism(t *testing.T) {
	p := loadExample(t)
	rec, err := newBuilder(t, p).Processing(context.Background(), "en")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"gpu-cloud-us": "Standard contractual clauses", "adpartner-us": "No transfer safeguard", "acme-ml": "EEA"}
	for _, r := range rec.Recipients {
		if w, ok := want[r.ID]; ok && !strings.Contains(r.Basis, w) {
			t.Errorf("%s basis %q, want it to name %q", r.ID, r.Basis, w)
		}
	}
}

func TestDPIADraftExistsExactlyForBiometricPurposes(t *testing.T) {
	p := loadExample(t)
	d, err := newBuilder(t, p).DPIA(context.Background(), "en")
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, id := range p.PurposeIDs {
		if slices.ContainsFunc(p.Purposes[id].Data, jurisdiction.Biometric) {
			want = append(want, id)
		}
	}
	for _, a := range d.Assessments {
		got = append(got, a.Purpose)
		if len(a.Completion) == 0 {
			t.Errorf("%s: no fields to complete", a.Purpose)
		}
		for _, f := range a.Completion {
			if !f.Open || f.Answer != "" || f.Status != ToBeCompleted {
				t.Errorf("%s: completion field %+v is not marked %q", a.Purpose, f, ToBeCompleted)
			}
		}
	}
	if !slices.Equal(got, want) || len(got) == 0 {
		t.Fatalf("drafts for %v, want %v", got, want)
	}
	risks := map[string]bool{}
	for _, r := range d.Assessments[0].Risks {
		risks[r.ID] = true
	}
	// ai-training sends images to a US cloud and keeps them three years.
	for _, id := range []string{"biometric", "transfer", "retention", "recipients"} {
		if !risks[id] {
			t.Errorf("ai-training risks %v lack %s", slices.Sorted(maps.Keys(risks)), id)
		}
	}
}

func TestRecordIsGermanWhenAsked(t *testing.T) {
	p := loadExample(t)
	rec, err := newBuilder(t, p).Processing(context.Background(), "de")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Language != "de" || rec.Activities[0].Title != p.Purposes["ai-training"].Title["de"] || !strings.Contains(rec.Activities[0].LegalBasis, "Einwilligung") {
		t.Errorf("German record: %s %q %q", rec.Language, rec.Activities[0].Title, rec.Activities[0].LegalBasis)
	}
	if rec, _ := newBuilder(t, p).Processing(context.Background(), "fr"); rec.Language != "en" {
		t.Errorf("a language the policy does not offer gives %s, want the policy's first", rec.Language)
	}
}

func TestRecordMarshalsToJSON(t *testing.T) {
	d, err := newBuilder(t, loadExample(t)).DPIA(context.Background(), "en")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"assessments"`, `"to_be_completed":true`, `"status":"to be completed"`, `"transfer":"scc"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("DPIA JSON lacks %s", key)
		}
	}
}

func TestEveryTranslationHasEveryKey(t *testing.T) {
	keys := func(lang string) []string {
		b, err := files.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(maps.Keys(m))
	}
	en := keys("en")
	for _, lang := range texts.Codes() {
		if got := keys(lang); !slices.Equal(got, en) {
			t.Errorf("%s.json keys differ from en.json", lang)
		}
	}
}
