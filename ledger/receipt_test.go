package ledger

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const t0 = 1_760_000_000_000_000 // unix micros

func testEvent(i uint64) Event {
	types := []string{TypeGrant, TypeWithdraw, TypeRenew}
	return Event{
		Index:         i,
		ID:            fmt.Sprintf("ev-%d", i),
		Type:          types[i%3],
		SubjectID:     fmt.Sprintf("sub-%d", i%97),
		Purpose:       []string{"voice-training", "headshots", "marketing"}[i%3],
		NoticeVersion: 3,
		NoticeSHA256:  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Method:        "checkbox",
		Language:      "de",
		Collector:     "web",
		TimeMicros:    t0 + int64(i)*1_000_003,
		SealedSHA256:  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	}
}

type receiptFixture struct {
	signer *Signer
	tree   *Tree
	events []Event
	cp     []byte // checkpoint at size len(events)
}

func newReceiptFixture(t testing.TB, n int) *receiptFixture {
	t.Helper()
	f := &receiptFixture{signer: testSigner(t, "likeness.example", "a"), tree: NewTree()}
	for i := range uint64(n) {
		e := testEvent(i)
		f.events = append(f.events, e)
		f.tree.Append(LeafHash(e.LeafData()))
	}
	f.cp = f.checkpoint(t, f.signer, uint64(n))
	return f
}

func (f *receiptFixture) checkpoint(t testing.TB, s *Signer, size uint64) []byte {
	t.Helper()
	root, err := f.tree.Root(size)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.SignCheckpoint(Checkpoint{Size: size, Root: root, TimeMicros: t0 + int64(size)})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func (f *receiptFixture) claims(t testing.TB, i uint64) ReceiptClaims {
	t.Helper()
	e := f.events[i]
	l, err := NewReceiptLedger(f.tree, i, f.cp)
	if err != nil {
		t.Fatal(err)
	}
	return ReceiptClaims{
		Version:          ReceiptVersion,
		ReceiptID:        "rcpt-" + e.ID,
		Controller:       Controller{Name: "Example GmbH", Contact: "privacy@example.com", Country: "DE", DPO: "dpo@example.com"},
		Jurisdiction:     "EU-DE",
		SubjectPseudonym: e.SubjectID,
		Type:             e.Type,
		Method:           e.Method,
		Language:         e.Language,
		Collector:        e.Collector,
		Purposes: []ReceiptPurpose{{
			ID: e.Purpose, Title: "Purpose " + e.Purpose, DataCategories: []string{"voice"},
			Recipients: []ReceiptRecipient{{ID: "proc", Name: "Processor Inc", Country: "US", Transfer: "scc"}},
			Retention:  "P3Y", RenewEvery: "P1Y",
		}},
		NoticeVersion: e.NoticeVersion,
		NoticeSHA256:  e.NoticeSHA256,
		IssuedAt:      t0/1e6 + 100,
		EventTime:     e.TimeMicros / 1e6,
		Event:         e,
		Ledger:        l,
	}
}

func TestReceiptRoundTrip(t *testing.T) {
	f := newReceiptFixture(t, 13)
	for i := range uint64(13) {
		c := f.claims(t, i)
		jws, err := f.signer.SignReceipt(c)
		if err != nil {
			t.Fatalf("SignReceipt(%d): %v", i, err)
		}
		v, err := NewVerifier(f.signer.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.VerifyReceipt(jws)
		if err != nil {
			t.Fatalf("VerifyReceipt(%d): %v", i, err)
		}
		if got.Event != c.Event || got.Ledger.Checkpoint != c.Ledger.Checkpoint || got.Controller != c.Controller {
			t.Errorf("VerifyReceipt(%d) = %+v, want %+v", i, got, c)
		}
	}
}

func TestReceiptHeaderNamesTheKey(t *testing.T) {
	f := newReceiptFixture(t, 3)
	jws, err := f.signer.SignReceipt(f.claims(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[0])
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "EdDSA" || h["kid"] != f.signer.Verifier().Thumbprint() {
		t.Errorf("header = %v", h)
	}
}

// resign signs claims without SignReceipt's checks, as a dishonest or buggy
// operator holding the key could.
func resign(t *testing.T, s *Signer, c ReceiptClaims) string {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.signJWS(payload, s.ver.Thumbprint())
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

// TestTamperedReceiptsAreRejected checks that each way of altering a signed
// receipt fails the check that guards it; its length is the table of cases.
func TestTamperedReceiptsAreRejected(t *testing.T) {
	f := newReceiptFixture(t, 13)
	other := testSigner(t, "likeness.example", "b")
	good := f.claims(t, 6)
	goodJWS, err := f.signer.SignReceipt(good)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		jws   func() string
		check string
	}{
		{"payload claim changed", func() string {
			parts := strings.Split(goodJWS, ".")
			c := good
			c.Purposes = []ReceiptPurpose{{ID: good.Event.Purpose, Title: "something milder"}}
			b, _ := json.Marshal(c)
			parts[1] = base64.RawURLEncoding.EncodeToString(b)
			return strings.Join(parts, ".")
		}, CheckSignature},
		{"signed by another key", func() string { return resign(t, other, good) }, CheckSignature},
		{"not a JWS", func() string { return "hello" }, CheckFormat},
		{"unknown version", func() string { c := good; c.Version = "likeness-receipt/9"; return resign(t, f.signer, c) }, CheckFormat},
		{"proof node changed", func() string {
			c := good
			c.Ledger.InclusionProof = append([]string(nil), good.Ledger.InclusionProof...)
			h, _ := decodeHash(c.Ledger.InclusionProof[1])
			h[0] ^= 1
			c.Ledger.InclusionProof[1] = EncodeHashes([][32]byte{h})[0]
			return resign(t, f.signer, c)
		}, CheckInclusion},
		{"proof node dropped", func() string {
			c := good
			c.Ledger.InclusionProof = good.Ledger.InclusionProof[1:]
			return resign(t, f.signer, c)
		}, CheckInclusion},
		{"proof for another index", func() string {
			c := good
			c.Ledger.Index, c.Event.Index = 7, 7
			c.Ledger.LeafHash = EncodeHashes([][32]byte{LeafHash(c.Event.LeafData())})[0]
			return resign(t, f.signer, c)
		}, CheckInclusion},
		{"checkpoint from another key", func() string {
			c := good
			c.Ledger.Checkpoint = string(f.checkpoint(t, other, 13))
			return resign(t, f.signer, c)
		}, CheckCheckpoint},
		{"checkpoint of another size", func() string {
			c := good
			c.Ledger.Checkpoint = string(f.checkpoint(t, f.signer, 12))
			return resign(t, f.signer, c)
		}, CheckCheckpoint},
		{"event changed", func() string {
			c := good
			c.Event.Purpose = "marketing"
			c.Purposes = []ReceiptPurpose{{ID: "marketing"}}
			return resign(t, f.signer, c)
		}, CheckLeafHash},
		{"event and leaf hash changed", func() string {
			c := good
			c.Event.Purpose = "marketing"
			c.Purposes = []ReceiptPurpose{{ID: "marketing"}}
			c.Ledger.LeafHash = EncodeHashes([][32]byte{LeafHash(c.Event.LeafData())})[0]
			return resign(t, f.signer, c)
		}, CheckInclusion},
		{"type disagrees with event", func() string { c := good; c.Type = TypeWithdraw; return resign(t, f.signer, c) }, CheckClaims},
		{"purpose disagrees with event", func() string {
			c := good
			c.Purposes = []ReceiptPurpose{{ID: "marketing"}}
			return resign(t, f.signer, c)
		}, CheckClaims},
		{"notice disagrees with event", func() string { c := good; c.NoticeVersion = 2; return resign(t, f.signer, c) }, CheckClaims},
		{"method disagrees with event", func() string { c := good; c.Method = "written"; return resign(t, f.signer, c) }, CheckClaims},
		{"event time disagrees", func() string { c := good; c.EventTime++; return resign(t, f.signer, c) }, CheckClaims},
		{"says imported, event does not", func() string { c := good; c.Imported = true; return resign(t, f.signer, c) }, CheckClaims},
		{"event made imported", func() string {
			c := good
			c.Event.Version, c.Event.Imported, c.Imported = LeafV2, true, true
			return resign(t, f.signer, c)
		}, CheckLeafHash},
		{"version-1 event said to be imported", func() string {
			c := good
			c.Event.Version, c.Event.Imported, c.Imported = 0, true, true
			return resign(t, f.signer, c)
		}, CheckFormat},
	}
	v := f.signer.Verifier()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.VerifyReceipt(tt.jws())
			var re *ReceiptError
			if !errors.As(err, &re) {
				t.Fatalf("VerifyReceipt = %v, want a *ReceiptError", err)
			}
			if re.Check != tt.check {
				t.Errorf("failed check %q (%v), want %q", re.Check, err, tt.check)
			}
		})
	}
}

