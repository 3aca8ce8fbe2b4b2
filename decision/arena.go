package decision

import (
	"math"
	"unsafe"
)

// The id arena stores event ids back to back in fixed-size chunks that are
// never reallocated and whose written bytes are never changed, so a string
// pointing into a chunk stays valid and immutable. That lets a grant name its
// event id with 6 bytes instead of a 16-byte string header plus a separate
// allocation, and lets Decide return the id without allocating.
const (
	chunkBits = 20
	chunkSize = 1 << chunkBits
	maxChunks = (math.MaxUint32 >> chunkBits) + 1
)

type idArena struct {
	chunks [][]byte
	total  int // bytes written
	live   int // bytes still referenced by a grant
	// compactMin is the arena size below which compaction never runs.
	compactMin int
}

func (a *idArena) init() {
	a.chunks = [][]byte{make([]byte, 0, chunkSize)}
	a.total, a.live = 0, 0
	if a.compactMin == 0 {
		a.compactMin = 8 * chunkSize
	}
}

// put stores s and returns where. Ids longer than 64 KiB are not kept (the
// decision then names no event id); likeness ids are 30 bytes.
func (a *idArena) put(s string) (off uint32, n uint16) {
	if s == "" || len(s) > math.MaxUint16 {
		return 0, 0
	}
	last := len(a.chunks) - 1
	if cap(a.chunks[last])-len(a.chunks[last]) < len(s) {
		if len(a.chunks) == maxChunks {
			panic("decision: event id arena full (4 GiB of live event ids)")
		}
		a.chunks = append(a.chunks, make([]byte, 0, chunkSize))
		last++
	}
	c := a.chunks[last]
	off = uint32(last)<<chunkBits | uint32(len(c))
	a.chunks[last] = append(c, s...)
	a.total += len(s)
	a.live += len(s)
	return off, uint16(len(s))
}

// get returns the id stored at off, as a string sharing the arena's memory.
func (a *idArena) get(off uint32, n uint16) string {
	if n == 0 {
		return ""
	}
	c := a.chunks[off>>chunkBits]
	return unsafe.String(&c[off&(chunkSize-1)], int(n))
}

// drop records that an id of n bytes is no longer referenced.
func (a *idArena) drop(n uint16) { a.live -= int(n) }

// wasteful reports whether superseded ids take more than a quarter of the
// room of live ones.
func (a *idArena) wasteful() bool {
	return a.total > a.compactMin && 4*a.total > 5*a.live
}

// putBytes is put for an id in a byte slice.
func (a *idArena) putBytes(b []byte) (off uint32, n uint16) {
	return a.put(unsafe.String(unsafe.SliceData(b), len(b)))
}
