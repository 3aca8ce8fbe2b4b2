package main

import (
	"fmt"
	"strings"
)

// runTreeAVX2 is runTree for processors with AVX2 but not AVX-512 (AMD
// before Zen 4, Intel's client cores): eight windows to a vector, three
// vectors going down together. Without mask registers or compress, it
// keeps a level's outcome as a vector of all-ones lanes (p ≤ q on the
// pixels' top bytes is max(p, q) = q, unsigned), and compacts the windows
// kept by a permutation looked up by their bit mask (tables.perm) and a
// whole-vector store, which may write up to seven entries past the last
// window: at and sum need that much room past n (anonymize.walkSlack).
// Sixteen registers hold less than AVX-512's thirty-two, so the tree's
// offsets are looked up from memory: eight at a time with VPERMD, and
// blended (see avx2Lookup), which costs less than gathering them.
//
// Registers: a vector's centres and nodes are Y0/Y1, Y2/Y3, Y4/Y5; its
// sums stay in memory until it is scored. Y6–Y9 and Y11–Y13 are scratch, Y10
// the lanes in use of a last, partial vector, Y14 ones, Y15 the
// threshold.

// avx2Vec is one vector's registers: its windows' centres and nodes.
type avx2Vec struct{ c, n string }

var avx2Vecs = []avx2Vec{{"Y0", "Y1"}, {"Y2", "Y3"}, {"Y4", "Y5"}}

// avx2Lookup writes into dst, per lane, the 32-bit entry that idx numbers
// in the tables×8 entries at off(base), where entry number off/4 is the
// first (a tree's nodes, or leaves, of one level: their numbers' bits
// above the third pick the eight). Each eight is looked up by idx's low
// three bits with VPERMD, and the results are chosen between by the next
// bits (bit 3 between neighbouring eights, and so on up) with VBLENDVPS,
// each bit shifted to the sign. free are scratch registers, one more than
// the choosing is deep (four for eight tables).
func avx2Lookup(w *strings.Builder, base string, off, tables int, idx, dst string, free ...string) {
	if tables == 1 {
		emit(w, "VPERMD %d(%s), %s, %s", off, base, idx, dst)
		return
	}
	half := tables / 2
	avx2Lookup(w, base, off, half, idx, dst, free...)
	avx2Lookup(w, base, off+32*half, half, idx, free[0], free[1:]...)
	bit := 2
	for k := half; k > 0; k /= 2 {
		bit++
	}
	emit(w, "VPSLLD $%d, %s, %s", 31-bit, idx, free[1])
	emit(w, "VBLENDVPS %s, %s, %s, %s", free[1], free[0], dst, dst)
}

// avx2Step gathers the pixels at the indices in Y6 and Y7 (of the lanes
// in the register lanes, or all for "") and moves the windows whose nodes
// are in n, and whose first pixel is at most the second, to their node's
// second child.
func avx2Step(w *strings.Builder, n, lanes string) {
	mask := func() {
		if lanes != "" {
			emit(w, "VMOVDQU %s, Y8", lanes)
		} else {
			emit(w, "VPCMPEQD Y8, Y8, Y8")
		}
	}
	mask()
	emit(w, "VPGATHERDD Y8, (BX)(Y6*1), Y9")
	mask()
	emit(w, "VPGATHERDD Y8, (BX)(Y7*1), Y6")
	emit(w, "VPSLLD $24, Y9, Y9")
	emit(w, "VPSLLD $24, Y6, Y6")
	emit(w, "VPMAXUD Y9, Y6, Y7")
	emit(w, "VPCMPEQD Y7, Y6, Y7") // all ones where p ≤ q
	emit(w, "VPSUBD Y7, %s, %s", n, n)
}

// avx2Level sends v down level d of the tree whose offsets are at (AX),
// its gathers masked by lanes (see avx2Step).
func avx2Level(w *strings.Builder, v avx2Vec, d int, lanes string) {
	if d == 0 { // every window is at node 1
		emit(w, "VPBROADCASTD 8(AX), Y6")
		emit(w, "VPBROADCASTD 12(AX), Y7")
		emit(w, "VPADDD Y14, Y14, %s", v.n)
	} else {
		emit(w, "VPADDD %s, %s, %s", v.n, v.n, v.n)
		emit(w, "VPADDD Y14, %s, Y9", v.n)
		base, tables := 0, 1 // level 1's four entries are in the first table
		if d > 1 {
			base, tables = 4<<(d+1), 1<<(d-2)
		}
		avx2Lookup(w, "AX", base, tables, v.n, "Y6", "Y7", "Y8", "Y11", "Y12", "Y13")
		avx2Lookup(w, "AX", base, tables, "Y9", "Y7", "Y8", "Y11", "Y12", "Y13")
	}
	emit(w, "VPADDD %s, Y6, Y6", v.c)
	emit(w, "VPADDD %s, Y7, Y7", v.c)
	avx2Step(w, v.n, lanes)
}

