package ledger

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/gowebpki/jcs"
)

// referenceV2 is the version-2 leaf as the general canonicalizer makes it.
func referenceV2(t testing.TB, e Event) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jcs.Transform(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// awkward are the pieces random strings are made of: escapes, controls,
// HTML characters encoding/json escapes, line separators, multi-byte and
// invalid UTF-8.
var awkward = []string{"a", "Z", "0", " ", `"`, `\`, "/", "\b", "\f", "\n", "\r", "\t", "\x00", "\x01", "\x1f", "\x7f",
	"<", ">", "&", "\u2028", "\u2029", "é", "ß", "€", "😀", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "sub_", "evt_"}

func TestCanonicalLeafMatchesTheGeneralCanonicalizer(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	text := func() string {
		var b []byte
		for range rng.IntN(6) {
			b = append(b, awkward[rng.IntN(len(awkward))]...)
		}
		return string(b)
	}
	num := func() int64 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return -rng.Int64N(maxSafeInt)
		}
		return rng.Int64N(maxSafeInt + 1)
	}
	for i := range 20000 {
		e := Event{Version: LeafV2, Index: uint64(rng.Int64N(maxSafeInt + 1)), ID: text(), Type: text(), SubjectID: text(),
			Purpose: text(), NoticeVersion: num(), NoticeSHA256: text(), Method: text(), Language: text(),
			Collector: text(), TimeMicros: num(), SealedSHA256: text()}
		if i%7 == 0 {
			e.Index = 0
		}
		got, err := e.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceV2(t, e); !bytes.Equal(got, want) {
			t.Fatalf("leaf of %+v:\n got %q\nwant %q", e, got, want)
		}
	}
}

func FuzzCanonicalLeaf(f *testing.F) {
	f.Add("evt_x", "grant", "sub_y", "p", "abc", "checkbox", "en", "key_1", "", int64(3), int64(1700000000000000), uint64(5))
	f.Add("\u2028<&>", "\x00\x1f", "\xff", `"\`, "😀", "", "", "", "\xed\xa0\x80", int64(-1), int64(0), uint64(0))
	f.Fuzz(func(t *testing.T, id, typ, sub, purpose, notice, method, lang, collector, sealed string, nv, tm int64, idx uint64) {
		e := Event{Version: LeafV2, Index: idx % (maxSafeInt + 1), ID: id, Type: typ, SubjectID: sub, Purpose: purpose,
			NoticeVersion: nv % maxSafeInt, NoticeSHA256: notice, Method: method, Language: lang, Collector: collector,
			TimeMicros: tm % maxSafeInt, SealedSHA256: sealed}
		got, err := e.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceV2(t, e); !bytes.Equal(got, want) {
			t.Fatalf("leaf of %+v:\n got %q\nwant %q", e, got, want)
		}
	})
}

func BenchmarkConsentLeafHash(b *testing.B) {
	e := Event{Version: LeafV2, Index: 123456, ID: "evt_abcdefghijklmnopqrstuvwxyz", Type: "grant", SubjectID: "sub_abcdefghijklmnopqrstuvwxyz",
		Purpose: "ai-training", NoticeVersion: 3, NoticeSHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Method: "checkbox", Language: "en", Collector: "key_abcdefghijklmnopqrstuvwxyz", TimeMicros: 1700000000000000}
	for b.Loop() {
		LeafHash(e.LeafData())
	}
}
