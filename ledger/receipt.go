package ledger

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// ReceiptVersion is the version string of the receipt format.
const ReceiptVersion = "likeness-receipt/1"

// receiptType is the JWS typ header of receipts.
const receiptType = "likeness-receipt+jws"

// ReceiptClaims is the payload of a consent receipt. Field names follow
// ISO/IEC TS 27560 and the Kantara Consent Receipt where they apply. Times
// are unix seconds.
type ReceiptClaims struct {
	Version          string           `json:"version"` // ReceiptVersion
	ReceiptID        string           `json:"receipt_id"`
	Controller       Controller       `json:"controller"`
	Jurisdiction     string           `json:"jurisdiction"`
	SubjectPseudonym string           `json:"subject"`
	Type             string           `json:"type"` // grant, withdraw, renew, validated or validation_rejected
	Method           string           `json:"method,omitempty"`
	Language         string           `json:"language,omitempty"`
	Collector        string           `json:"collector,omitempty"`
	Purposes         []ReceiptPurpose `json:"purposes"` // the event's one purpose
	NoticeVersion    int64            `json:"notice_version,omitempty"`
	NoticeSHA256     string           `json:"notice_sha256,omitempty"`
	// Validation is "pending" on a grant or renewal that counts only once a
	// reviewer validates it; Refers, on a reviewer's verdict, names the
	// event decided on. Both equal the event's.
	Validation string        `json:"validation,omitempty"`
	Refers     string        `json:"refers,omitempty"`
	IssuedAt   int64         `json:"iat"`                // unix seconds
	EventTime  int64         `json:"event_time"`         // unix seconds, Event.TimeMicros rounded down
	Imported   bool          `json:"imported,omitempty"` // = Event.Imported: brought in by an import
	Event      Event         `json:"event"`              // the exact leaf content
	Ledger     ReceiptLedger `json:"ledger"`
}

// Controller is the organisation responsible for the processing.
type Controller struct {
	Name    string `json:"name"`
	Contact string `json:"contact"`
	Country string `json:"country"`
	DPO     string `json:"dpo,omitempty"`
}

// ReceiptPurpose describes a purpose as the notice stated it.
type ReceiptPurpose struct {
	ID             string             `json:"id"`
	Title          string             `json:"title"`
	DataCategories []string           `json:"data_categories"`
	Recipients     []ReceiptRecipient `json:"recipients,omitempty"`
	Retention      string             `json:"retention,omitempty"`   // as declared in the policy, e.g. "P3Y"
	RenewEvery     string             `json:"renew_every,omitempty"` // re-consent interval, e.g. "P1Y"
}

// ReceiptRecipient is a party the data is disclosed to.
type ReceiptRecipient struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Country  string `json:"country"`
	Transfer string `json:"transfer,omitempty"` // transfer mechanism, e.g. "adequacy", "scc"
}

// ReceiptLedger is the ledger evidence for the receipt's event.
type ReceiptLedger struct {
	Index          uint64   `json:"index"`
	Size           uint64   `json:"size"`
	LeafHash       string   `json:"leaf_hash"`       // hex
	InclusionProof []string `json:"inclusion_proof"` // hex nodes, RFC 6962 order
	Checkpoint     string   `json:"checkpoint"`      // the signed checkpoint note of Size
}

// Receipt checks, as named in ReceiptError.Check.
const (
	CheckFormat      = "format"      // not a compact EdDSA JWS with a well-formed payload
	CheckSignature   = "signature"   // JWS not signed by the verifier's key
	CheckCheckpoint  = "checkpoint"  // checkpoint missing, badly signed, or of another size
	CheckLeafHash    = "leaf_hash"   // leaf_hash is not the hash of the event
	CheckInclusion   = "inclusion"   // inclusion proof does not reach the checkpoint root
	CheckClaims      = "claims"      // claims disagree with the event
	CheckConsistency = "consistency" // later checkpoint does not extend the receipt's
)

// ReceiptError reports which receipt check failed.
type ReceiptError struct {
	Check string // one of the Check constants
	Err   error
}

func (e *ReceiptError) Error() string {
	return fmt.Sprintf("ledger: receipt %s check failed: %v", e.Check, e.Err)
}

func (e *ReceiptError) Unwrap() error { return e.Err }

func receiptErr(check, format string, args ...any) error {
	return &ReceiptError{Check: check, Err: fmt.Errorf(format, args...)}
}

