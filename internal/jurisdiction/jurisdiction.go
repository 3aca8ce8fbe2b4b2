// Package jurisdiction holds the rules of law that turn on where a person
// lives: which data categories are biometric and how long Illinois (BIPA)
// lets them be kept, who may opt out of sale or sharing and honours Global
// Privacy Control (California), which destinations and transfer bases
// GDPR and UK GDPR accept, and the text of the public retention schedule.
// Every package that applies one of these rules reads it from here, so a
// change in the law is a change in one place.
//
// It lives under internal/ although the public package decision imports
// it: Go lets any package of the module import it, and a program that
// imports decision still builds, while the rules themselves stay free to
// change shape. It imports only the root package and the standard library
// (plus the translation loader), so policy and decision can both use it.
package jurisdiction

import (
	"time"

	"likeness"
)

// BiometricCategories are the policy's data categories that are biometric
// identifiers or information under BIPA (740 ILCS 14/10): faces and voices
// and what is derived from them. A transcript is not.
var BiometricCategories = []string{"image", "voice", "video", "biometric_template"}

// Biometric reports whether category is biometric data under BIPA. It does
// not allocate, so the decision engine may call it on every request.
func Biometric(category string) bool {
	for _, c := range BiometricCategories {
		if c == category {
			return true
		}
	}
	return false
}

// BIPAYears is how long after the last interaction biometric data of an
// Illinois subject may be kept at most (740 ILCS 14/15(a)).
const BIPAYears = 3

// BIPADeadline is the latest time biometric data of an Illinois subject may
// be kept when last is the last interaction.
func BIPADeadline(last time.Time) time.Time { return last.AddDate(BIPAYears, 0, 0) }

// BIPA reports whether Illinois' Biometric Information Privacy Act protects
// the subject: biometric data needs a written release before collection or
// use, and is destroyed within BIPAYears of the last interaction.
func BIPA(j likeness.Jurisdiction) bool { return j.Country == "US" && j.Region == "IL" }

// BIPACode is BIPA for a jurisdiction code as stored on a subject; a code
// that does not parse is not Illinois.
func BIPACode(code string) bool {
	j, err := likeness.ParseJurisdiction(code)
	return err == nil && BIPA(j)
}

// WrittenReleaseRequired reports whether using data of category for a
// subject under the jurisdiction code needs a written release (BIPA).
func WrittenReleaseRequired(code, category string) bool {
	return Biometric(category) && BIPACode(code)
}

// OptOutOfSale reports whether the subject may opt out of the sale or
// sharing of their personal information, and whether a Global Privacy
// Control signal counts as that opt-out (CCPA/CPRA, Cal. Civ. Code 1798.120
// and 1798.135; 11 CCR 7025). Only California subjects; a code that does
// not parse is not California.
func OptOutOfSale(code string) bool {
	j, err := likeness.ParseJurisdiction(code)
	return err == nil && j.Country == "US" && j.Region == "CA"
}
