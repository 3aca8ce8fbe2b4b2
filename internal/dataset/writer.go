package dataset

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"likeness"
)

// writer writes a dataset folder under a temporary name and renames it
// once the record is stored, so a folder under its final name is complete.
// With no folder it only hashes.
type writer struct {
	tmp, final string
	done       bool
}

func newWriter(out string, d *likeness.Dataset) (*writer, error) {
	if out == "" {
		return &writer{}, nil
	}
	name := fmt.Sprintf("%s-v%d", d.ID, d.Version)
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, fmt.Errorf("dataset: create output folder: %w", err)
	}
	// A folder of its own: two exports of one version never share one, and
	// one a crash left behind is in nobody's way.
	tmp, err := os.MkdirTemp(out, "."+name+".partial-*")
	if err != nil {
		return nil, fmt.Errorf("dataset: create output folder: %w", err)
	}
	w := &writer{tmp: tmp, final: filepath.Join(out, name)}
	if err := os.Mkdir(filepath.Join(w.tmp, "data"), 0o700); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("dataset: create output folder: %w", err)
	}
	return w, nil
}

// file writes name (relative to the folder) from r and returns its SHA-256.
func (w *writer) file(name string, r io.Reader) (string, error) {
	h := sha256.New()
	if w.tmp == "" {
		if _, err := io.Copy(h, r); err != nil {
			return "", fmt.Errorf("dataset: read asset: %w", err)
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.OpenFile(filepath.Join(w.tmp, filepath.FromSlash(name)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("dataset: write item: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.Copy(io.MultiWriter(bw, h), r); err != nil {
		f.Close()
		return "", fmt.Errorf("dataset: write item: %w", err)
	}
	if err := flushClose(bw, f); err != nil {
		return "", fmt.Errorf("dataset: write item: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func flushClose(bw *bufio.Writer, f *os.File) error {
	err := bw.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// finish writes the manifest and the card (card.json, card.md).
func (w *writer) finish(manifest []byte, card *Card) error {
	if w.tmp == "" {
		return nil
	}
	cj, err := json.MarshalIndent(card, "", "  ")
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"card.json": append(cj, '\n'), "card.md": []byte(card.Markdown())} {
		if _, err := w.file(name, bytes.NewReader(b)); err != nil {
			return fmt.Errorf("dataset: write card: %w", err)
		}
	}
	f, err := os.OpenFile(filepath.Join(w.tmp, "metadata.jsonl"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("dataset: write manifest: %w", err)
	}
	bw := bufio.NewWriter(f)
	bw.Write(manifest)
	if err := flushClose(bw, f); err != nil {
		return fmt.Errorf("dataset: write manifest: %w", err)
	}
	return nil
}

func (w *writer) publish() error {
	if w.tmp == "" {
		return nil
	}
	if err := os.Rename(w.tmp, w.final); err != nil {
		return fmt.Errorf("dataset: publish folder: %w", err)
	}
	w.done = true
	return nil
}

// abort removes a folder that was not published.
func (w *writer) abort() {
	if w.tmp != "" && !w.done {
		os.RemoveAll(w.tmp)
	}
}
