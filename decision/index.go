package decision

import "strings"

// The index holds, per subject, a 12-byte entry inline in a map and a block
// of grants in a shared slab. Neither the maps nor the slab hold pointers, so
// the garbage collector never scans the index, and a decision touches the
// map's slot and the one grant it needs.

// subject is one person's entry in the index.
type subject struct {
	first  uint32 // index in the grant slab of the first of n grants
	n      uint16 // grants held, at most one per purpose, sorted by purpose
	juris  jurisdiction
	erased bool
}

// subjects maps subject ids to entries.
type subjects = idMap[subject]

const subjectPrefix = "sub"

func newSubjects(hint int) subjects { return newIDMap[subject](subjectPrefix, hint) }

// idMap maps ids to entries: ids shaped like likeness.NewID(prefix) by
// their 16 bytes, any other id by its string.
type idMap[V any] struct {
	prefix string
	keyed  map[key]V
	named  map[string]V
}

func newIDMap[V any](prefix string, hint int) idMap[V] {
	return idMap[V]{prefix: prefix, keyed: make(map[key]V, hint), named: make(map[string]V)}
}

func (m *idMap[V]) get(id string) (V, bool) {
	if k, ok := parseKey(m.prefix, id); ok {
		v, ok := m.keyed[k]
		return v, ok
	}
	v, ok := m.named[id]
	return v, ok
}

// put stores v under id; a new id is copied, so the caller's string is not
// retained.
func (m *idMap[V]) put(id string, v V) {
	if k, ok := parseKey(m.prefix, id); ok {
		m.keyed[k] = v
		return
	}
	if _, ok := m.named[id]; !ok {
		id = strings.Clone(id)
	}
	m.named[id] = v
}

func (m *idMap[V]) len() int { return len(m.keyed) + len(m.named) }

// each calls f with every entry; keyed entries come with an empty id and
// their key. The caller holds at least the read lock.
func (m *idMap[V]) each(f func(id string, k key, keyed bool, v V)) {
	for k, v := range m.keyed {
		f("", k, true, v)
	}
	for id, v := range m.named {
		f(id, key{}, false, v)
	}
}

// update calls f with every entry and stores back what f leaves in *v.
// The caller holds the write lock.
func (m *idMap[V]) update(f func(v *V)) {
	for k, v := range m.keyed {
		f(&v)
		m.keyed[k] = v
	}
	for id, v := range m.named {
		f(&v)
		m.named[id] = v
	}
}

// The grant slab stores blocks of grants in fixed-size chunks that never
// move, so growing the slab copies nothing. A subject gaining a purpose grows
// its block in place if it is the last one, else moves it to the end of the
// slab; the old block becomes dead space that compaction reclaims.
const (
	slabBits  = 16
	slabChunk = 1 << slabBits // grants per chunk: 2 MiB
)

type grantSlab struct {
	chunks [][]grant
	live   int // grants in blocks that subjects hold
	dead   int // grants in abandoned blocks and chunk tails
	// compactMin is the dead count below which compaction never runs.
	compactMin int
}

// block returns the n grants starting at first.
func (s *grantSlab) block(first uint32, n uint16) []grant {
	if n == 0 {
		return nil
	}
	c := s.chunks[first>>slabBits]
	o := first & (slabChunk - 1)
	return c[o : o+uint32(n) : o+uint32(n)]
}

// alloc returns room for a block of n grants (1 ≤ n < slabChunk).
func (s *grantSlab) alloc(n uint16) uint32 {
	last := len(s.chunks) - 1
	if last < 0 || slabChunk-len(s.chunks[last]) < int(n) {
		if last >= 0 {
			s.dead += slabChunk - len(s.chunks[last])
		}
		if len(s.chunks) == 1<<(32-slabBits) {
			panic("decision: grant slab full (4 Gi grants)")
		}
		s.chunks = append(s.chunks, make([]grant, 0, slabChunk))
		last++
	}
	c := s.chunks[last]
	first := uint32(last)<<slabBits | uint32(len(c))
	s.chunks[last] = c[:len(c)+int(n)]
	s.live += int(n)
	return first
}

// free records that a block of n grants is no longer held.
func (s *grantSlab) free(n uint16) {
	s.live -= int(n)
	s.dead += int(n)
}

// wasteful reports whether dead space exceeds a quarter of the live grants,
// so the slab never holds more than 1.25 times what it needs (plus
// compactMin) and each compaction copies at most five grants per grant that
// died since the last one.
func (s *grantSlab) wasteful() bool {
	min := s.compactMin
	if min == 0 {
		min = 4 * slabChunk
	}
	return s.dead > min && 4*s.dead > s.live
}

// grow makes room for one more grant in the block of n grants at first, in
// place when the block ends the slab (as it does while a subject's events are
// loaded one after another), else by moving it; it returns the block's new
// start. The caller fills the block's new last grant.
func (s *grantSlab) grow(first uint32, n uint16) uint32 {
	last := len(s.chunks) - 1
	if n > 0 && int(first>>slabBits) == last {
		c := s.chunks[last]
		end := int(first&(slabChunk-1)) + int(n)
		if end == len(c) && end < slabChunk {
			s.chunks[last] = c[:end+1]
			s.live++
			return first
		}
	}
	grown := s.alloc(n + 1)
	copy(s.block(grown, n), s.block(first, n))
	s.free(n)
	return grown
}

// findGrant returns the index in gs (sorted by purpose) of the grant for
// purpose pid, or -1. A subject holding every purpose up to pid finds it at
// gs[pid] without a scan.
func findGrant(gs []grant, pid uint16) int {
	if int(pid) < len(gs) && gs[pid].purpose == pid {
		return int(pid)
	}
	for i := range gs {
		if gs[i].purpose == pid {
			return i
		}
	}
	return -1
}

// compact copies the live grants and event ids into a fresh slab and arena.
// Strings handed out earlier keep pointing into the old arena chunks, which
// stay alive (and unchanged) for as long as anyone holds them. The caller
// holds the write lock.
func (e *Engine) compact() {
	slab := grantSlab{compactMin: e.slab.compactMin}
	var ids idArena
	ids.compactMin = e.ids.compactMin
	ids.init()
	e.subjects.update(func(s *subject) {
		if s.n == 0 {
			return
		}
		old := e.slab.block(s.first, s.n)
		s.first = slab.alloc(s.n)
		gs := slab.block(s.first, s.n)
		copy(gs, old)
		for i := range gs {
			gs[i].idOff, gs[i].idLen = ids.put(e.ids.get(gs[i].idOff, gs[i].idLen))
		}
	})
	e.slab, e.ids = slab, ids
}
