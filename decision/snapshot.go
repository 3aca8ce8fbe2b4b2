package decision

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A snapshot is the engine's index (subjects, their latest consent event per
// purpose, assets) in a compact binary form, so a process can start from it
// instead of reading every subject and event from the store, then replay
// only the events after it. It does not hold the policy: the loading engine
// keeps its own (New, SetPolicy).
//
// Format, version 3, all integers little-endian:
//
//	header, 64 bytes:
//	  magic "LKDXSNAP", version u32, flags u32 (0), revision i64,
//	  purposes u32, categories u32, subjects u64, grants u64, assets u64,
//	  CRC-32C of the 56 bytes before it u32, reserved u32 (0)
//	body:
//	  purposes, then categories:  len u16, name
//	  subjects:  kind u8 (0: key [16]; 1: len u16, id), regime u8,
//	             country [2], region [2], erased u8, grants u16, then per grant:
//	             purpose u16 (index in the purposes above), state u8 (1 active,
//	             2 withdrawn, 3 expired, 4 pending validation, 5 rejected by
//	             a reviewer), method u8,
//	             notice u32, time i64 (unix µs), ledger index i64,
//	             event id len u16, event id
//	  assets:    kind u8 (0: key [16]; 1: len u16, id),
//	             subject id len u16, subject id, category u16, purpose u16
//	             (collected for; 65535: none the index names), retain i64,
//	             erased u8
//	trailer: CRC-32C of the body u32
//
// Version 1 had no states 4 and 5, version 2 no asset purpose; a file of
// an older version is refused with ErrSnapshotVersion like any other
// version, and the loader falls back to a full load.
//
// The checksums detect a torn or corrupted file, not tampering: a snapshot is
// a cache the service writes for itself, trusted like the rest of its disk.

// SnapshotVersion is the format version WriteSnapshot writes and the only one
// LoadSnapshot reads.
const SnapshotVersion = 3

const (
	snapshotMagic  = "LKDXSNAP"
	snapshotHeader = 64
)

var (
	// ErrSnapshotVersion is returned (wrapped) by LoadSnapshot for a
	// snapshot of another format version: fall back to a full load.
	ErrSnapshotVersion = errors.New("decision: snapshot format version not supported")
	// ErrSnapshotCorrupt is returned (wrapped) by LoadSnapshot for a
	// snapshot that is truncated, fails its checksum or does not parse:
	// fall back to a full load.
	ErrSnapshotCorrupt = errors.New("decision: snapshot corrupt")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot writes the index to w with the caller's revision, an opaque
// number LoadSnapshot returns: typically the ledger index or outbox position
// of the last event applied, from which the loader replays. It holds the read
// lock throughout, so decisions go on while writes wait; w should be
// buffered or fast (a file). The caller makes the file durable and replaces
// the previous snapshot atomically (write to a temporary name, fsync,
// rename).
func (e *Engine) WriteSnapshot(w io.Writer, revision int64) error {
	e.mu.RLock()
	defer e.mu.RUnlock()

	var h [snapshotHeader]byte
	copy(h[:], snapshotMagic)
	le := binary.LittleEndian
	le.PutUint32(h[8:], SnapshotVersion)
	le.PutUint64(h[16:], uint64(revision))
	le.PutUint32(h[24:], uint32(len(e.purposes.list)))
	le.PutUint32(h[28:], uint32(len(e.categories.list)))
	le.PutUint64(h[32:], uint64(e.subjects.len()))
	le.PutUint64(h[40:], uint64(e.slab.live))
	le.PutUint64(h[48:], uint64(e.assets.len()))
	le.PutUint32(h[56:], crc32.Checksum(h[:56], castagnoli))
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("decision: write snapshot: %w", err)
	}

	sum := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 1<<20)
	sw := snapWriter{w: bw}
	for _, list := range [][]string{e.purposes.list, e.categories.list} {
		for _, name := range list {
			sw.text(name)
		}
	}
	e.subjects.each(func(id string, k key, keyed bool, s subject) {
		sw.id(id, k, keyed)
		j := s.juris
		sw.w.WriteByte(byte(j.regime))
		sw.w.Write(j.country[:])
		sw.w.Write([]byte{bool8(j.bipa), 0}) // two bytes kept for a region
		sw.w.WriteByte(bool8(s.erased))
		sw.u16(s.n)
		for _, g := range e.slab.block(s.first, s.n) {
			sw.u16(g.purpose)
			sw.w.WriteByte(g.state)
			sw.w.WriteByte(g.method)
			sw.u32(g.notice)
			sw.u64(uint64(g.micros))
			sw.u64(uint64(g.ledger))
			sw.text(e.ids.get(g.idOff, g.idLen))
		}
	})
	e.assets.each(func(id string, k key, keyed bool, a asset) {
		sw.asset(id, k, keyed, a, &e.assets)
	})
	if sw.err != nil {
		return sw.err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("decision: write snapshot: %w", err)
	}
	var t [4]byte
	le.PutUint32(t[:], sum.Sum32())
	if _, err := w.Write(t[:]); err != nil {
		return fmt.Errorf("decision: write snapshot: %w", err)
	}
	return nil
}

func bool8(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// snapWriter appends fields to a bufio.Writer, which keeps the first write
// error; err is the first id too long for the format.
type snapWriter struct {
	w   *bufio.Writer
	buf [8]byte
	err error
}

func (s *snapWriter) u16(v uint16) {
	binary.LittleEndian.PutUint16(s.buf[:], v)
	s.w.Write(s.buf[:2])
}
func (s *snapWriter) u32(v uint32) {
	binary.LittleEndian.PutUint32(s.buf[:], v)
	s.w.Write(s.buf[:4])
}
func (s *snapWriter) u64(v uint64) {
	binary.LittleEndian.PutUint64(s.buf[:], v)
	s.w.Write(s.buf[:8])
}

// text writes a string of at most 65,535 bytes (the index keeps no longer
// event ids; a longer subject or asset id fails the snapshot).
func (s *snapWriter) text(v string) {
	if len(v) > 0xffff {
		if s.err == nil {
			s.err = fmt.Errorf("decision: write snapshot: an id of %d bytes is longer than the format allows", len(v))
		}
		v = ""
	}
	s.u16(uint16(len(v)))
	s.w.WriteString(v)
}

func (s *snapWriter) id(id string, k key, keyed bool) {
	if keyed {
		s.w.WriteByte(0)
		s.w.Write(k[:])
		return
	}
	s.w.WriteByte(1)
	s.text(id)
}

func (s *snapWriter) asset(id string, k key, keyed bool, a asset, m *assets) {
	s.id(id, k, keyed)
	s.text(m.subject(a))
	s.u16(a.category)
	s.u16(a.purpose)
	s.u64(uint64(a.retain))
	s.w.WriteByte(bool8(a.erased))
}
