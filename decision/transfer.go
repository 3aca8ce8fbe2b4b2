package decision

import (
	"likeness"
	law "likeness/internal/jurisdiction"
)

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

// jurisdiction is likeness.Jurisdiction in 4 bytes: the regime and country
// the transfer rules need, and the rules of package jurisdiction that turn
// on the region, resolved once when the subject is put.
type jurisdiction struct {
	regime  regime
	country [2]byte
	bipa    bool // Illinois: biometric data needs a written release
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
	c.bipa = law.BIPA(j)
	return c
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
	if declared && transfer == law.TransferNone {
		return false
	}
	if j.regime == regimeUS {
		return true
	}
	adequate := law.EUAdequate
	if j.regime == regimeGB {
		adequate = law.GBAdequate
	}
	if adequate(dest) {
		return true
	}
	if !declared {
		return false
	}
	switch transfer {
	case law.TransferSCC, law.TransferBCR:
		return true
	case law.TransferDPF:
		return dest == "US"
	}
	return false
}
