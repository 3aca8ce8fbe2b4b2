// Package snapshot starts a replica's in-memory state (the decision index
// and the ledger tree) without replaying the whole history, and keeps a
// recent copy of it on disk for the next start.
//
// A snapshot file is written in the background at a ledger revision R (the
// ledger size: every event below R is in it): the index as
// decision.WriteSnapshot writes it, the ledger tree's state at R
// (ledger.Tree.WriteState), and a header naming the deployment (the ledger
// origin, which holds a random deployment id), the SHA-256 of the policy
// it was taken under, the tree's root at R, and the time from which
// subject and asset changes must be read again. It is written to a
// temporary file, synced, renamed over the previous one and its folder
// synced, so a crash leaves the old snapshot or the new one, never a mix.
//
// At start, Loader.Load uses the snapshot only when every check passes:
// the header and the tree verify (CRC-32C), the index verifies (its own
// checksums), it names this deployment and this policy, R is not beyond
// the stored ledger (a database restored from a backup is shorter), and
// the stored leaf hashes of the block ending at R are those of the
// snapshot's tree (a ledger that diverged after a restore differs there).
// It then applies the tail: consent events from index R on, subjects
// created since the snapshot's time less follow.Overlap, and subjects and
// assets changed since then, as the follower reads them. Otherwise it logs why and loads everything from the
// database. Nothing is served from the index until Load returns.
//
// A snapshot is a cache the service writes for itself, trusted like the
// rest of its disk: the checksums catch torn or corrupted files, not an
// attacker with write access to the data folder. Events before R are not
// re-hashed at start; `likeness ledger verify` checks the whole ledger.
package snapshot

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"likeness"
)

// Format, version 1, integers little-endian:
//
//	magic "LKSTATE1", version u32, flags u32 (0), revision u64,
//	root [32], since i64 (unix µs), written i64 (unix µs),
//	policy SHA-256 [32], origin: len u16, bytes
//	tree state (ledger.Tree.WriteState at revision)
//	CRC-32C of everything above u32
//	decision index (decision.Engine.WriteSnapshot at revision)
const (
	magic   = "LKSTATE1"
	version = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrMismatch is wrapped by the errors of a snapshot that verifies but does
// not belong to this deployment, policy or ledger: load from the database.
var ErrMismatch = errors.New("snapshot does not match")

// errCorrupt is wrapped by the errors of a snapshot that does not verify.
var errCorrupt = errors.New("snapshot corrupt")

// header is a snapshot's first section.
type header struct {
	revision int64
	root     [32]byte
	since    time.Time // re-read subject and asset changes from here (less the overlap)
	written  time.Time
	policy   [32]byte
	origin   string
}

func (h *header) encode() []byte {
	b := make([]byte, 0, 128+len(h.origin))
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(h.revision))
	b = append(b, h.root[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(likeness.Micros(h.since)))
	b = binary.LittleEndian.AppendUint64(b, uint64(likeness.Micros(h.written)))
	b = append(b, h.policy[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h.origin)))
	return append(b, h.origin...)
}

// headerFixed is the header's length before the origin's bytes.
const headerFixed = 8 + 4 + 4 + 8 + 32 + 8 + 8 + 32 + 2

// readHeader reads and parses the header from r.
func readHeader(r io.Reader) (header, error) {
	var h header
	var b [headerFixed]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return h, fmt.Errorf("%w: header: %v", errCorrupt, err)
	}
	if string(b[:8]) != magic {
		return h, fmt.Errorf("%w: not a likeness snapshot", errCorrupt)
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[8:]); v != version {
		return h, fmt.Errorf("%w: format version %d, this build reads %d", errCorrupt, v, version)
	}
	h.revision = int64(le.Uint64(b[16:]))
	copy(h.root[:], b[24:56])
	h.since = likeness.FromMicros(int64(le.Uint64(b[56:])))
	h.written = likeness.FromMicros(int64(le.Uint64(b[64:])))
	copy(h.policy[:], b[72:104])
	origin := make([]byte, le.Uint16(b[104:]))
	if _, err := io.ReadFull(r, origin); err != nil {
		return h, fmt.Errorf("%w: header: %v", errCorrupt, err)
	}
	h.origin = string(origin)
	if h.revision < 0 {
		return h, fmt.Errorf("%w: negative revision", errCorrupt)
	}
	return h, nil
}

// PolicyDigest is the policy identity a snapshot records: the SHA-256 of
// the policy file's bytes.
func PolicyDigest(source []byte) [32]byte { return sha256.Sum256(source) }

// counted counts the bytes read through it, for progress.
type counted struct {
	r io.Reader
	n func(int)
}

func (c counted) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n(n)
	return n, err
}
