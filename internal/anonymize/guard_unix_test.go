//go:build unix

package anonymize

import (
	"syscall"
	"testing"
)

// guardedLuma returns a luma image of n bytes whose lumaPad bytes of
// padding end where an unreadable page begins: a vector walk that reads
// past the padding stops the test with a fault instead of reading
// whatever follows.
func guardedLuma(t *testing.T, n int) []uint8 {
	t.Helper()
	page := syscall.Getpagesize()
	size := (n + lumaPad + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, size+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	start := size - n - lumaPad
	return mem[start : start+n : size]
}
