package decision

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// LoadSnapshot replaces the engine's subjects, grants and assets with those
// of the snapshot WriteSnapshot wrote to r, and returns the revision it was
// written with; the caller then applies the events after that revision
// (Apply is idempotent, so overlapping the snapshot is harmless). The policy
// is the engine's own: grants of purposes it does not declare are kept and
// deny, as after SetPolicy.
//
// The snapshot is read whole and checked (header and body checksums, every
// count and field) before anything changes: on any error the engine is as it
// was, and the caller falls back to a full load. A snapshot of another
// format version returns an error wrapping ErrSnapshotVersion; a truncated,
// corrupted or malformed one an error wrapping ErrSnapshotCorrupt; an error
// of r is returned wrapped.
//
// It holds the write lock throughout (about a second at 1M subjects × 5
// purposes): it is meant for start-up, before the engine serves.
func (e *Engine) LoadSnapshot(r io.Reader) (revision int64, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := snapLoader{e: e, r: snapReader{src: r, buf: make([]byte, 1<<20)}}
	if err := l.load(); err != nil {
		return 0, fmt.Errorf("decision: load snapshot: %w", err)
	}
	e.subjects, e.slab, e.ids, e.assets = l.subjects, l.slab, l.ids, l.assets
	e.purposes, e.categories = l.purposes, l.categories
	e.live = l.live
	return l.revision, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSnapshotCorrupt}, args...)...)
}

// snapLoader decodes a snapshot into fresh structures for e.
type snapLoader struct {
	e        *Engine
	r        snapReader
	revision int64
	counts   struct{ purposes, categories, subjects, grants, assets uint64 }

	purposes, categories names
	pmap, cmap           []uint16 // snapshot's purpose and category numbers to ours
	subjects             subjects
	slab                 grantSlab
	ids                  idArena
	assets               assets
	live                 int
}

func (l *snapLoader) load() error {
	if err := l.header(); err != nil {
		return err
	}
	// Interning continues the engine's numbering, so the rules indexed by
	// purpose id stay valid.
	l.purposes, l.categories = l.e.purposes.clone(), l.e.categories.clone()
	var err error
	if l.pmap, err = l.names(&l.purposes, l.counts.purposes); err != nil {
		return err
	}
	if l.cmap, err = l.names(&l.categories, l.counts.categories); err != nil {
		return err
	}
	l.subjects = newSubjects(int(min(l.counts.subjects, 1<<24)))
	l.slab.compactMin = l.e.slab.compactMin
	l.ids.compactMin = l.e.ids.compactMin
	l.ids.init()
	for range l.counts.subjects {
		if err := l.subject(); err != nil {
			return err
		}
	}
	if uint64(l.slab.live) != l.counts.grants {
		return corrupt("%d grants, header says %d", l.slab.live, l.counts.grants)
	}
	l.assets = newAssets()
	for range l.counts.assets {
		if err := l.asset(); err != nil {
			return err
		}
	}
	want := l.r.sum()
	t, err := l.r.next(4)
	if err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(t) != want {
		return corrupt("body checksum mismatch")
	}
	return nil
}

func (l *snapLoader) header() error {
	h, err := l.r.next(snapshotHeader)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if string(h[:8]) != snapshotMagic {
		return corrupt("not a decision snapshot")
	}
	if v := le.Uint32(h[8:]); v != SnapshotVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrSnapshotVersion, v, SnapshotVersion)
	}
	if le.Uint32(h[56:]) != crc32.Checksum(h[:56], castagnoli) {
		return corrupt("header checksum mismatch")
	}
	l.revision = int64(le.Uint64(h[16:]))
	c := &l.counts
	c.purposes, c.categories = uint64(le.Uint32(h[24:])), uint64(le.Uint32(h[28:]))
	c.subjects, c.grants, c.assets = le.Uint64(h[32:]), le.Uint64(h[40:]), le.Uint64(h[48:])
	if c.purposes > math.MaxUint16 || c.categories > math.MaxUint16 || c.subjects > math.MaxUint32 || c.grants > math.MaxUint32 || c.assets > math.MaxUint32 {
		return corrupt("counts out of range")
	}
	l.r.reset() // the body checksum starts here
	return nil
}

func (l *snapLoader) names(into *names, n uint64) ([]uint16, error) {
	m := make([]uint16, n)
	for i := range m {
		name, err := l.r.text()
		if err != nil {
			return nil, err
		}
		id, ok := into.intern(name)
		if !ok {
			return nil, corrupt("too many names")
		}
		m[i] = id
	}
	return m, nil
}

// subject decodes one subject and its grants.
func (l *snapLoader) subject() error {
	id, k, keyed, err := l.r.id(subjectPrefix)
	if err != nil {
		return err
	}
	b, err := l.r.next(8)
	if err != nil {
		return err
	}
	s := subject{
		juris:  jurisdiction{regime: regime(b[0]), country: [2]byte{b[1], b[2]}, bipa: b[3] == 1},
		erased: b[5] == 1,
		n:      binary.LittleEndian.Uint16(b[6:]),
	}
	if s.juris.regime > regimeOther || b[5] > 1 || s.erased && s.n > 0 || s.n == slabChunk-1 {
		return corrupt("bad subject record")
	}
	if s.n > 0 {
		s.first = l.slab.alloc(s.n)
		gs := l.slab.block(s.first, s.n)
		for i := range gs {
			if err := l.grant(&gs[i]); err != nil {
				return err
			}
			// Keep the block sorted by our purpose ids.
			for j := i; j > 0 && gs[j-1].purpose >= gs[j].purpose; j-- {
				if gs[j-1].purpose == gs[j].purpose {
					return corrupt("two grants for one purpose")
				}
				gs[j-1], gs[j] = gs[j], gs[j-1]
			}
		}
	}
	had := l.subjects.len()
	if keyed {
		l.subjects.keyed[k] = s
	} else {
		l.subjects.named[id] = s
	}
	if l.subjects.len() == had {
		return corrupt("subject listed twice")
	}
	if !s.erased {
		l.live++
	}
	return nil
}

