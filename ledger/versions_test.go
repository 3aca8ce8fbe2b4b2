package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"likeness"
)

// awkwardEvent has characters on which the two leaf encodings differ.
func awkwardEvent(i uint64) Event {
	e := testEvent(i)
	e.Collector = "Zoë <kiosk> & co\u2028"
	return e
}

func TestLeafVersionsEncodeTheSameFieldsDifferently(t *testing.T) {
	v1 := awkwardEvent(4)
	v2 := v1
	v2.Version = LeafV2
	b1, b2 := v1.LeafData(), v2.LeafData()
	if !bytes.HasPrefix(b1, []byte(`{"index":4,"id":"ev-4",`)) || !bytes.Contains(b1, []byte(`Zoë \u003ckiosk\u003e \u0026 co\u2028`)) {
		t.Errorf("version-1 leaf is not encoding/json in declaration order: %s", b1)
	}
	if !bytes.HasPrefix(b2, []byte(`{"collector":"Zoë <kiosk> & co`+"\u2028"+`","id":"ev-4","index":4,`)) || !bytes.HasSuffix(b2, []byte(`"v":2}`)) {
		t.Errorf("version-2 leaf is not RFC 8785 canonical: %s", b2)
	}
	var back Event
	if err := json.Unmarshal(b2, &back); err != nil || back != v2 {
		t.Errorf("version-2 leaf decodes to %+v (%v), want %+v", back, err, v2)
	}
	for _, bad := range []Event{{Version: LeafV1}, {Version: 3}, {Version: LeafV2, TimeMicros: 1 << 53}, {Version: LeafV2, Index: 1 << 60},
		{Imported: true}} { // imported events exist in version 2 only
		if _, err := bad.Leaf(); err == nil {
			t.Errorf("Leaf(%+v) encoded; want an error", bad)
		}
	}
}

func TestResolveVersionFindsTheStoredEncoding(t *testing.T) {
	v1 := awkwardEvent(2)
	v2 := v1
	v2.Version = LeafV2
	for _, c := range []struct {
		name   string
		stored Event
	}{{"version 1", v1}, {"version 2", v2}} {
		got, ok := v2.ResolveVersion(LeafHash(c.stored.LeafData()))
		if !ok || got != c.stored {
			t.Errorf("%s: ResolveVersion = %+v, %v; want %+v", c.name, got, ok, c.stored)
		}
	}
	edited := v2
	edited.Purpose = "marketing-x"
	if _, ok := edited.ResolveVersion(LeafHash(v1.LeafData())); ok {
		t.Error("an edited event resolved to a stored leaf")
	}
}

// A history begun before version 2, read back as storage rebuilds it (every
// event said to be version 2), verifies; an edit is still found.
func TestVerifyAcceptsAHistoryOfBothVersions(t *testing.T) {
	s := testSigner(t, "likeness.example", "a")
	src := &sliceSource{}
	tree := NewTree()
	for i := range uint64(12) {
		e := awkwardEvent(i)
		if i >= 7 {
			e.Version = LeafV2
		}
		h := LeafHash(e.LeafData())
		tree.Append(h)
		e.Version = LeafV2
		src.events = append(src.events, storedEvent{e, h})
	}
	root, _ := tree.Root(12)
	cp, err := s.SignCheckpoint(Checkpoint{Size: 12, Root: root, TimeMicros: t0})
	if err != nil {
		t.Fatal(err)
	}
	src.checkpoints = [][]byte{cp}
	r, err := Verify(context.Background(), src, s.Verifier())
	if err != nil || !r.OK() {
		t.Fatalf("mixed history: %+v, %v; want a clean report", r, err)
	}
	src.events[3].event.Method = "verbal"
	r, err = Verify(context.Background(), src, s.Verifier())
	if err != nil || r.FirstBadIndex != 3 {
		t.Fatalf("edited version-1 event: %+v, %v; want first bad index 3", r, err)
	}
}

