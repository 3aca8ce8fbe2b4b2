package ledger

import (
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// CertificateType is the JWS "typ" of erasure certificates.
const CertificateType = "likeness-erasure+jws"

// SignStatement signs payload as a compact JWS (EdDSA) of type typ with the
// deployment key, for signed statements other than receipts, such as
// erasure certificates.
func (s *Signer) SignStatement(typ string, payload []byte) (string, error) {
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: s.priv},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", s.ver.Thumbprint()))
	if err != nil {
		return "", fmt.Errorf("ledger: sign statement: %w", err)
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("ledger: sign statement: %w", err)
	}
	return obj.CompactSerialize()
}

// VerifyStatement checks a statement signed by SignStatement with type typ
// and returns its payload.
func (v *Verifier) VerifyStatement(typ, jws string) ([]byte, error) {
	obj, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("ledger: statement: %w", err)
	}
	if len(obj.Signatures) != 1 {
		return nil, fmt.Errorf("ledger: statement: want one signature, have %d", len(obj.Signatures))
	}
	h := obj.Signatures[0].Protected
	if !v.acceptsKid(h.KeyID) {
		return nil, fmt.Errorf("ledger: statement signed by key %q, want %q", h.KeyID, v.Thumbprint())
	}
	if got, _ := h.ExtraHeaders[jose.HeaderType].(string); got != typ {
		return nil, fmt.Errorf("ledger: statement is of type %q, want %q", got, typ)
	}
	payload, err := obj.Verify(v.pub)
	if err != nil {
		return nil, fmt.Errorf("ledger: statement signature: %w", err)
	}
	return payload, nil
}
