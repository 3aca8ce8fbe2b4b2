package decision

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"testing"
	"time"

	"likeness"
)

func TestKeyRoundTripsNewIDs(t *testing.T) {
	enc := base32.NewEncoding(keyAlphabet).WithPadding(base32.NoPadding)
	for range 1000 {
		var raw key
		rand.Read(raw[:])
		id := "sub_" + enc.EncodeToString(raw[:])
		k, ok := parseKey("sub", id)
		if !ok || k != raw {
			t.Fatalf("parseKey(%q) = %x, %v; want %x", id, k, ok, raw)
		}
		if got := k.format("sub"); got != id {
			t.Fatalf("format = %q, want %q", got, id)
		}
	}
	if id := likeness.NewID("sub"); !roundTrips(id) {
		t.Errorf("likeness.NewID id %q does not round-trip", id)
	}
}

func roundTrips(id string) bool {
	k, ok := parseKey("sub", id)
	return ok && k.format("sub") == id
}

func TestKeyRejectsOtherIDs(t *testing.T) {
	good := "sub_" + "abcdefghijklmnopqrstuvwxya"
	if !roundTrips(good) {
		t.Fatalf("%q should parse", good)
	}
	for _, id := range []string{
		"",
		"sub_",
		"sub_abcdefghijklmnopqrstuvwxy",   // short
		"sub_abcdefghijklmnopqrstuvwxyaa", // long
		"ast_abcdefghijklmnopqrstuvwxya",  // other prefix
		"sub-abcdefghijklmnopqrstuvwxya",
		"sub_abcdefghijklmnopqrstuvwxyb", // unused low bits set: not canonical
		"sub_Abcdefghijklmnopqrstuvwxya", // upper case
		"sub_abcdefghijklmnopqrstuvwx1a", // not in the alphabet
		"sub_abcdefghijklmnopqrstuvwxy=",
	} {
		if _, ok := parseKey("sub", id); ok {
			t.Errorf("parseKey(%q) accepted", id)
		}
	}
}

// TestKeyedAndNamedSubjectsDecideAlike runs the same history for a subject
// with a NewID-shaped id (indexed by its 16 bytes) and one with another id.
func TestKeyedAndNamedSubjectsDecideAlike(t *testing.T) {
	e := testEngine(t)
	keyed, named := likeness.NewID("sub"), "subject-7"
	near := keyed[:len(keyed)-1] + "b" // same bytes if the low bits were ignored
	for _, id := range []string{keyed, named} {
		e.PutSubject(id, "US-IL")
		grantAt(e, id, "marketing", likeness.Written, t0)
		grantAt(e, id, "ai-training", likeness.Checkbox, t0)
		grantAt(e, id, "transcription", likeness.Checkbox, t0)
		e.Apply(event(likeness.Withdraw, id, "transcription", "", t0.Add(time.Hour)))
	}
	for _, c := range []struct {
		purpose, category string
		allow             bool
		want              likeness.Reasons
	}{
		{"marketing", "image", true, 0},
		{"ai-training", "voice", false, reasonSet(likeness.ReasonWrittenReleaseRequired)},
		{"transcription", "voice", false, reasonSet(likeness.ReasonWithdrawn)},
	} {
		for _, id := range []string{keyed, named} {
			t.Run(fmt.Sprint(len(id), c.purpose), func(t *testing.T) {
				checkDecision(t, e.Decide(req(id, c.purpose, c.category)), c.allow, c.want)
			})
		}
	}
	checkDecision(t, e.Decide(req(near, "marketing", "image")), false, reasonSet(likeness.ReasonSubjectNotFound))
	if due := e.DueForRenewal(t0.Add(400*24*time.Hour), 0, 0); len(due) != 2 || due[0].SubjectID != named && due[0].SubjectID != keyed {
		t.Errorf("DueForRenewal = %+v, want both subjects' ai-training", due)
	}
	e.EraseSubject(keyed)
	checkDecision(t, e.Decide(req(keyed, "marketing", "image")), false, reasonSet(likeness.ReasonSubjectErased))
	if s, g := e.Stats(); s != 1 || g != 3 {
		t.Errorf("Stats = %d, %d; want 1, 3", s, g)
	}
}

// TestGrantsSurviveSlabCompaction gives subjects their purposes one round
// at a time, as a replay of the ledger would, so every subject's block moves
// each round and the slab compacts. Purposes x1 and x2 are not in the
// policy: their grants are kept but decide nothing.
func TestGrantsSurviveSlabCompaction(t *testing.T) {
	e := testEngine(t)
	e.slab.compactMin = 1
	const subjects = 200
	ids := make([]string, subjects)
	for i := range ids {
		ids[i] = likeness.NewID("sub")
		e.PutSubject(ids[i], "EU-DE")
	}
	last := map[string]string{}
	for round, purpose := range []string{"transcription", "marketing", "x1", "ai-training", "x2", "marketing"} {
		for _, id := range ids {
			ev := grantAt(e, id, purpose, likeness.Checkbox, t0.Add(time.Duration(round)*time.Second))
			last[id+purpose] = ev.ID
		}
	}
	for _, id := range ids {
		for _, purpose := range []string{"transcription", "marketing", "ai-training"} {
			d := e.Decide(req(id, purpose, "voice"))
			if !d.Allow || d.EventID != last[id+purpose] {
				t.Fatalf("%s: allow %v %v event %q, want allow event %q", purpose, d.Allow, d.Reasons.Names(), d.EventID, last[id+purpose])
			}
		}
	}
	// Without compaction 2+3+4+5 = 14 grants per subject would be dead.
	if e.slab.dead >= e.slab.live {
		t.Errorf("slab holds %d dead grants for %d live: not compacted", e.slab.dead, e.slab.live)
	}
	if _, g := e.Stats(); g != 5*subjects {
		t.Errorf("grants = %d, want %d", g, 5*subjects)
	}
}
