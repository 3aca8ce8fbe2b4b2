package decision

import "likeness"

// Transfer rules. Data may go where the subject's own law reaches: any EEA
// country for an EU subject, the subject's own country otherwise. Beyond
// that:
//
//   - A recipient declaring transfer "none" receives nothing abroad.
//   - EU (GDPR) and GB (UK GDPR) subjects: the destination needs an adequacy
//     decision, or the recipient must declare standard contractual clauses
//     ("scc") or binding corporate rules ("bcr"). The United States count as
//     adequate only for a recipient certified under the Data Privacy
//     Framework ("dpf"). A country named with no recipient needs adequacy.
//   - US subjects: CCPA and BIPA set no transfer rule, so only "none" denies.
//   - Any other regime (e.g. a CH or BR subject): we do not model its law, so
//     we apply the GDPR rule with the EU adequacy list. This is deliberately
//     conservative: it may deny a transfer that law allows, never the reverse.
//   - A subject whose jurisdiction did not parse: any transfer denies.

type regime uint8

const (
	regimeUnknown regime = iota
	regimeEU
	regimeGB
	regimeUS
	regimeOther
)

// jurisdiction is likeness.Jurisdiction in 5 bytes.
type jurisdiction struct {
	regime  regime
	country [2]byte
	region  [2]byte
}

func parseJurisdiction(s string) jurisdiction {
	j, err := likeness.ParseJurisdiction(s)
	if err != nil || len(j.Country) != 2 {
		return jurisdiction{}
	}
	var c jurisdiction
	switch j.Regime {
	case "EU":
		c.regime = regimeEU
	case "GB":
		c.regime = regimeGB
	case "US":
		c.regime = regimeUS
	default:
		c.regime = regimeOther
	}
	copy(c.country[:], j.Country)
	if len(j.Region) == 2 {
		copy(c.region[:], j.Region)
	}
	return c
}

// needsWrittenRelease reports whether Illinois' BIPA applies.
func (j jurisdiction) needsWrittenRelease() bool {
	return j.regime == regimeUS && j.region == [2]byte{'I', 'L'}
}

// sameArea reports whether data in country dest stays under the subject's law.
func (j jurisdiction) sameArea(dest string) bool {
	if j.regime == regimeEU {
		return likeness.IsEEA(dest)
	}
	return len(dest) == 2 && dest[0] == j.country[0] && dest[1] == j.country[1]
}

// transferAllowed reports whether the subject's data may go to country dest
// ("" = no transfer) through a recipient with the given transfer mechanism;
// declared is false when no declared recipient is involved.
func (j jurisdiction) transferAllowed(dest, transfer string, declared bool) bool {
	if dest == "" {
		return true
	}
	if j.regime == regimeUnknown {
		return false
	}
	if j.sameArea(dest) {
		return true
	}
	if declared && transfer == "none" {
		return false
	}
	if j.regime == regimeUS {
		return true
	}
	adequate := euAdequate
	if j.regime == regimeGB {
		adequate = gbAdequate
	}
	if adequate(dest) {
		return true
	}
	if !declared {
		return false
	}
	switch transfer {
	case "scc", "bcr":
		return true
	case "dpf":
		return dest == "US"
	}
	return false
}

// euAdequate lists the countries with an EU adequacy decision (the United
// States only through the Data Privacy Framework, handled by the caller).
func euAdequate(c string) bool {
	switch c {
	case "AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB", "UY":
		return true
	}
	return false
}

// gbAdequate lists the destinations UK GDPR deems adequate: the EEA and the
// EU's list (with the EU in place of the UK).
func gbAdequate(c string) bool {
	switch c {
	case "AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "UY":
		return true
	}
	return likeness.IsEEA(c)
}
