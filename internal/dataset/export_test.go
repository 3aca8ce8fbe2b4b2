package dataset_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/dataset"
	"likeness/policy"
)

// A version recorded without its folder (as a build over HTTP records it)
// is exported to exactly the folder its build would have written: the
// same files, byte for byte, as a build that wrote one. A tainted version
// is refused, and writes nothing.
func TestAnExportWritesTheRecordedVersionByteForByte(t *testing.T) {
	f := newFixture(t, "", policy.Default()) // ai-training: faces blur_bystanders, voice mcadams
	face, err := os.ReadFile("../anonymize/testdata/face.jpg")
	if err != nil {
		t.Fatal(err)
	}
	ann, ben := f.subject("ann", "ai-training"), f.subject("ben", "ai-training")
	f.upload(ann, "ai-training", "image", "image/jpeg", face)
	f.upload(ann, "ai-training", "voice", "audio/wav", speech(t))
	f.upload(ben, "ai-training", "voice", "audio/wav", speech(t))
	req := func(out string) *dataset.BuildRequest {
		return &dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image", "voice"}, Out: out}
	}
	built := f.build(req(filepath.Join(t.TempDir(), "built")))
	recorded := f.build(req(""))
	if recorded.ItemCount != 3 || built.ItemCount != 3 {
		t.Fatalf("builds: %d and %d items, want 3", built.ItemCount, recorded.ItemCount)
	}

	exported, err := f.ds.Export(f.ctx, recorded.ID, req(filepath.Join(t.TempDir(), "exported")))
	if err != nil {
		t.Fatal(err)
	}
	got := readTree(t, exported.Path)
	if len(got) != 3+3 { // the items, metadata.jsonl, card.json, card.md
		t.Fatalf("exported %d files: %v", len(got), keys(got))
	}
	if sum := sha256Hex(got["metadata.jsonl"]); sum != recorded.ManifestSHA256 {
		t.Errorf("exported manifest SHA-256 %s, recorded %s", sum, recorded.ManifestSHA256)
	}
	// The same export of the version whose build wrote a folder gives that
	// folder again, byte for byte.
	again, err := f.ds.Export(f.ctx, built.ID, req(filepath.Join(t.TempDir(), "again")))
	if err != nil {
		t.Fatal(err)
	}
	want, redone := readTree(t, built.Path), readTree(t, again.Path)
	if len(want) != len(redone) {
		t.Fatalf("built %v, exported %v", keys(want), keys(redone))
	}
	for name, b := range want {
		if !bytes.Equal(redone[name], b) {
			t.Errorf("%s differs between the build's folder and the export", name)
		}
	}
	if _, err := f.ds.Export(f.ctx, built.ID, req(filepath.Dir(again.Path))); err == nil {
		t.Error("an export over an existing folder succeeded")
	}

	f.withdraw(ben, "ai-training")
	out := filepath.Join(t.TempDir(), "tainted")
	refused := func(id, says string) {
		t.Helper()
		_, err := f.ds.Export(f.ctx, id, req(out))
		if likeness.ErrorCode(err) != likeness.ECONFLICT || !strings.Contains(err.Error(), says) {
			t.Fatalf("export of a tainted version: %v, want a conflict saying %q", err, says)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("a refused export left %d entries", len(entries))
		}
	}
	refused(recorded.ID, "rebuild it (likeness dataset rebuild "+recorded.ID+")")
	// With a successor, the refusal names the newest version of the line,
	// and whether it is usable.
	v2, err := f.ds.Rebuild(f.ctx, recorded.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	refused(recorded.ID, "export the newest version of its line, "+v2.ID)
	f.withdraw(ann, "ai-training")
	refused(recorded.ID, "its successors down to the newest, "+v2.ID+", are tainted too: rebuild that one")
}

// readTree reads every file under dir, by path relative to it.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