// SignReceipt checks the claims exactly as VerifyReceipt would (so an
// inconsistent receipt is never issued) and returns them as a compact JWS,
// alg EdDSA, kid the key's RFC 7638 thumbprint. The event is given the leaf
// version whose hash is Ledger.LeafHash (ResolveVersion), so an event stored
// as a version-1 leaf gets a receipt for that leaf.
func (s *Signer) SignReceipt(c ReceiptClaims) (string, error) {
	if stated, err := decodeHash(c.Ledger.LeafHash); err == nil {
		c.Event, _ = c.Event.ResolveVersion(stated)
	}
	if _, err := s.ver.checkClaims(&c); err != nil {
		return "", fmt.Errorf("ledger: sign receipt: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("ledger: sign receipt: %w", err)
	}
	return s.signJWS(payload, s.ver.Thumbprint())
}

// signJWS signs payload as a compact receipt JWS naming kid, without looking
// at it.
func (s *Signer) signJWS(payload []byte, kid string) (string, error) {
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: s.priv},
		(&jose.SignerOptions{}).WithType(receiptType).WithHeader("kid", kid))
	if err != nil {
		return "", fmt.Errorf("ledger: sign receipt: %w", err)
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("ledger: sign receipt: %w", err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("ledger: sign receipt: %w", err)
	}
	return out, nil
}

// VerifyReceipt checks a receipt: the JWS signature, the checkpoint
// signature, that leaf_hash is the hash of the event, that the inclusion
// proof places it at ledger.index in the tree the checkpoint signs, and that
// the claims agree with the event. A failure is a *ReceiptError naming the
// check.
func (v *Verifier) VerifyReceipt(jws string) (*ReceiptClaims, error) {
	c, _, err := v.verifyReceipt(jws)
	return c, err
}

// VerifyReceiptAgainst verifies the receipt as VerifyReceipt does, then
// checks that laterCheckpoint (signed note bytes, for example the latest one
// served by the operator) extends the receipt's checkpoint, using a
// consistency proof from the receipt's tree size to the later size. Success
// shows the event is still in the log at that later size.
func (v *Verifier) VerifyReceiptAgainst(jws string, laterCheckpoint []byte, consistency [][32]byte) (*ReceiptClaims, error) {
	c, cp, err := v.verifyReceipt(jws)
	if err != nil {
		return nil, err
	}
	later, err := v.OpenCheckpoint(laterCheckpoint)
	if err != nil {
		return nil, receiptErr(CheckConsistency, "later checkpoint: %w", err)
	}
	if later.Size < cp.Size {
		return nil, receiptErr(CheckConsistency, "later checkpoint size %d is smaller than the receipt's %d", later.Size, cp.Size)
	}
	if err := VerifyConsistency(cp.Size, later.Size, consistency, cp.Root, later.Root); err != nil {
		return nil, receiptErr(CheckConsistency, "%w", err)
	}
	return c, nil
}

func (v *Verifier) verifyReceipt(jws string) (*ReceiptClaims, Checkpoint, error) {
	obj, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, Checkpoint{}, receiptErr(CheckFormat, "%w", err)
	}
	if len(obj.Signatures) != 1 {
		return nil, Checkpoint{}, receiptErr(CheckFormat, "want one signature, have %d", len(obj.Signatures))
	}
	if kid := obj.Signatures[0].Protected.KeyID; !v.acceptsKid(kid) {
		return nil, Checkpoint{}, receiptErr(CheckSignature, "signed by key %q, want %q", kid, v.Thumbprint())
	}
	payload, err := obj.Verify(v.pub)
	if err != nil {
		return nil, Checkpoint{}, receiptErr(CheckSignature, "%w", err)
	}
	var c ReceiptClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, Checkpoint{}, receiptErr(CheckFormat, "payload: %w", err)
	}
	if dec.More() {
		return nil, Checkpoint{}, receiptErr(CheckFormat, "payload: trailing data")
	}
	cp, err := v.checkClaims(&c)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	return &c, cp, nil
}

