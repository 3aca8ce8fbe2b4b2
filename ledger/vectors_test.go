package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors from the code (go test ./ledger -run TestVectors -update)")

const vectorsDir = "testdata/vectors"

// Vector inputs: fixed, so every output is reproducible (Ed25519 signatures
// are deterministic).
var (
	vectorOrigin    = NewOrigin("likeness-example", bytes.NewReader([]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}))
	vectorTime      = int64(1_767_225_600_000_000) // 2026-01-01T00:00:00Z in unix micros
	vectorLegacyEnd = uint64(2)                    // events below are version-1 leaves
)

// vectorSeed is the bytes 0x00 to 0x1f.
var vectorSeed = func() []byte {
	b := make([]byte, ed25519.SeedSize)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// vectorFile is testdata/vectors/vectors.json.
type vectorFile struct {
	Comment     string        `json:"comment"`
	Seed        string        `json:"ed25519_seed"` // hex; a test key, never use it
	Origin      string        `json:"origin"`
	VerifierKey string        `json:"verifier_key"`
	Kid         string        `json:"kid"`
	LegacyKid   string        `json:"legacy_kid"`
	Events      []vectorEvent `json:"events"`
	Size        uint64        `json:"size"`
	Root        string        `json:"root"` // hex
	Checkpoint  string        `json:"checkpoint"`
	Inclusion   vectorProof   `json:"inclusion"`
	Consistency vectorProof   `json:"consistency"`
}

type vectorEvent struct {
	Event    Event  `json:"event"`
	Leaf     string `json:"leaf"`      // the leaf bytes, UTF-8
	LeafHash string `json:"leaf_hash"` // hex
}

type vectorProof struct {
	Index uint64   `json:"index,omitempty"` // inclusion: the leaf
	From  uint64   `json:"from,omitempty"`  // consistency: the smaller size
	Size  uint64   `json:"size"`
	Root  string   `json:"from_root,omitempty"`
	Proof []string `json:"proof"`
}

func vectorEvents() []Event {
	evs := []Event{
		{Index: 0, ID: "evt_0", Type: TypeGrant, SubjectID: "sub_alice", Purpose: "voice-cloning", NoticeVersion: 1,
			NoticeSHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", Method: "checkbox", Language: "en",
			Collector: "web", TimeMicros: vectorTime},
		{Index: 1, ID: "evt_1", Type: TypeGrant, SubjectID: "sub_zoe", Purpose: "headshots", NoticeVersion: 1,
			NoticeSHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", Method: "verbal", Language: "fr",
			Collector: "Zoë <kiosk> & co", TimeMicros: vectorTime + 1_500_000,
			SealedSHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{Index: 2, ID: "evt_2", Type: TypeWithdraw, SubjectID: "sub_alice", Purpose: "voice-cloning", Method: "checkbox",
			Language: "en", Collector: "portal", TimeMicros: vectorTime + 86_400_000_000},
		{Index: 3, ID: "evt_3", Type: TypeGrant, SubjectID: "sub_zoe", Purpose: "marketing", NoticeVersion: 2,
			NoticeSHA256: "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9", Method: "written", Language: "de",
			Collector: "Zoë <kiosk> & co\u2028", TimeMicros: vectorTime + 86_400_000_001,
			SealedSHA256: "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"},
		{Index: 4, ID: "evt_4", Type: TypeErasure, SubjectID: "sub_bob", TimeMicros: vectorTime + 172_800_000_000},
		// An imported grant: recorded after the erasure, with the time it
		// was given in the system it came from (2024-03-01T09:30:00Z).
		{Index: 5, ID: "evt_5", Type: TypeGrant, SubjectID: "sub_carol", Purpose: "headshots", NoticeVersion: 2,
			NoticeSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Method: "written", Language: "en",
			Collector: "import", TimeMicros: 1_709_285_400_000_000,
			SealedSHA256: "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d", Imported: true},
	}
	for i := range evs {
		if uint64(i) >= vectorLegacyEnd {
			evs[i].Version = LeafV2
		}
	}
	return evs
}

func vectorClaims(e Event, l ReceiptLedger) ReceiptClaims {
	return ReceiptClaims{
		Version:      ReceiptVersion,
		ReceiptID:    "rcpt_" + e.ID,
		Controller:   Controller{Name: "Example Voice GmbH", Contact: "privacy@example.com", Country: "DE", DPO: "dpo@example.com"},
		Jurisdiction: "EU-DE", SubjectPseudonym: e.SubjectID, Type: e.Type, Method: e.Method, Language: e.Language,
		Collector: e.Collector,
		Purposes: []ReceiptPurpose{{ID: e.Purpose, Title: "Purpose " + e.Purpose, DataCategories: []string{"voice", "image"},
			Recipients: []ReceiptRecipient{{ID: "proc", Name: "Processor Inc", Country: "US", Transfer: "scc"}},
			Retention:  "P3Y", RenewEvery: "P1Y"}},
		NoticeVersion: e.NoticeVersion, NoticeSHA256: e.NoticeSHA256, Validation: e.Validation, Refers: e.Refers, Imported: e.Imported,
		IssuedAt: vectorTime/1e6 + 3*86400, EventTime: floorDiv(e.TimeMicros, 1e6), Event: e, Ledger: l,
	}
}

// makeVectors computes every vector file from the fixed inputs.
func makeVectors(t *testing.T) map[string][]byte {
	t.Helper()
	s, err := NewSigner(vectorOrigin, ed25519.NewKeyFromSeed(vectorSeed))
	if err != nil {
		t.Fatal(err)
	}
	v := s.Verifier()
	vf := vectorFile{
		Comment: "likeness receipt test vectors: see docs/RECEIPTS.md. Made by `go test ./ledger -run TestVectors -update`. The seed is public: never use it.",
		Seed:    hex.EncodeToString(vectorSeed), Origin: vectorOrigin, VerifierKey: v.Key(), Kid: v.Thumbprint(), LegacyKid: v.KeyID(),
	}
	tree := NewTree()
	evs := vectorEvents()
	for _, e := range evs {
		leaf := e.LeafData()
		h := LeafHash(leaf)
		tree.Append(h)
		vf.Events = append(vf.Events, vectorEvent{Event: e, Leaf: string(leaf), LeafHash: hex.EncodeToString(h[:])})
	}
	vf.Size = tree.Size()
	root, _ := tree.Root(vf.Size)
	vf.Root = hex.EncodeToString(root[:])
	cp, err := s.SignCheckpoint(Checkpoint{Size: vf.Size, Root: root, TimeMicros: vectorTime + 172_800_000_001})
	if err != nil {
		t.Fatal(err)
	}
	vf.Checkpoint = string(cp)
	incl, _ := tree.InclusionProof(3, vf.Size)
	vf.Inclusion = vectorProof{Index: 3, Size: vf.Size, Proof: EncodeHashes(incl)}
	cons, _ := tree.ConsistencyProof(2, vf.Size)
	fromRoot, _ := tree.Root(2)
	vf.Consistency = vectorProof{From: 2, Size: vf.Size, Root: hex.EncodeToString(fromRoot[:]), Proof: EncodeHashes(cons)}

	receipt := func(i uint64, kid string) []byte {
		l, err := NewReceiptLedger(tree, i, cp)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := json.Marshal(vectorClaims(evs[i], l))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.signJWS(payload, kid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyReceipt(jws); err != nil {
			t.Fatalf("vector receipt %d does not verify: %v", i, err)
		}
		return []byte(jws + "\n")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vf); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"vectors.json": buf.Bytes(),
		"jwks.json":    v.JWKS(),
		"checkpoint":   cp,
		// Event 3 is a version-2 leaf; event 1 a version-1 leaf in a receipt
		// named by the legacy kid, as issued before version 2.
		"receipt.jws":        receipt(3, v.Thumbprint()),
		"receipt-legacy.jws": receipt(1, v.KeyID()),
		// Event 5 was imported: its receipt says so, as its leaf does.
		"receipt-imported.jws": receipt(5, v.Thumbprint()),
	}
}

// TestVectors recomputes the committed test vectors and fails on any byte
// that differs: the formats in docs/RECEIPTS.md are frozen by them.
func TestVectors(t *testing.T) {
	files := makeVectors(t)
	if *update {
		if err := os.MkdirAll(vectorsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(vectorsDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(vectorsDir, name))
		if err != nil {
			t.Errorf("%v (regenerate with -update)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the code makes now: a format changed (if on purpose, add a version and run -update)\ncommitted:\n%s\nnow:\n%s", name, got, want)
		}
	}
}
