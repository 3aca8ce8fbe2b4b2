package likeness

import (
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Subject is a person whose voice or image the organization keeps. The
// organization's own user id never appears here in clear: only its keyed hash.
type Subject struct {
	ID           string `json:"id"`
	ExternalHash string `json:"-"`
	Locale       string `json:"locale"`
	Jurisdiction string `json:"jurisdiction"`
	Guardian     bool   `json:"guardian,omitempty"` // consent is given by a guardian (minor)
	// ContactHash is the keyed hash of the person's contact e-mail address
	// ("" if none is on file); the address itself is kept only sealed under
	// the subject's key, so erasure shreds it.
	ContactHash string    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	ErasedAt    time.Time `json:"erased_at,omitzero"`
}

// HasContact reports whether a contact address is on file.
func (s *Subject) HasContact() bool { return s.ContactHash != "" }

// Erased reports whether the subject has been erased.
func (s *Subject) Erased() bool { return !s.ErasedAt.IsZero() }

// Jurisdiction is a parsed jurisdiction code such as "EU-DE", "US-IL" or "GB".
type Jurisdiction struct {
	Regime  string // "EU" (GDPR), "GB" (UK GDPR), "US", or a country code
	Country string // ISO 3166-1 alpha-2
	Region  string // state or member state, e.g. "CA", "IL", "DE"
}

// euEEA lists the EU member states and the EEA countries that share GDPR.
var euEEA = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true,
	"EE": true, "FI": true, "FR": true, "DE": true, "GR": true, "HU": true, "IE": true,
	"IT": true, "LV": true, "LT": true, "LU": true, "MT": true, "NL": true, "PL": true,
	"PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true,
	"IS": true, "LI": true, "NO": true,
}

// IsEEA reports whether a country applies GDPR directly.
func IsEEA(country string) bool { return euEEA[country] }

func isUpper2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// ParseJurisdiction parses "EU-DE", "US-CA", "GB", "CH" and the like.
func ParseJurisdiction(s string) (Jurisdiction, error) {
	head, tail, hasTail := strings.Cut(s, "-")
	bad := Errorf(EINVALID, "jurisdiction %q is not valid: use a region and country such as EU-DE, US-CA, US-IL or a country code such as GB", s)
	switch {
	case head == "EU":
		if !hasTail || !euEEA[tail] {
			return Jurisdiction{}, bad
		}
		return Jurisdiction{Regime: "EU", Country: tail, Region: tail}, nil
	case head == "US":
		if hasTail && !usStates[tail] {
			return Jurisdiction{}, bad
		}
		return Jurisdiction{Regime: "US", Country: "US", Region: tail}, nil
	case head == "UK" || head == "GB":
		if hasTail {
			return Jurisdiction{}, bad
		}
		return Jurisdiction{Regime: "GB", Country: "GB"}, nil
	case isUpper2(head) && !hasTail:
		if !isCountry(head) {
			return Jurisdiction{}, bad
		}
		if euEEA[head] {
			return Jurisdiction{Regime: "EU", Country: head, Region: head}, nil
		}
		return Jurisdiction{Regime: head, Country: head}, nil
	}
	return Jurisdiction{}, bad
}

// isCountry reports whether code is an ISO 3166-1 country (golang.org/x/text's
// region table): not a private-use code such as QQ or ZZ, nor a grouping.
func isCountry(code string) bool {
	r, err := language.ParseRegion(code)
	return err == nil && r.IsCountry() && r.String() == code
}

// usStates are the subdivisions of the United States (ISO 3166-2:US): the
// states, the District of Columbia and the outlying territories.
var usStates = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Fields(`AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC AS GU MP PR UM VI`) {
		m[s] = true
	}
	return m
}()