// A receipt for an event stored as a version-1 leaf is issued for that leaf,
// even when the caller built the event as version 2.
func TestSignReceiptUsesTheStoredLeafVersion(t *testing.T) {
	f := newReceiptFixture(t, 5) // version-1 leaves
	c := f.claims(t, 2)
	c.Event.Version = LeafV2
	jws, err := f.signer.SignReceipt(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.signer.Verifier().VerifyReceipt(jws)
	if err != nil || got.Event.Version != 0 {
		t.Fatalf("VerifyReceipt = %+v, %v; want a version-1 event", got, err)
	}
}

func TestReceiptWithTheLegacyKidVerifies(t *testing.T) {
	f := newReceiptFixture(t, 3)
	payload, err := json.Marshal(f.claims(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	v := f.signer.Verifier()
	for _, kid := range []string{v.KeyID(), v.Thumbprint()} {
		jws, err := f.signer.signJWS(payload, kid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyReceipt(jws); err != nil {
			t.Errorf("kid %q: %v", kid, err)
		}
	}
	jws, _ := f.signer.signJWS(payload, "someone-else")
	var re *ReceiptError
	if _, err := v.VerifyReceipt(jws); !errors.As(err, &re) || re.Check != CheckSignature {
		t.Errorf("unknown kid: %v; want a signature failure", err)
	}
}

// RFC 8037 appendix A.3 gives the thumbprint of its example key.
func TestThumbprintMatchesRFC8037(t *testing.T) {
	seed, _ := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	s, err := NewSigner("rfc8037", ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Verifier().Thumbprint(); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Errorf("Thumbprint = %s", got)
	}
}

func TestJWKSHoldsTheKeyUnderBothKids(t *testing.T) {
	v := testSigner(t, "likeness.example", "a").Verifier()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(v.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0]["kid"] != v.Thumbprint() || set.Keys[1]["kid"] != v.KeyID() {
		t.Fatalf("JWKS = %s", v.JWKS())
	}
	for _, k := range set.Keys {
		x, _ := base64.RawURLEncoding.DecodeString(k["x"])
		if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || !bytes.Equal(x, v.PublicKey()) {
			t.Errorf("JWK %v does not hold the verifier's Ed25519 key", k)
		}
	}
	// RFC 7638: SHA-256 of the required members, sorted, no whitespace.
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + set.Keys[0]["x"] + `"}`))
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); v.Thumbprint() != want {
		t.Errorf("Thumbprint = %s, want %s", v.Thumbprint(), want)
	}
}

func TestNewOriginIsUniquePerDeployment(t *testing.T) {
	a := NewOrigin("likeness-example-gmbh", nil)
	b := NewOrigin("likeness-example-gmbh", nil)
	if a == b {
		t.Fatalf("two deployments got the same origin %q", a)
	}
	name, id, ok := SplitOrigin(a)
	if !ok || name != "likeness-example-gmbh" || len(id) != 16 {
		t.Errorf("SplitOrigin(%q) = %q, %q, %v", a, name, id, ok)
	}
	if got := NewOrigin("x", bytes.NewReader(bytes.Repeat([]byte{0xab}, 8))); got != "x/abababababababab" {
		t.Errorf("NewOrigin with a fixed reader = %q", got)
	}
	if _, err := NewSigner(a, ed25519.NewKeyFromSeed(make([]byte, 32))); err != nil {
		t.Errorf("origin %q is not a valid key name: %v", a, err)
	}
	if _, _, ok := SplitOrigin("likeness-example-gmbh"); ok {
		t.Error("an origin without a deployment id split")
	}
	if strings.Contains(a, "+") {
		t.Errorf("origin %q contains '+'", a)
	}
}

func TestConsentLeafHashAcceptsEitherStoredVersion(t *testing.T) {
	ev := &likeness.ConsentEvent{ID: "evt_1", SubjectID: "sub", Purpose: "p", Type: "grant", Time: time.UnixMicro(t0), Sealed: []byte("x")}
	v2 := FromConsent(ev, 7)
	v1 := v2
	v1.Version = 0
	for _, stored := range [][32]byte{LeafHash(v1.LeafData()), LeafHash(v2.LeafData())} {
		if got := ConsentLeafHash(ev, 7, stored); got != stored {
			t.Errorf("ConsentLeafHash = %x, want the stored %x", got, stored)
		}
	}
	if got := ConsentLeafHash(ev, 8, LeafHash(v1.LeafData())); got != LeafHash(FromConsent(ev, 8).LeafData()) {
		t.Errorf("a moved event got hash %x, want its own version-2 hash", got)
	}
}