// avx2Score adds the leaf's prediction to the sums of the k-th vector of
// a group (its windows centred at c, their nodes in n, their sums at
// 32k(R12)) and writes the windows whose sum exceeds the threshold (of the
// lanes in the register lanes, or all for "") and their sums to (DI) and
// (R10), and their sizes, where size names a register, to (R9), counting
// them in R13. The permutations are at (R14).
func avx2Score(w *strings.Builder, c, n, size string, k int, lanes string) {
	// DX is 64 floats before the table: leaves 64 to 127 index it.
	avx2Lookup(w, "DX", 256, 8, n, "Y6", "Y7", "Y8", "Y9", "Y11")
	emit(w, "VADDPS %d(R12), Y6, Y6", 32*k)
	emit(w, "VCMPPS $0x1e, Y15, Y6, Y7") // sum > thr
	if lanes != "" {
		emit(w, "VPAND %s, Y7, Y7", lanes)
	}
	emit(w, "VMOVMSKPS Y7, R11")
	emit(w, "MOVQ R11, R15")
	emit(w, "SHLQ $5, R15")
	emit(w, "VMOVDQU (R14)(R15*1), Y9") // the kept lanes first
	emit(w, "VPERMD %s, Y9, Y7", c)
	emit(w, "VMOVDQU Y7, (DI)")
	emit(w, "VPERMPS Y6, Y9, Y6")
	emit(w, "VMOVUPS Y6, (R10)")
	if size != "" {
		emit(w, "VPERMD %s, Y9, Y7", size)
		emit(w, "VMOVDQU Y7, (R9)")
	}
	emit(w, "POPCNTL R11, R11")
	emit(w, "LEAQ (DI)(R11*4), DI")
	emit(w, "LEAQ (R10)(R11*4), R10")
	if size != "" {
		emit(w, "LEAQ (R9)(R11*4), R9")
	}
	emit(w, "ADDQ R11, R13")
}

func avx2Walk(w *strings.Builder, vs []avx2Vec, lanes string) {
	for d := range 6 {
		emit(w, "// level %d", d)
		for _, v := range vs {
			avx2Level(w, v, d, lanes)
		}
	}
	for k, v := range vs {
		avx2Score(w, v.c, v.n, "", k, lanes)
	}
}

func generateAVX2(w *strings.Builder) {
	w.WriteString(`
// func runTreeAVX2(offs *[128]int32, pix *uint8, pred *float32, at *int32, sum *float32, n int, thr float32, tables *avx2Tables) int
TEXT ·runTreeAVX2(SB), NOSPLIT, $0-72
	MOVQ offs+0(FP), AX
	MOVQ pix+8(FP), BX
	MOVQ pred+16(FP), DX
	SUBQ $256, DX
	MOVQ at+24(FP), SI
	MOVQ sum+32(FP), R12
	MOVQ n+40(FP), CX
	MOVQ tables+56(FP), R14
	MOVL $1, R9
	MOVQ R9, X14
	VPBROADCASTD X14, Y14
	VBROADCASTSS thr+48(FP), Y15
	MOVQ SI, DI
	MOVQ R12, R10
	XORQ R13, R13

avx2Groups:
	CMPQ CX, $24
	JLT  avx2Singles
`)
	for k, v := range avx2Vecs {
		emit(w, "VMOVDQU %d(SI), %s", 32*k, v.c)
	}
	avx2Walk(w, avx2Vecs, "")
	fmt.Fprintf(w, `	ADDQ $96, SI
	ADDQ $96, R12
	SUBQ $24, CX
	JMP  avx2Groups

avx2Singles:
	CMPQ CX, $0
	JLE  avx2Done
	MOVQ CX, R9
	CMPQ R9, $8
	JLE  avx2Lanes
	MOVQ $8, R9

avx2Lanes:
	SHLQ $5, R9
	VMOVDQU %d(R14)(R9*1), Y10
	VMOVDQU (SI), Y0
`, 256*32)
	avx2Walk(w, avx2Vecs[:1], "Y10")
	w.WriteString(`	ADDQ $32, SI
	ADDQ $32, R12
	SUBQ $8, CX
	JMP  avx2Singles

avx2Done:
	MOVQ R13, ret+64(FP)
	VZEROUPPER
	RET
`)
}

// runTreesSizedAVX2 is runTreesSized for processors with AVX2 but not
// AVX-512: two vectors of eight windows go down together, each window's
// offsets computed from the tree's turned points (looked up as avx2Lookup
// does) and its own size, as window.offset computes them. Registers: a
// vector's centres, nodes and sizes are Y0–Y2 and Y3–Y5 (the last, partial
// vector's lanes in use in Y3), Y6–Y12 scratch, Y13 the stride, Y14 ones,
// Y15 the threshold; sums stay in memory until scored.

