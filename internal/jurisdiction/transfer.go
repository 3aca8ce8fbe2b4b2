package jurisdiction

import "likeness"

// Transfer bases a recipient abroad may declare in the policy (its
// "transfer" field). An empty basis means the recipient declares none, and
// GDPR then needs an adequacy decision for its country.
const (
	TransferSCC  = "scc"  // standard contractual clauses (GDPR Art. 46(2)(c))
	TransferBCR  = "bcr"  // binding corporate rules (GDPR Art. 47)
	TransferDPF  = "dpf"  // EU-U.S. Data Privacy Framework, United States only
	TransferNone = "none" // no basis: the recipient receives nothing abroad
)

// TransferBases lists every basis a policy may declare, "" (none declared)
// first.
var TransferBases = []string{"", TransferSCC, TransferBCR, TransferDPF, TransferNone}

// EUAdequate reports whether the EU Commission has an adequacy decision for
// country (GDPR Art. 45). The United States count only through the Data
// Privacy Framework, which a recipient declares as TransferDPF.
func EUAdequate(country string) bool {
	switch country {
	case "AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB", "UY":
		return true
	}
	return false
}

// GBAdequate reports whether UK GDPR deems country adequate: the EEA and
// the EU's list, with the EU in place of the UK.
func GBAdequate(country string) bool {
	if country != "GB" && EUAdequate(country) {
		return true
	}
	return likeness.IsEEA(country)
}
