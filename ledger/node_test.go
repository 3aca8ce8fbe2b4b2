package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness"
)

// runVerifyMJS runs the independent Node.js verifier, which knows only
// docs/RECEIPTS.md, and returns its output and whether it passed.
func runVerifyMJS(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the independent verifier is not run")
	}
	out, err := exec.Command(node, append([]string{"testdata/verify.mjs"}, args...)...).CombinedOutput()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out)), err == nil
}

func TestIndependentVerifierAcceptsTheVectors(t *testing.T) {
	if out, ok := runVerifyMJS(t, "--vectors", vectorsDir); !ok {
		t.Fatalf("verify.mjs rejects the committed vectors: %s", out)
	}
}

// A receipt freshly made by the Go code, for an event as storage records
// it, verifies with nothing but the receipt and the JWKS; a changed one does
// not.
func TestIndependentVerifierAcceptsAFreshReceipt(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(NewOrigin("likeness-test", nil), priv)
	if err != nil {
		t.Fatal(err)
	}
	tree := NewTree()
	var evs []Event
	for i := range int64(6) {
		ev := &likeness.ConsentEvent{ID: "evt_fresh", SubjectID: "sub_ü", Purpose: "voice-training", Type: likeness.EventType(TypeGrant),
			Method: "checkbox", NoticeVersion: 4, NoticeSHA256: strings.Repeat("ab", 32), Language: "de",
			Collector: "kiosk <7> & \"lobby\"\t\u2029\b\f\x01\x7f\\ é😀", Time: time.Now().Add(time.Duration(i) * time.Second), Sealed: []byte{byte(i)}}
		e := FromConsent(ev, i)
		evs = append(evs, e)
		tree.Append(LeafHash(e.LeafData()))
	}
	root, _ := tree.Root(tree.Size())
	cp, err := s.SignCheckpoint(Checkpoint{Size: tree.Size(), Root: root, TimeMicros: likeness.Micros(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewReceiptLedger(tree, 4, cp)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.SignReceipt(vectorClaims(evs[4], l))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jwks := write("jwks.json", string(s.Verifier().JWKS()))
	if out, ok := runVerifyMJS(t, "--receipt", write("r.jws", jws), "--jwks", jwks, "--origin", s.Name()); !ok {
		t.Fatalf("verify.mjs rejects a fresh receipt: %s", out)
	}

	c := vectorClaims(evs[4], l)
	c.Event.Collector = "someone else"
	payload, _ := json.Marshal(c)
	forged, err := s.signJWS(payload, s.Verifier().Thumbprint())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jws, ".")
	swapped := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	for name, bad := range map[string]string{"edited event, re-signed": forged, "edited payload": swapped} {
		if out, ok := runVerifyMJS(t, "--receipt", write("bad.jws", bad), "--jwks", jwks); ok || !strings.HasPrefix(out, "FAIL:") {
			t.Errorf("%s: verify.mjs accepted it: %s", name, out)
		}
	}
	if out, ok := runVerifyMJS(t, "--receipt", write("r.jws", jws), "--jwks", jwks, "--origin", "likeness-test"); ok {
		t.Errorf("verify.mjs accepted a receipt of another origin: %s", out)
	}
}

// A consent held for a reviewer and the reviewer's verdict: both receipts
// verify with the independent verifier, which knows the validation and
// refers members from docs/RECEIPTS.md; a verdict whose refers was changed
// does not.
func TestIndependentVerifierAcceptsValidationReceipts(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(NewOrigin("likeness-test", nil), priv)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	pending := &likeness.ConsentEvent{ID: "evt_pending", SubjectID: "sub_a", Purpose: "voice-training", Type: likeness.Grant,
		Method: "verbal", NoticeVersion: 2, NoticeSHA256: strings.Repeat("cd", 32), Language: "en", Collector: "key_kiosk",
		Time: at, Sealed: []byte{1}, Validation: likeness.ValidationPending}
	verdict := &likeness.ConsentEvent{ID: "evt_verdict", SubjectID: "sub_a", Purpose: "voice-training", Type: likeness.Validated,
		Collector: "operator:rita", Time: at.Add(time.Hour), Sealed: []byte{2}, Refers: "evt_pending"}
	tree := NewTree()
	evs := []Event{FromConsent(pending, 0), FromConsent(verdict, 1)}
	for _, e := range evs {
		tree.Append(LeafHash(e.LeafData()))
	}
	root, _ := tree.Root(tree.Size())
	cp, err := s.SignCheckpoint(Checkpoint{Size: tree.Size(), Root: root, TimeMicros: likeness.Micros(at.Add(2 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jwks := write("jwks.json", string(s.Verifier().JWKS()))
	for i, e := range evs {
		l, err := NewReceiptLedger(tree, uint64(i), cp)
		if err != nil {
			t.Fatal(err)
		}
		c := vectorClaims(e, l)
		jws, err := s.SignReceipt(c)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Verifier().VerifyReceipt(jws); err != nil || got.Validation != e.Validation || got.Refers != e.Refers {
			t.Fatalf("%s receipt in Go: %+v, %v", e.Type, got, err)
		}
		if out, ok := runVerifyMJS(t, "--receipt", write("r.jws", jws), "--jwks", jwks, "--origin", s.Name()); !ok {
			t.Fatalf("verify.mjs rejects the %s receipt: %s", e.Type, out)
		}
		// A claim that disagrees with the leaf, re-signed, is refused by both.
		c.Refers = "evt_other"
		payload, _ := json.Marshal(c)
		forged, err := s.signJWS(payload, s.Verifier().Thumbprint())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verifier().VerifyReceipt(forged); err == nil {
			t.Errorf("%s receipt with a changed refers claim verifies in Go", e.Type)
		}
		if out, ok := runVerifyMJS(t, "--receipt", write("bad.jws", forged), "--jwks", jwks); ok {
			t.Errorf("%s receipt with a changed refers claim: verify.mjs accepted it: %s", e.Type, out)
		}
	}
}