var sizedAVX2Vecs = []struct {
	avx2Vec
	size string
}{{avx2Vec{"Y0", "Y1"}, "Y2"}, {avx2Vec{"Y3", "Y4"}, "Y5"}}

// avx2SizedPoint writes into dst the pixel indices of the comparison
// points idx numbers at level d for windows centred at c of sizes size,
// with the scratch registers free (five; the first holds the columns).
func avx2SizedPoint(w *strings.Builder, c, size string, d, root int, idx, dst string, free ...string) {
	col := free[0]
	if d == 0 {
		emit(w, "VPBROADCASTD %d(AX), %s", root, dst)
		emit(w, "VPBROADCASTD %d(AX), %s", 512+root, col)
	} else {
		base, tables := 0, 1
		if d > 1 {
			base, tables = 4<<(d+1), 1<<(d-2)
		}
		avx2Lookup(w, "AX", base, tables, idx, dst, free...)
		avx2Lookup(w, "AX", 512+base, tables, idx, col, free[1:]...)
	}
	emit(w, "VPMULLD %s, %s, %s", size, dst, dst)
	emit(w, "VPMULLD %s, %s, %s", size, col, col)
	emit(w, "VPSRAD $%d, %s, %s", 8+turnBits, dst, dst)
	emit(w, "VPSRAD $%d, %s, %s", 8+turnBits, col, col)
	emit(w, "VPMULLD Y13, %s, %s", dst, dst)
	emit(w, "VPADDD %s, %s, %s", col, dst, dst)
	emit(w, "VPADDD %s, %s, %s", c, dst, dst)
}

// avx2SizedLevel sends the vector down level d of the tree.
func avx2SizedLevel(w *strings.Builder, c, n, size string, d int, lanes string) {
	if d == 0 {
		emit(w, "VPADDD Y14, Y14, %s", n)
	} else {
		emit(w, "VPADDD %s, %s, %s", n, n, n)
	}
	avx2SizedPoint(w, c, size, d, 8, n, "Y6", "Y7", "Y8", "Y9", "Y10", "Y11")
	// Sixteen registers are too few to keep the first point's indices
	// while the second's are looked up: they wait on the stack.
	emit(w, "VMOVDQU Y6, (SP)")
	emit(w, "VPADDD Y14, %s, Y12", n)
	avx2SizedPoint(w, c, size, d, 12, "Y12", "Y7", "Y8", "Y6", "Y9", "Y10", "Y11")
	emit(w, "VMOVDQU (SP), Y6")
	avx2Step(w, n, lanes)
}

func generateSizedAVX2(w *strings.Builder) {
	fmt.Fprintf(w, `
// func runTreesSizedAVX2(tree *int32, stride int32, pix *uint8, pred, thr *float32, trees int, at, size *int32, sum *float32, n int, tables *avx2Tables) int
TEXT ·runTreesSizedAVX2(SB), NOSPLIT, $32-96
	MOVL stride+8(FP), R8
	MOVQ R8, X13
	VPBROADCASTD X13, Y13
	MOVL $1, R8
	MOVQ R8, X14
	VPBROADCASTD X14, Y14
	MOVQ pix+16(FP), BX
	MOVQ tables+80(FP), R14
`)
	sizedStart(w, "sizedAVX2", "Y15", 256)
	w.WriteString(`
sizedAVX2Pairs:
	CMPQ CX, $16
	JLT  sizedAVX2Rest
`)
	vs := sizedAVX2Vecs
	for k, v := range vs {
		emit(w, "VMOVDQU %d(SI), %s", 32*k, v.c)
		emit(w, "VMOVDQU %d(R8), %s", 32*k, v.size)
	}
	for d := range 6 {
		emit(w, "// level %d", d)
		for _, v := range vs {
			avx2SizedLevel(w, v.c, v.n, v.size, d, "")
		}
	}
	for k, v := range vs {
		avx2Score(w, v.c, v.n, v.size, k, "")
	}
	fmt.Fprintf(w, `	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R12
	SUBQ $16, CX
	JMP  sizedAVX2Pairs

sizedAVX2Rest:
	CMPQ CX, $0
	JLE  sizedAVX2Scored
	MOVQ CX, R11
	CMPQ R11, $8
	JLE  sizedAVX2Lanes
	MOVQ $8, R11

sizedAVX2Lanes:
	SHLQ $5, R11
	VMOVDQU %d(R14)(R11*1), Y3
	VMOVDQU (SI), Y0
	VMOVDQU (R8), Y2
`, 256*32)
	for d := range 6 {
		avx2SizedLevel(w, "Y0", "Y1", "Y2", d, "Y3")
	}
	avx2Score(w, "Y0", "Y1", "Y2", 0, "Y3")
	sizedEnd(w, "sizedAVX2", 8, 88)
}
