package decision

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
	"time"

	"likeness"
)

// snapshotEngine is an engine with every kind of entry a snapshot holds:
// keyed and named subjects, erased ones, grants in every state, assets.
func snapshotEngine(t *testing.T) (*Engine, []string) {
	t.Helper()
	e := testEngine(t)
	var ids []string
	for i := range 40 {
		id := likeness.NewID("sub")
		if i%7 == 0 {
			id = fmt.Sprintf("legacy-%d", i)
		}
		ids = append(ids, id)
		e.PutSubject(id, benchJurisdictions[i%len(benchJurisdictions)])
		for k, purpose := range []string{"ai-training", "marketing", "transcription", "retired"} {
			if (i+k)%4 == 0 {
				continue
			}
			method := likeness.Checkbox
			if (i+k)%3 == 0 {
				method = likeness.Written
			}
			grantAt(e, id, purpose, method, t0.Add(time.Duration(i)*time.Hour))
		}
		switch i % 5 {
		case 1:
			e.Apply(event(likeness.Withdraw, id, "marketing", "", t0.Add(1000*time.Hour)))
		case 2:
			e.Apply(event(likeness.Expire, id, "transcription", "", t0.Add(1000*time.Hour)))
		case 3:
			e.EraseSubject(id)
		case 4:
			// Grants waiting for a reviewer, and verdicts on them.
			g := event(likeness.Grant, id, "marketing", likeness.Verbal, t0.Add(1000*time.Hour))
			g.Validation = likeness.ValidationPending
			e.Apply(g)
			if i%3 != 0 {
				verdict := event(likeness.Validated, id, "marketing", "", t0.Add(1001*time.Hour))
				if i%3 == 1 {
					verdict.Type = likeness.ValidationRejected
				}
				verdict.Refers = g.ID
				e.Apply(verdict)
			}
		}
		// Collected for one purpose or another (or none the policy names):
		// the loaded engine must tell them apart as the original does.
		purpose := []string{"marketing", "ai-training", "retired", ""}[i%4]
		e.PutAsset(&likeness.Asset{ID: likeness.NewID("ast"), SubjectID: id, Purpose: purpose, Category: "voice", RetainUntil: t0.Add(time.Duration(i) * 24 * time.Hour)})
	}
	e.EraseSubject("never-seen")
	e.PutAsset(&likeness.Asset{ID: "legacy-asset", SubjectID: ids[0], Category: "image"})
	ids = append(ids, "never-seen", "nobody")
	return e, ids
}

// decisions asks e every question about ids the tests care about.
func decisions(e *Engine, ids []string) []string {
	var out []string
	at := []time.Time{{}, t0.Add(10 * time.Hour), t0.Add(400 * 24 * time.Hour)}
	for _, id := range ids {
		for _, purpose := range []string{"ai-training", "marketing", "transcription", "retired"} {
			for _, a := range at {
				r := likeness.DecisionRequest{SubjectID: id, Purpose: purpose, Category: "voice", Recipient: "gpu-cloud-us", At: a}
				st, exp := e.State(id, purpose, a)
				out = append(out, fmt.Sprint(e.Decide(&r), st, exp))
			}
		}
	}
	e.mu.RLock()
	for k := range e.assets.keyed {
		for _, purpose := range []string{"marketing", "ai-training"} {
			r := likeness.DecisionRequest{AssetID: k.format(assetPrefix), Purpose: purpose}
			out = append(out, fmt.Sprint(r.AssetID, purpose, e.decide(&r, e.Now())))
		}
	}
	e.mu.RUnlock()
	r := likeness.DecisionRequest{AssetID: "legacy-asset", Purpose: "marketing"}
	out = append(out, fmt.Sprint(e.Decide(&r)))
	s, g := e.Stats()
	out = append(out, fmt.Sprint(s, g, e.DueForRenewal(t0, 400*24*time.Hour, 0)))
	slices.Sort(out)
	return out
}

func writeSnapshot(t *testing.T, e *Engine, revision int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := e.WriteSnapshot(&buf, revision); err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	return buf.Bytes()
}