// grantSize is a grant's fixed part: purpose, state, method, notice, time,
// ledger index, event id length.
const grantSize = 2 + 1 + 1 + 4 + 8 + 8 + 2

func (l *snapLoader) grant(g *grant) error {
	b, err := l.r.next(grantSize)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	p := le.Uint16(b)
	if int(p) >= len(l.pmap) || b[2] < stateActive || b[2] > stateRejected || b[3] > methodWritten {
		return corrupt("bad grant record")
	}
	*g = grant{
		purpose: l.pmap[p],
		state:   b[2],
		method:  b[3],
		notice:  le.Uint32(b[4:]),
		micros:  int64(le.Uint64(b[8:])),
		ledger:  int64(le.Uint64(b[16:])),
	}
	evt, err := l.r.next(int(le.Uint16(b[24:])))
	if err != nil {
		return err
	}
	g.idOff, g.idLen = l.ids.putBytes(evt)
	return nil
}

func (l *snapLoader) asset() error {
	id, k, keyed, err := l.r.id(assetPrefix)
	if err != nil {
		return err
	}
	sub, err := l.r.textBytes()
	if err != nil {
		return err
	}
	var a asset
	a.subOff, a.subLen = l.assets.text.putBytes(sub)
	b, err := l.r.next(2 + 2 + 8 + 1)
	if err != nil {
		return err
	}
	c := binary.LittleEndian.Uint16(b)
	switch {
	case int(c) < len(l.cmap):
		a.category = l.cmap[c]
	case c == noCategory:
		a.category = noCategory
	default:
		return corrupt("bad asset record")
	}
	switch p := binary.LittleEndian.Uint16(b[2:]); {
	case int(p) < len(l.pmap):
		a.purpose = l.pmap[p]
	case p == noPurpose:
		a.purpose = noPurpose
	default:
		return corrupt("bad asset record")
	}
	a.retain = int64(binary.LittleEndian.Uint64(b[4:]))
	if b[12] > 1 {
		return corrupt("bad asset record")
	}
	a.erased = b[12] == 1
	if keyed {
		l.assets.keyed[k] = a
	} else {
		l.assets.named[id] = a
	}
	return nil
}

// snapReader reads a snapshot through its own buffer and keeps a CRC-32C
// of the bytes consumed since reset, summed a buffer at a time.
type snapReader struct {
	src    io.Reader
	buf    []byte
	r, w   int // unread bytes are buf[r:w]
	summed int // buf[summed:r] is consumed but not yet in crc
	crc    uint32
}

// next returns the next n bytes (n ≤ len(buf)), valid until the next call.
// A snapshot that ends early is corrupt.
func (s *snapReader) next(n int) ([]byte, error) {
	if s.w-s.r < n {
		if err := s.fill(n); err != nil {
			return nil, err
		}
	}
	b := s.buf[s.r : s.r+n : s.r+n]
	s.r += n
	return b, nil
}

func (s *snapReader) fill(n int) error {
	s.crc = crc32.Update(s.crc, castagnoli, s.buf[s.summed:s.r])
	s.w = copy(s.buf, s.buf[s.r:s.w])
	s.r, s.summed = 0, 0
	for s.w < n {
		m, err := s.src.Read(s.buf[s.w:])
		s.w += m
		switch {
		case s.w >= n:
			return nil
		case errors.Is(err, io.EOF):
			return corrupt("truncated")
		case err != nil:
			return err
		}
	}
	return nil
}

// reset starts the checksum at the next unread byte.
func (s *snapReader) reset() { s.crc, s.summed = 0, s.r }

// sum returns the checksum of the bytes consumed since reset.
func (s *snapReader) sum() uint32 {
	s.crc = crc32.Update(s.crc, castagnoli, s.buf[s.summed:s.r])
	s.summed = s.r
	return s.crc
}

func (s *snapReader) textBytes() ([]byte, error) {
	b, err := s.next(2)
	if err != nil {
		return nil, err
	}
	return s.next(int(binary.LittleEndian.Uint16(b)))
}

func (s *snapReader) text() (string, error) {
	b, err := s.textBytes()
	return string(b), err
}

// id reads a subject or asset id: 16 key bytes, or a string that must not
// have the shape of a key (which WriteSnapshot would have written as one).
func (s *snapReader) id(prefix string) (id string, k key, keyed bool, err error) {
	b, err := s.next(1)
	if err != nil {
		return "", k, false, err
	}
	switch b[0] {
	case 0:
		kb, err := s.next(len(k))
		if err != nil {
			return "", k, false, err
		}
		copy(k[:], kb)
		return "", k, true, nil
	case 1:
		id, err := s.text()
		if err != nil {
			return "", k, false, err
		}
		if _, ok := parseKey(prefix, id); ok {
			return "", k, false, corrupt("keyed id stored as text")
		}
		return id, k, false, nil
	}
	return "", k, false, corrupt("bad id kind")
}