// checkClaims runs every check but the JWS signature.
func (v *Verifier) checkClaims(c *ReceiptClaims) (Checkpoint, error) {
	if c.Version != ReceiptVersion {
		return Checkpoint{}, receiptErr(CheckFormat, "version %q, want %q", c.Version, ReceiptVersion)
	}
	l := c.Ledger
	if l.Checkpoint == "" {
		return Checkpoint{}, receiptErr(CheckCheckpoint, "no checkpoint")
	}
	cp, err := v.OpenCheckpoint([]byte(l.Checkpoint))
	if err != nil {
		return Checkpoint{}, receiptErr(CheckCheckpoint, "%w", err)
	}
	if cp.Size != l.Size {
		return Checkpoint{}, receiptErr(CheckCheckpoint, "checkpoint size %d, receipt says %d", cp.Size, l.Size)
	}
	data, err := c.Event.Leaf()
	if err != nil {
		return Checkpoint{}, receiptErr(CheckFormat, "event: %w", err)
	}
	leaf := LeafHash(data)
	stated, err := decodeHash(l.LeafHash)
	if err != nil {
		return Checkpoint{}, receiptErr(CheckLeafHash, "%w", err)
	}
	if stated != leaf {
		return Checkpoint{}, receiptErr(CheckLeafHash, "leaf_hash %s is not the hash of the event (%x)", l.LeafHash, leaf)
	}
	if l.Index != c.Event.Index {
		return Checkpoint{}, receiptErr(CheckInclusion, "ledger index %d, event index %d", l.Index, c.Event.Index)
	}
	if l.Index >= l.Size {
		return Checkpoint{}, receiptErr(CheckInclusion, "index %d not below tree size %d", l.Index, l.Size)
	}
	nodes := make([][32]byte, len(l.InclusionProof))
	for i, s := range l.InclusionProof {
		if nodes[i], err = decodeHash(s); err != nil {
			return Checkpoint{}, receiptErr(CheckInclusion, "proof node %d: %w", i, err)
		}
	}
	if err := VerifyInclusion(l.Index, l.Size, leaf, nodes, cp.Root); err != nil {
		return Checkpoint{}, receiptErr(CheckInclusion, "%w", err)
	}
	if err := claimsAgree(c); err != nil {
		return Checkpoint{}, &ReceiptError{Check: CheckClaims, Err: err}
	}
	return cp, nil
}

// claimsAgree checks the readable claims against the event they describe.
func claimsAgree(c *ReceiptClaims) error {
	e := c.Event
	switch c.Type {
	case TypeGrant, TypeWithdraw, TypeRenew, TypeValidated, TypeValidationRejected:
	default:
		return fmt.Errorf("type %q is not grant, withdraw, renew, validated or validation_rejected", c.Type)
	}
	type pair struct {
		name        string
		claim, leaf any
	}
	for _, p := range []pair{
		{"type", c.Type, e.Type},
		{"subject", c.SubjectPseudonym, e.SubjectID},
		{"method", c.Method, e.Method},
		{"language", c.Language, e.Language},
		{"collector", c.Collector, e.Collector},
		{"notice_version", c.NoticeVersion, e.NoticeVersion},
		{"notice_sha256", c.NoticeSHA256, e.NoticeSHA256},
		{"event_time", c.EventTime, floorDiv(e.TimeMicros, 1e6)},
		{"validation", c.Validation, e.Validation},
		{"refers", c.Refers, e.Refers},
		{"imported", c.Imported, e.Imported},
	} {
		if p.claim != p.leaf {
			return fmt.Errorf("%s %v disagrees with the event's %v", p.name, p.claim, p.leaf)
		}
	}
	if len(c.Purposes) != 1 || c.Purposes[0].ID != e.Purpose {
		ids := make([]string, len(c.Purposes))
		for i, p := range c.Purposes {
			ids[i] = p.ID
		}
		return fmt.Errorf("purposes %q disagree with the event's one purpose %q", ids, e.Purpose)
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func decodeHash(s string) ([32]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return [32]byte{}, fmt.Errorf("%q is not a 64-digit hex hash", s)
	}
	return [32]byte(b), nil
}

// EncodeHashes returns hashes as lowercase hex, the form receipts carry.
func EncodeHashes(hs [][32]byte) []string {
	out := make([]string, len(hs))
	for i := range hs {
		out[i] = hex.EncodeToString(hs[i][:])
	}
	return out
}

// NewReceiptLedger assembles the ledger evidence for leaf index from t,
// proving it into the tree of the size the signed checkpoint states.
func NewReceiptLedger(t *Tree, index uint64, signedCheckpoint []byte) (ReceiptLedger, error) {
	c, ok := unverifiedCheckpoint(signedCheckpoint)
	if !ok {
		return ReceiptLedger{}, fmt.Errorf("ledger: receipt evidence: malformed checkpoint")
	}
	leaf, err := t.LeafHash(index)
	if err != nil {
		return ReceiptLedger{}, err
	}
	nodes, err := t.InclusionProof(index, c.Size)
	if err != nil {
		return ReceiptLedger{}, err
	}
	return ReceiptLedger{
		Index:          index,
		Size:           c.Size,
		LeafHash:       hex.EncodeToString(leaf[:]),
		InclusionProof: EncodeHashes(nodes),
		Checkpoint:     string(signedCheckpoint),
	}, nil
}
