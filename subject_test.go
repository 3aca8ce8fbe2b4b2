package likeness

import "testing"

func TestJurisdictionsAreRealPlaces(t *testing.T) {
	for s, ok := range map[string]bool{
		"EU-DE": true, "DE": true, "US-CA": true, "US-IL": true, "US": true, "GB": true, "UK": true, "JP": true, "BR": true,
		"US-DC": true, "US-PR": true,
		"QQ": false, "ZZ": false, "XA": false, "US-ZZ": false, "US-QQ": false, "EU-US": false, "de": false, "": false,
	} {
		_, err := ParseJurisdiction(s)
		if (err == nil) != ok {
			t.Errorf("ParseJurisdiction(%q): %v, want valid %v", s, err, ok)
		}
	}
}
