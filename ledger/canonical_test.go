package ledger

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"
)

// jcsLeaf is the version-2 leaf as a general RFC 8785 implementation makes
// it from Go's encoding of the event: what appendLeafV2 must equal.
func jcsLeaf(t *testing.T, e Event) []byte {
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

func FuzzLeafV2MatchesJCS(f *testing.F) {
	f.Add("Zoë <kiosk> & co\u2028", "ev-1", "voice-cloning", "en", int64(1_767_225_600_000_000), int64(3), uint64(7), true)
	f.Add("", "", "", "", int64(0), int64(0), uint64(0), false)
	f.Add("tab\there \"q\" \\ back\x00\x01\x1f\x7f", "id\u2029\U0001F600", "p\b\f\n\r", "de", int64(-1_000_000), int64(1<<40), uint64(1<<52), false)
	f.Add("bad \xff\xfe utf-8 \xc3", "\xed\xa0\x80", "é", "x", int64(1), int64(-5), uint64(1), true)
	f.Fuzz(func(t *testing.T, collector, id, purpose, language string, micros, notice int64, index uint64, imported bool) {
		if !safeInt(micros) || !safeInt(notice) || index > maxSafeInt {
			return
		}
		e := Event{Version: LeafV2, Index: index, ID: id, Type: TypeGrant, SubjectID: "sub_" + id, Purpose: purpose,
			NoticeVersion: notice, NoticeSHA256: collector, Method: purpose, Language: language, Collector: collector,
			TimeMicros: micros, SealedSHA256: language, Imported: imported}
		got, err := e.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		if want := jcsLeaf(t, e); !bytes.Equal(got, want) {
			t.Fatalf("leaf differs from RFC 8785 of the event\n got %q\nwant %q", got, want)
		}
	})
}
