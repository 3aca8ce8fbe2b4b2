package jurisdiction

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"
)

func TestIllinoisBiometricDataNeedsAWrittenRelease(t *testing.T) {
	for _, tc := range []struct {
		code, category string
		want           bool
	}{
		{"US-IL", "voice", true},
		{"US-IL", "image", true},
		{"US-IL", "video", true},
		{"US-IL", "biometric_template", true},
		{"US-IL", "transcript", false},
		{"US-CA", "voice", false},
		{"EU-DE", "image", false},
		{"US", "image", false},
		{"not a code", "image", false},
	} {
		if got := WrittenReleaseRequired(tc.code, tc.category); got != tc.want {
			t.Errorf("WrittenReleaseRequired(%q, %q) = %t, want %t", tc.code, tc.category, got, tc.want)
		}
	}
}

func TestBIPADeadlineIsThreeYearsAfterTheLastInteraction(t *testing.T) {
	last := time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)
	if got, want := BIPADeadline(last), time.Date(2029, 2, 28, 12, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("BIPADeadline = %v, want %v", got, want)
	}
}

func TestOnlyCaliforniaOptsOutOfSaleByGPC(t *testing.T) {
	for code, want := range map[string]bool{"US-CA": true, "US-IL": false, "US": false, "EU-DE": false, "GB": false, "": false} {
		if got := OptOutOfSale(code); got != want {
			t.Errorf("OptOutOfSale(%q) = %t, want %t", code, got, want)
		}
	}
}

func TestAdequacyLists(t *testing.T) {
	for _, tc := range []struct {
		country string
		eu, gb  bool
	}{
		{"JP", true, true}, {"GB", true, false}, {"DE", false, true}, {"US", false, false}, {"BR", false, false},
	} {
		if got := EUAdequate(tc.country); got != tc.eu {
			t.Errorf("EUAdequate(%s) = %t", tc.country, got)
		}
		if got := GBAdequate(tc.country); got != tc.gb {
			t.Errorf("GBAdequate(%s) = %t", tc.country, got)
		}
	}
}

func TestScheduleTextComesFromTheTranslations(t *testing.T) {
	e := ScheduleEntry{Title: "Voice", Categories: []string{"voice recordings", "transcripts"}, Retention: "2 years", BIPALimit: "3 years"}
	want := "Voice: voice recordings, transcripts are destroyed at most 2 years after collection, at once on an erasure request (a withdrawal stops their use at once), and biometric data of people in Illinois no later than 3 years after their last interaction with us."
	if got := ScheduleText("en", e); got != want {
		t.Errorf("en:\n got %s\nwant %s", got, want)
	}
	if got := ScheduleText("fr", e); got != want {
		t.Errorf("a language without a file falls back to English; got %s", got)
	}
	e = ScheduleEntry{Title: "Stimme", Categories: []string{"Sprachaufnahmen"}, Retention: "2 Jahre", EraseOnWithdraw: true, BIPALimit: "3 Jahre"}
	want = "Stimme: Sprachaufnahmen werden höchstens 2 Jahre nach der Erhebung gelöscht, sofort nach Widerruf oder Löschantrag, und biometrische Daten von Personen in Illinois spätestens 3 Jahre nach dem letzten Kontakt."
	if got := ScheduleText("de", e); got != want {
		t.Errorf("de:\n got %s\nwant %s", got, want)
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
			t.Errorf("%s.json keys = %v, want %v", lang, got, en)
		}
	}
}
