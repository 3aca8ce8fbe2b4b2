package ledger

import (
	"encoding/json"
	"strings"
	"testing"
)

// fuzzReceipt returns a verifier, a valid receipt from its signer, a later
// signed checkpoint and the consistency proof to it: the seeds every
// receipt fuzz target starts from.
func fuzzReceipt(tb testing.TB) (*Verifier, string, []byte, [][32]byte) {
	tb.Helper()
	f := newReceiptFixture(tb, 5)
	jws, err := f.signer.SignReceipt(f.claims(tb, 2))
	if err != nil {
		tb.Fatal(err)
	}
	for i := uint64(5); i < 9; i++ {
		f.tree.Append(LeafHash(testEvent(i).LeafData()))
	}
	proof, err := f.tree.ConsistencyProof(5, 9)
	if err != nil {
		tb.Fatal(err)
	}
	return f.signer.Verifier(), jws, f.checkpoint(tb, f.signer, 9), proof
}

// FuzzVerifyReceipt feeds the receipt verifier what a stranger may hand a
// relying party: any text as a compact JWS. It must never panic, and what
// it accepts must be a receipt whose claims agree with each other.
func FuzzVerifyReceipt(f *testing.F) {
	v, jws, _, _ := fuzzReceipt(f)
	f.Add(jws)
	parts := strings.Split(jws, ".")
	f.Add(parts[0] + ".." + parts[2])
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("e30.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := v.VerifyReceipt(in)
		if err != nil {
			return
		}
		if err := claimsAgree(c); err != nil {
			t.Fatalf("accepted a receipt whose claims disagree: %v", err)
		}
	})
}

// FuzzVerifyReceiptAgainst feeds a later checkpoint and a consistency
// proof, both a stranger's, to the receipt verifier.
func FuzzVerifyReceiptAgainst(f *testing.F) {
	v, jws, later, proof := fuzzReceipt(f)
	hashes, _ := json.Marshal(EncodeHashes(proof))
	f.Add(later, hashes)
	f.Add([]byte("likeness.example\n9\n\n"), []byte(`[]`))
	f.Add([]byte{}, []byte(`["zz"]`))
	f.Fuzz(func(t *testing.T, checkpoint, proofJSON []byte) {
		var hs []string
		if json.Unmarshal(proofJSON, &hs) != nil {
			return
		}
		nodes, err := DecodeHashes(hs)
		if err != nil {
			return
		}
		v.VerifyReceiptAgainst(jws, checkpoint, nodes)
	})
}

// FuzzOpenCheckpoint feeds signed-note text to the checkpoint parser and
// verifier; what opens must parse again to the same checkpoint.
func FuzzOpenCheckpoint(f *testing.F) {
	v, _, later, _ := fuzzReceipt(f)
	f.Add(later)
	f.Add([]byte("likeness.example\n1\nAAAA\n\n— likeness.example x\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ParseCheckpoint(in)
		cp, err := v.OpenCheckpoint(in)
		if err != nil {
			return
		}
		again, err := v.OpenCheckpoint(in)
		if err != nil || again != cp {
			t.Fatalf("an opened checkpoint does not open again alike: %+v %+v %v", cp, again, err)
		}
	})
}

// FuzzVerifyStatement feeds any text to the signed-statement verifier
// (erasure certificates and other statements are checked through it).
func FuzzVerifyStatement(f *testing.F) {
	s := testSigner(f, "likeness.example", "fuzz")
	jws, err := s.SignStatement("erasure", []byte(`{"subject":"sub_x"}`))
	if err != nil {
		f.Fatal(err)
	}
	v := s.Verifier()
	f.Add("erasure", jws)
	f.Add("receipt", jws)
	f.Add("erasure", "a.b.c")
	f.Fuzz(func(t *testing.T, typ, in string) {
		v.VerifyStatement(typ, in)
	})
}
