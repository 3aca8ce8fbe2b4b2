package policy

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse holds the policy loader to its contract on any input: it never
// panics, it answers either a policy or a *ValidationError with at least one
// problem, and a policy it accepts parses again to the same notice.
func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	f.Add([]byte(strings.Join(base, "\n")))
	for _, s := range []string{"", "null", "[]", "organization: [", "a: &x [*x]", "organization:\n  name: \"\x00\"", "\xff\xfe", "purposes: {}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error is not a ValidationError with problems: %v", err)
			}
			return
		}
		again, err := Parse("fuzz.yaml", p.Source)
		if err != nil {
			t.Fatalf("an accepted policy does not parse again: %v", err)
		}
		if len(again.PurposeIDs) != len(p.PurposeIDs) {
			t.Fatalf("purposes differ on a second parse: %v, %v", p.PurposeIDs, again.PurposeIDs)
		}
	})
}
