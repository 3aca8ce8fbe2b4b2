package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// testSigner returns a signer whose key is derived from seed, so tests are
// repeatable.
func testSigner(t testing.TB, name, seed string) *Signer {
	t.Helper()
	s := sha256.Sum256([]byte(seed))
	signer, err := NewSigner(name, ed25519.NewKeyFromSeed(s[:]))
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

func TestNoteKeyRoundTrip(t *testing.T) {
	skey, vkey, err := GenerateKey("likeness.example", bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSignerFromNoteKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifierKey() != vkey {
		t.Errorf("VerifierKey() = %q, want %q", s.VerifierKey(), vkey)
	}
	v, err := NewVerifier(vkey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != "likeness.example" || len(v.PublicKey()) != ed25519.PublicKeySize || v.NoteVerifier().Name() != "likeness.example" {
		t.Errorf("verifier = %q %x", v.Name(), v.PublicKey())
	}
	if !strings.HasPrefix(vkey, "likeness.example+"+v.KeyID()+"+") {
		t.Errorf("KeyID %q not in %q", v.KeyID(), vkey)
	}
}

func TestMalformedKeysAreRefused(t *testing.T) {
	skey, vkey, _ := GenerateKey("likeness.example", bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	for _, k := range []string{"", "PRIVATE+KEY+x", strings.Replace(skey, "likeness.example", "other.example", 1), vkey} {
		if _, err := NewSignerFromNoteKey(k); err == nil {
			t.Errorf("NewSignerFromNoteKey(%q) succeeded", k)
		}
	}
	for _, k := range []string{"", "x+00000000+AAAA", strings.Replace(vkey, "likeness.example", "other.example", 1), skey} {
		if _, err := NewVerifier(k); err == nil {
			t.Errorf("NewVerifier(%q) succeeded", k)
		}
	}
	if _, err := NewSigner("has space", ed25519.NewKeyFromSeed(make([]byte, 32))); err == nil {
		t.Error("NewSigner accepted a name with a space")
	}
	if _, err := NewSigner("ok", make([]byte, 5)); err == nil {
		t.Error("NewSigner accepted a short key")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	s := testSigner(t, "likeness.example", "a")
	want := Checkpoint{Origin: "likeness.example", Size: 42, Root: LeafHash([]byte("x")), TimeMicros: 1_700_000_000_123_456}
	signed, err := s.SignCheckpoint(want)
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := strings.Cut(string(signed), "\n\n")
	if lines := strings.Split(body, "\n"); len(lines) != 4 || lines[0] != "likeness.example" || lines[1] != "42" || lines[3] != "time 1700000000123456" {
		t.Errorf("checkpoint body = %q", body)
	}
	got, err := s.Verifier().OpenCheckpoint(signed)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("OpenCheckpoint = %+v, want %+v", got, want)
	}
	// An empty origin means the signer's name.
	want.Origin = ""
	signed, _ = s.SignCheckpoint(want)
	if got, err := s.Verifier().OpenCheckpoint(signed); err != nil || got.Origin != "likeness.example" {
		t.Errorf("OpenCheckpoint = %+v, %v", got, err)
	}
	want.Origin = "other"
	if _, err := s.SignCheckpoint(want); err == nil {
		t.Error("SignCheckpoint accepted a foreign origin")
	}
}

func TestCheckpointWithAFlippedByteIsRejected(t *testing.T) {
	s := testSigner(t, "likeness.example", "a")
	signed, _ := s.SignCheckpoint(Checkpoint{Size: 42, Root: LeafHash([]byte("x")), TimeMicros: 1})
	for i := range signed {
		bad := bytes.Clone(signed)
		bad[i] ^= 1
		if _, err := s.Verifier().OpenCheckpoint(bad); err == nil {
			t.Fatalf("checkpoint with byte %d flipped was accepted:\n%s", i, bad)
		}
	}
}

func TestCheckpointSignedByAnotherKeyIsRejected(t *testing.T) {
	ours := testSigner(t, "likeness.example", "a")
	theirs := testSigner(t, "likeness.example", "b")
	signed, _ := theirs.SignCheckpoint(Checkpoint{Size: 1, Root: LeafHash([]byte("x"))})
	_, err := ours.Verifier().OpenCheckpoint(signed)
	if !errors.Is(err, ErrCheckpointSignature) {
		t.Errorf("OpenCheckpoint = %v, want ErrCheckpointSignature", err)
	}
}

func TestParseCheckpointIsStrict(t *testing.T) {
	root := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	for _, text := range []string{
		"o\n1\n" + root + "\ntime 5\n",
	} {
		if _, err := ParseCheckpoint([]byte(text)); err != nil {
			t.Errorf("ParseCheckpoint(%q): %v", text, err)
		}
	}
	for _, text := range []string{
		"o\n1\n" + root + "\ntime 5",
		"o\n01\n" + root + "\ntime 5\n",
		"o\n1\n" + root + "\ntime 05\n",
		"o\n1\n" + root + "\n5\n",
		"o\n1\n" + root + "\ntime 5\nextra\n",
		"\n1\n" + root + "\ntime 5\n",
		"o\n1\nAAAA\ntime 5\n",
		"o\n-1\n" + root + "\ntime 5\n",
	} {
		if _, err := ParseCheckpoint([]byte(text)); err == nil {
			t.Errorf("ParseCheckpoint(%q) succeeded", text)
		}
	}
}