func TestSignReceiptRefusesInconsistentClaims(t *testing.T) {
	f := newReceiptFixture(t, 5)
	c := f.claims(t, 2)
	c.Type = TypeErasure
	if _, err := f.signer.SignReceipt(c); err == nil {
		t.Error("SignReceipt signed a receipt whose type disagrees with its event")
	}
	c = f.claims(t, 2)
	c.Ledger.InclusionProof = nil
	if _, err := f.signer.SignReceipt(c); err == nil {
		t.Error("SignReceipt signed a receipt without its proof")
	}
}

func TestReceiptVerifiesAgainstALaterCheckpoint(t *testing.T) {
	f := newReceiptFixture(t, 13)
	jws, err := f.signer.SignReceipt(f.claims(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(13); i < 40; i++ {
		f.tree.Append(LeafHash(testEvent(i).LeafData()))
	}
	later := f.checkpoint(t, f.signer, 40)
	proof, err := f.tree.ConsistencyProof(13, 40)
	if err != nil {
		t.Fatal(err)
	}
	v := f.signer.Verifier()
	if _, err := v.VerifyReceiptAgainst(jws, later, proof); err != nil {
		t.Fatalf("VerifyReceiptAgainst: %v", err)
	}
	proof[0][0] ^= 1
	_, err = v.VerifyReceiptAgainst(jws, later, proof)
	if re := (*ReceiptError)(nil); !errors.As(err, &re) || re.Check != CheckConsistency {
		t.Errorf("VerifyReceiptAgainst with a bad proof = %v, want a consistency failure", err)
	}
	other := testSigner(t, "likeness.example", "b")
	proof[0][0] ^= 1
	if _, err := v.VerifyReceiptAgainst(jws, f.checkpoint(t, other, 40), proof); err == nil {
		t.Error("VerifyReceiptAgainst accepted a later checkpoint from another key")
	}
}
