package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a signed statement of the tree's size and root at a time.
type Checkpoint struct {
	Origin     string // the signing key's name
	Size       uint64
	Root       [32]byte
	TimeMicros int64 // unix microseconds UTC
}

// Text returns the note body: origin, size, base64 root and "time <micros>",
// each on its own line.
func (c Checkpoint) Text() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\ntime %d\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]), c.TimeMicros)
}

// ParseCheckpoint parses a checkpoint note body without checking any
// signature; use Verifier.OpenCheckpoint for signed bytes.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	lines := strings.Split(string(text), "\n")
	if len(lines) != 5 || lines[4] != "" {
		return Checkpoint{}, errors.New("ledger: malformed checkpoint: want 4 lines")
	}
	c := Checkpoint{Origin: lines[0]}
	if c.Origin == "" {
		return Checkpoint{}, errors.New("ledger: malformed checkpoint: empty origin")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("ledger: malformed checkpoint size %q", lines[1])
	}
	c.Size = size
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, fmt.Errorf("ledger: malformed checkpoint root %q", lines[2])
	}
	c.Root = [32]byte(root)
	ts, ok := strings.CutPrefix(lines[3], "time ")
	t, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || strconv.FormatInt(t, 10) != ts {
		return Checkpoint{}, fmt.Errorf("ledger: malformed checkpoint time line %q", lines[3])
	}
	c.TimeMicros = t
	return c, nil
}

// SignCheckpoint returns c as a signed note. An empty Origin is filled with
// the signer's name; any other origin is refused.
func (s *Signer) SignCheckpoint(c Checkpoint) ([]byte, error) {
	if c.Origin == "" {
		c.Origin = s.name
	}
	if c.Origin != s.name {
		return nil, fmt.Errorf("ledger: sign checkpoint: origin %q is not the key name %q", c.Origin, s.name)
	}
	signed, err := note.Sign(&note.Note{Text: string(c.Text())}, s.note)
	if err != nil {
		return nil, fmt.Errorf("ledger: sign checkpoint: %w", err)
	}
	return signed, nil
}

// ErrCheckpointSignature is wrapped by OpenCheckpoint's error when the note
// is not validly signed by the verifier's key.
var ErrCheckpointSignature = errors.New("checkpoint not signed by this key")

// OpenCheckpoint verifies the note signature against v's key and parses the
// checkpoint; its origin must be the key's name.
func (v *Verifier) OpenCheckpoint(signed []byte) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v.note))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: open checkpoint: %w: %v", ErrCheckpointSignature, err)
	}
	for _, sig := range n.Sigs {
		// note accepts non-zero base64 padding bits; one checkpoint has one
		// encoding.
		if _, err := base64.StdEncoding.Strict().DecodeString(sig.Base64); err != nil {
			return Checkpoint{}, fmt.Errorf("ledger: open checkpoint: %w: non-canonical signature encoding", ErrCheckpointSignature)
		}
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("ledger: open checkpoint: origin %q is not the key name %q", c.Origin, v.Name())
	}
	return c, nil
}

// unverifiedCheckpoint parses a signed note's body without checking the
// signature, for reporting on checkpoints that failed to open.
func unverifiedCheckpoint(signed []byte) (Checkpoint, bool) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return Checkpoint{}, false
	}
	c, err := ParseCheckpoint(signed[:i+1])
	return c, err == nil
}
