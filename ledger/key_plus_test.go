package ledger

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

// A verifier key whose base64 part contains '+' must still parse.
func TestVerifierKeyWithPlusInBase64(t *testing.T) {
	for i := range 64 {
		seed := make([]byte, 32)
		seed[0] = byte(i)
		s, err := NewSigner("likeness-test", ed25519.NewKeyFromSeed(seed))
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if strings.Count(s.VerifierKey(), "+") > 2 {
			return
		}
	}
	t.Fatal("no key with '+' in its base64 part among 64 seeds; widen the search")
}