func TestSnapshotRoundTripDecidesAlike(t *testing.T) {
	e, ids := snapshotEngine(t)
	snap := writeSnapshot(t, e, 12345)

	f := testEngine(t)
	f.Apply(event(likeness.Grant, "x", "marketing", "", t0)) // interns nothing new: x is unknown
	rev, err := f.LoadSnapshot(bytes.NewReader(snap))
	if err != nil || rev != 12345 {
		t.Fatalf("LoadSnapshot = %d, %v; want 12345, nil", rev, err)
	}
	if want, got := decisions(e, ids), decisions(f, ids); !slices.Equal(want, got) {
		for i := range min(len(want), len(got)) {
			if want[i] != got[i] {
				t.Fatalf("loaded engine decides\n%s\nwhere the original decides\n%s", got[i], want[i])
			}
		}
		t.Fatalf("loaded engine gives %d answers, the original %d", len(got), len(want))
	}
	if again := writeSnapshot(t, f, 12345); len(again) != len(snap) {
		t.Errorf("snapshot of the loaded engine is %d bytes, the original %d", len(again), len(snap))
	}

	// The loaded engine keeps working: later events apply, erasure sticks.
	id := ids[1]
	grantAt(f, id, "transcription", likeness.Checkbox, t0.Add(700*time.Hour))
	checkDecision(t, f.Decide(req(id, "transcription", "voice")), true, 0)
	f.PutSubject(ids[3], "EU-DE")
	checkDecision(t, f.Decide(req(ids[3], "marketing", "voice")), false, reasonSet(likeness.ReasonSubjectErased))
}

func TestSnapshotOfEmptyEngineLoads(t *testing.T) {
	e := testEngine(t)
	if _, err := testEngine(t).LoadSnapshot(bytes.NewReader(writeSnapshot(t, e, -1))); err != nil {
		t.Fatal(err)
	}
}

// TestBadSnapshotIsRefusedAndChangesNothing checks the promise the caller's
// fallback rests on: a snapshot that is not exactly what was written errors
// (corrupt or wrong version), and the engine keeps what it held.
func TestBadSnapshotIsRefusedAndChangesNothing(t *testing.T) {
	e, ids := snapshotEngine(t)
	snap := writeSnapshot(t, e, 7)

	other := testEngine(t)
	other.PutSubject("kept", "EU-DE")
	grantAt(other, "kept", "marketing", likeness.Checkbox, t0)
	before := decisions(other, append(ids, "kept"))

	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(snap)) }
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":          {nil, ErrSnapshotCorrupt},
		"bad magic":      {mutate(func(b []byte) []byte { b[0] = 'X'; return b }), ErrSnapshotCorrupt},
		"newer version":  {mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], SnapshotVersion+1); return b }), ErrSnapshotVersion},
		"version 1":      {mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 1); return b }), ErrSnapshotVersion},
		"header flipped": {mutate(func(b []byte) []byte { b[33] ^= 1; return b }), ErrSnapshotCorrupt},
		"trailer only":   {mutate(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), ErrSnapshotCorrupt},
		"extra grant count": {mutate(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[40:], binary.LittleEndian.Uint64(b[40:])+1)
			binary.LittleEndian.PutUint32(b[56:], crcOf(b[:56]))
			return b
		}), ErrSnapshotCorrupt},
	}
	// Every byte of the body flipped in turn, and every length cut short.
	for i := snapshotHeader; i < len(snap); i += max(1, len(snap)/120) {
		cases[fmt.Sprint("flip ", i)] = struct {
			data []byte
			want error
		}{mutate(func(b []byte) []byte { b[i] ^= 0x10; return b }), ErrSnapshotCorrupt}
	}
	for n := 0; n < len(snap); n += max(1, len(snap)/80) {
		cases[fmt.Sprint("cut at ", n)] = struct {
			data []byte
			want error
		}{snap[:n], ErrSnapshotCorrupt}
	}
	cases["cut before trailer"] = struct {
		data []byte
		want error
	}{snap[:len(snap)-1], ErrSnapshotCorrupt}

	for name, c := range cases {
		if _, err := other.LoadSnapshot(bytes.NewReader(c.data)); !errors.Is(err, c.want) {
			t.Errorf("%s: LoadSnapshot error = %v, want %v", name, err, c.want)
		}
	}
	if after := decisions(other, append(ids, "kept")); !slices.Equal(before, after) {
		t.Errorf("a refused snapshot changed the engine")
	}
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func TestSnapshotReadErrorIsReturned(t *testing.T) {
	e, _ := snapshotEngine(t)
	snap := writeSnapshot(t, e, 1)
	boom := errors.New("disk on fire")
	_, err := testEngine(t).LoadSnapshot(&failingReader{data: snap[:len(snap)/2], err: boom})
	if !errors.Is(err, boom) {
		t.Errorf("LoadSnapshot error = %v, want %v", err, boom)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}
