// Command walkgen writes walk_amd64.s, the vector trees of the face
// search (see runTree and runTreesSized in walk_amd64.go, and their AVX2
// forms in avx2.go). Run it with go generate in internal/anonymize.
//
// The walk is unrolled over the six levels of pigo's trees, because each
// level looks its comparisons' offsets up differently: a level's nodes hold
// 2 to 64 offsets, and they never leave registers (tables of 16 offsets
// each, looked up with VPERMD, VPERMI2D or two of those and a blend).
// Three vectors of sixteen windows go down together so that their gathers
// overlap (two were 15% slower per window); they share the registers of a
// level's passing values, which the processor renames. runTreesSized, for
// windows of many sizes, looks a tree's turned points up from memory
// instead and computes each window's offsets from its size.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
)

// vec is one vector's own registers: the windows' centres, their nodes and
// their sums.
type vec struct{ c, n, sum string }

var (
	a = vec{"Z0", "Z1", "Z17"}
	b = vec{"Z12", "Z13", "Z18"}
	c = vec{"Z14", "Z15", "Z19"}
)

// The registers a level passes values in, shared by the vectors: the
// node's second comparison number (Z3; the first is twice the node, in
// the vector's own register), the two comparisons' offsets and then pixel
// indices (Z4, Z5), the pixels (Z6, Z7) and scratch (Z8, Z9). The offset
// tables: Z20 holds offs[0:16] (levels 0 to 2), Z21 offs[16:32] (level
// 3), Z22–Z23 offs[32:64] (level 4), Z24–Z27 offs[64:128] (level 5). The
// tree's leaf predictions are gathered from memory (DX), its threshold is
// in Z16. Z10 is all ones, Z28 32. K7 holds the lanes in use.

// lookup writes the offsets that idx numbers, at tree level d, into dst.
func lookup(w *strings.Builder, d int, idx, dst, tmp string) {
	switch {
	case d <= 2:
		emit(w, "VPERMD Z20, %s, %s", idx, dst)
	case d == 3:
		emit(w, "VPERMD Z21, %s, %s", idx, dst)
	case d == 4:
		emit(w, "VMOVDQA32 %s, %s", idx, dst)
		emit(w, "VPERMI2D Z23, Z22, %s", dst)
	default:
		emit(w, "VMOVDQA32 %s, %s", idx, dst)
		emit(w, "VPERMI2D Z25, Z24, %s", dst)
		emit(w, "VMOVDQA32 %s, %s", idx, tmp)
		emit(w, "VPERMI2D Z27, Z26, %s", tmp)
		emit(w, "VPTESTMD Z28, %s, K4", idx)
		emit(w, "VPBLENDMD %s, %s, K4, %s", tmp, dst, dst)
	}
}

// level sends the vector v down level d of the tree, its gathers masked by
// mask (K7 for the lanes in use, or "" for all), its offsets in Z20–Z27;
// rootInMemory says whether node 1's are also at (AX), for level 0's
// broadcast.
func level(w *strings.Builder, v vec, d int, mask string, rootInMemory bool) {
	if d == 0 && rootInMemory { // every window is at node 1
		emit(w, "VPBROADCASTD 8(AX), Z4")
		emit(w, "VPBROADCASTD 12(AX), Z5")
		emit(w, "VPADDD Z10, Z10, %s", v.n)
	} else {
		if d == 0 {
			emit(w, "VPADDD Z10, Z10, %s", v.n)
		} else {
			emit(w, "VPADDD %s, %s, %s", v.n, v.n, v.n)
		}
		emit(w, "VPADDD Z10, %s, Z3", v.n)
		lookup(w, d, v.n, "Z4", "Z8")
		lookup(w, d, "Z3", "Z5", "Z9")
	}
	emit(w, "VPADDD %s, Z4, Z4", v.c)
	emit(w, "VPADDD %s, Z5, Z5", v.c)
	step(w, v, mask)
}

// step gathers the pixels at the indices in Z4 and Z5 (masked by mask, or
// all lanes for "") and moves v's windows whose first pixel is at most the
// second to their node's second child.
func step(w *strings.Builder, v vec, mask string) {
	setMask := func() {
		if mask != "" {
			emit(w, "KMOVW %s, K1", mask)
		} else {
			emit(w, "KXNORW K0, K0, K1")
		}
	}
	setMask()
	emit(w, "VPGATHERDD (BX)(Z4*1), K1, Z6")
	setMask()
	emit(w, "VPGATHERDD (BX)(Z5*1), K1, Z7")
	pixelsCompared(w)
	emit(w, "VPADDD Z10, %s, K3, %s", v.n, v.n)
}

// predLookup writes the predictions of the leaves numbered by leaf (64 to
// 127) into Z8, from the tree's 64 predictions at off(base): two-table
// permutes of memory, each picking one of 32 by the number's low five bits,
// blended on its sixth (Z28 holds 32; mask is scratch). A gather of the
// sixteen would cost as much as one of the walk's.
func predLookup(w *strings.Builder, base string, off int, leaf, mask string) {
	emit(w, "VMOVUPS %d(%s), Z8", off, base)
	emit(w, "VPERMT2PS %d(%s), %s, Z8", off+64, base, leaf)
	emit(w, "VMOVUPS %d(%s), Z9", off+128, base)
	emit(w, "VPERMT2PS %d(%s), %s, Z9", off+192, base, leaf)
	emit(w, "VPTESTMD Z28, %s, %s", leaf, mask)
	emit(w, "VBLENDMPS Z9, Z8, %s, Z8", mask)
}

// passing adds the leaf's prediction (from the tree's predictions at
// off(base)) to v's sums and marks in K5 the windows (of the lanes in mask)
// whose sum exceeds the threshold (Z16), counting them in R11.
func passing(w *strings.Builder, v vec, base string, off int, mask string) {
	predLookup(w, base, off, v.n, "K4")
	emit(w, "VADDPS Z8, %s, %s", v.sum, v.sum)
	emit(w, "VCMPPS $0x1e, Z16, %s, K5", v.sum) // sum > thr
	if mask != "" {
		emit(w, "KANDW %s, K5, K5", mask)
	}
	emit(w, "KMOVW K5, R11")
	emit(w, "POPCNTL R11, R11")
}

// score adds the leaf's prediction to v's sums and writes the windows
// whose sum exceeds the threshold (of the lanes in mask) to (DI) and
// (R10), counting them in R13.
func score(w *strings.Builder, v vec, mask string) {
	emit(w, "// the leaf's prediction (DX points 64 floats before the table)")
	passing(w, v, "DX", 256, mask)
	// Compressed into a register and stored under a mask of the kept
	// count: the memory form of VPCOMPRESSD is microcoded on some
	// processors (AMD Zen 4 and 5) and many times slower.
	emit(w, "MOVL $1, R9")
	emit(w, "SHLXL R11, R9, R9")
	emit(w, "DECL R9")
	emit(w, "KMOVW R9, K6")
	emit(w, "VPCOMPRESSD %s, K5, Z8", v.c)
	emit(w, "VCOMPRESSPS %s, K5, Z9", v.sum)
	emit(w, "VMOVDQU32 Z8, K6, (DI)")
	emit(w, "VMOVUPS Z9, K6, (R10)")
	emit(w, "LEAQ (DI)(R11*4), DI")
	emit(w, "LEAQ (R10)(R11*4), R10")
	emit(w, "ADDQ R11, R13")
}

func walk(w *strings.Builder, mask string, vs ...vec) {
	for d := range 6 {
		emit(w, "// level %d", d)
		for _, v := range vs {
			level(w, v, d, mask, true)
		}
	}
}

func emit(w *strings.Builder, format string, args ...any) {
	fmt.Fprintf(w, "\t"+format+"\n", args...)
}

// turnBits is anonymize.turnBits: the fraction bits of a turned point below
// 1/256 of a window.
const turnBits = 16

// pixelsCompared sets K3 where the first pixel (the low byte of Z6) is at
// most the second (of Z7): shifted to the top byte, compared unsigned.
func pixelsCompared(w *strings.Builder) {
	emit(w, "VPSLLD $24, Z6, Z6")
	emit(w, "VPSLLD $24, Z7, Z7")
	emit(w, "VPCMPUD $2, Z7, Z6, K3") // p <= q
}

// offsetTables loads a tree's 128 offsets at (AX) into Z20–Z27.
func offsetTables(w *strings.Builder) {
	for k := range 8 {
		emit(w, "VMOVDQU32 %d(AX), Z%d", 64*k, 20+k)
	}
}

// constants sets Z10 (all ones) and Z28 (32).
func constants(w *strings.Builder) {
	w.WriteString(`	MOVL $1, R8
	VPBROADCASTD R8, Z10
	MOVL $32, R8
	VPBROADCASTD R8, Z28
`)
}

// startTree readies a tree's pass over the windows at (SI) with their sums
// at (R12): the live ones are written back from the start (DI, R10) and
// counted in R13, and DX, the tree's leaf predictions, is moved 64 floats
// back so that a leaf's node number indexes it.
func startTree(w *strings.Builder) {
	w.WriteString(`	MOVQ SI, DI
	MOVQ R12, R10
	XORQ R13, R13
	SUBQ $256, DX
`)
}

// body writes the walk, scoring and compaction of the n windows (CX)
// centred at (SI) with their sums at (R12), the offset tables in Z20–Z27
// and at (AX) (for level 0's broadcast), then end, with the number kept in
// R13.
func body(w *strings.Builder, end string) {
	w.WriteString(`
triples:
	CMPQ CX, $48
	JLT  rest
`)
	for k, v := range []vec{a, b, c} {
		emit(w, "VMOVDQU32 %d(SI), %s", 64*k, v.c)
		emit(w, "VMOVUPS %d(R12), %s", 64*k, v.sum)
	}
	walk(w, "", a, b, c)
	score(w, a, "")
	score(w, b, "")
	score(w, c, "")
	w.WriteString(`	ADDQ $192, SI
	ADDQ $192, R12
	SUBQ $48, CX
	JMP  triples

rest:
	CMPQ CX, $0
	JLE  scored
	MOVL $0xffff, R9
	CMPQ CX, $16
	JGE  full
	MOVL $1, R9
	SHLL CX, R9
	DECL R9

full:
	KMOVW R9, K7
`)
	emit(w, "VMOVDQU32.Z (SI), K7, %s", a.c)
	emit(w, "VMOVUPS.Z (R12), K7, %s", a.sum)
	walk(w, "K7", a)
	score(w, a, "K7")
	fmt.Fprintf(w, `	ADDQ $64, SI
	ADDQ $64, R12
	SUBQ $16, CX
	JMP  rest

scored:
%s`, end)
}

func generate() string {
	var w strings.Builder
	w.WriteString(`// Code generated by internal/walkgen; DO NOT EDIT.

#include "textflag.h"

// func runTree(offs *[128]int32, pix *uint8, pred *float32, at *int32, sum *float32, n int, thr float32) int
TEXT ·runTree(SB), NOSPLIT, $0-64
	MOVQ offs+0(FP), AX
	MOVQ pix+8(FP), BX
	MOVQ pred+16(FP), DX
	MOVQ at+24(FP), SI
	MOVQ sum+32(FP), R12
	MOVQ n+40(FP), CX
`)
	offsetTables(&w)
	constants(&w)
	w.WriteString("\tVBROADCASTSS thr+48(FP), Z16\n")
	startTree(&w)
	body(&w, "\tMOVQ R13, ret+56(FP)\n\tVZEROUPPER\n\tRET\n")
	generateSized(&w)
	generateAVX2(&w)
	generateSizedAVX2(&w)
	generateFirstTree(&w)
	return w.String()
}

// memLookup writes the entries that idx numbers, at tree level d, into
// dst, from a tree's table of 128 in memory at off(AX) (entries 0 and 1
// unused), as lookup does from registers. At level 5, K2 must hold the
// lanes whose idx has bit 5 set (the upper half of the table).
func memLookup(w *strings.Builder, off, d int, idx, dst, tmp string) {
	switch {
	case d <= 2:
		emit(w, "VPERMD %d(AX), %s, %s", off, idx, dst)
	case d == 3:
		emit(w, "VPERMD %d(AX), %s, %s", off+64, idx, dst)
	case d == 4:
		emit(w, "VMOVDQU32 %d(AX), %s", off+128, dst)
		emit(w, "VPERMT2D %d(AX), %s, %s", off+192, idx, dst)
	default:
		emit(w, "VMOVDQU32 %d(AX), %s", off+256, dst)
		emit(w, "VPERMT2D %d(AX), %s, %s", off+320, idx, dst)
		emit(w, "VMOVDQU32 %d(AX), %s", off+384, tmp)
		emit(w, "VPERMT2D %d(AX), %s, %s", off+448, idx, tmp)
		emit(w, "VPBLENDMD %s, %s, K2, %s", tmp, dst, dst)
	}
}

// sized is one vector's registers in runTreesSized: as vec, and the
// windows' sizes.
type sized struct {
	vec
	size string
}

var (
	sa = sized{vec{"Z0", "Z1", "Z17"}, "Z11"}
	sb = sized{vec{"Z12", "Z13", "Z18"}, "Z29"}
	sc = sized{vec{"Z14", "Z15", "Z19"}, "Z30"}
)

// sizedPoint writes into dst the pixel indices of the comparison points
// that idx numbers, at tree level d (at level 0, node 1's point at byte
// root of the table; at levels 1 to 3 from the turned points' first 32
// rows and columns in Z24–Z27, see pointsInRegisters), for the windows of v: each window's
// offset computed from the turned point at (AX) (rows, then columns 512
// bytes on) and its own size, exactly as window.offset computes it, plus
// its centre.
func sizedPoint(w *strings.Builder, v sized, d, root int, idx, dst, col, tmp string) {
	if d == 0 { // every window is at node 1: its point at byte root
		emit(w, "VPBROADCASTD %d(AX), %s", root, dst)
		emit(w, "VPBROADCASTD %d(AX), %s", 512+root, col)
	} else {
		switch d {
		case 1, 2:
			emit(w, "VPERMD Z24, %s, %s", idx, dst)
			emit(w, "VPERMD Z26, %s, %s", idx, col)
		case 3:
			emit(w, "VPERMD Z25, %s, %s", idx, dst)
			emit(w, "VPERMD Z27, %s, %s", idx, col)
		default:
			if d == 5 {
				emit(w, "VPTESTMD Z28, %s, K2", idx)
			}
			memLookup(w, 0, d, idx, dst, tmp)
			memLookup(w, 512, d, idx, col, tmp)
		}
	}
	emit(w, "VPMULLD %s, %s, %s", v.size, dst, dst)
	emit(w, "VPMULLD %s, %s, %s", v.size, col, col)
	emit(w, "VPSRAD $%d, %s, %s", 8+turnBits, dst, dst)
	emit(w, "VPSRAD $%d, %s, %s", 8+turnBits, col, col)
	emit(w, "VPMULLD Z31, %s, %s", dst, dst)
	emit(w, "VPADDD %s, %s, %s", col, dst, dst)
	emit(w, "VPADDD %s, %s, %s", v.c, dst, dst)
}

// sizedLevel sends v down level d of the tree, its gathers masked by mask
// (or all lanes for "").
func sizedLevel(w *strings.Builder, v sized, d int, mask string) {
	if d == 0 {
		emit(w, "VPADDD Z10, Z10, %s", v.n)
	} else {
		emit(w, "VPADDD %s, %s, %s", v.n, v.n, v.n)
	}
	emit(w, "VPADDD Z10, %s, Z3", v.n)
	sizedPoint(w, v, d, 8, v.n, "Z4", "Z6", "Z8")
	sizedPoint(w, v, d, 12, "Z3", "Z5", "Z7", "Z9")
	step(w, v.vec, mask)
}

// sizedScore adds the leaf's prediction to v's sums and writes the windows
// whose sum exceeds the threshold (of the lanes in mask), their sums and
// their sizes to (DI), (R10) and (R9), counting them in R13. The stores
// are whole vectors: the caller leaves room for sixteen past the last
// window.
func sizedScore(w *strings.Builder, v sized, mask string) {
	passing(w, v.vec, "DX", 0, mask)
	emit(w, "VPCOMPRESSD %s, K5, Z8", v.c)
	emit(w, "VMOVDQU32 Z8, (DI)")
	emit(w, "VCOMPRESSPS %s, K5, Z9", v.sum)
	emit(w, "VMOVUPS Z9, (R10)")
	emit(w, "VPCOMPRESSD %s, K5, Z8", v.size)
	emit(w, "VMOVDQU32 Z8, (R9)")
	emit(w, "LEAQ (DI)(R11*4), DI")
	emit(w, "LEAQ (R10)(R11*4), R10")
	emit(w, "LEAQ (R9)(R11*4), R9")
	emit(w, "ADDQ R11, R13")
}

// pointsInRegisters loads the tree's turned points of levels 0 to 3 (the
// first 32 rows and columns) into Z24–Z27 for sizedPoint (level 4's in
// registers too measured no faster). Z24–Z27 held part of one size's
// offsets (the triples of one size): tsize is reset so that they are
// computed again.
func pointsInRegisters(w *strings.Builder) {
	emit(w, "VMOVDQU32 (AX), Z24")
	emit(w, "VMOVDQU32 64(AX), Z25")
	emit(w, "VMOVDQU32 512(AX), Z26")
	emit(w, "VMOVDQU32 576(AX), Z27")
	emit(w, "MOVL $0, tsize-8(SP)")
}

// generateSized writes runTreesSized.
func generateSized(w *strings.Builder) {
	w.WriteString(`
// func runTreesSized(tree *int32, stride int32, pix *uint8, pred, thr *float32, trees int, at, size *int32, sum *float32, n int) int
TEXT ·runTreesSized(SB), NOSPLIT, $8-88
	MOVL stride+8(FP), R8
	VPBROADCASTD R8, Z31
	MOVQ pix+16(FP), BX
`)
	constants(w)
	sizedStart(w, "sized", "Z16", 0)
	w.WriteString(`	MOVL $0, tsize-8(SP) // no size's offsets in Z20–Z27 yet

sizedTriples:
	CMPQ CX, $48
	JLT  sizedRest
`)
	vs := []sized{sa, sb, sc}
	for k, v := range vs {
		emit(w, "VMOVDQU32 %d(SI), %s", 64*k, v.c)
		emit(w, "VMOVUPS %d(R12), %s", 64*k, v.sum)
		emit(w, "VMOVDQU32 %d(R8), %s", 64*k, v.size)
	}
	w.WriteString(`	// Three vectors of one size go down with that size's offsets in
	// registers, computed when the size changes (the windows are sorted by
	// size); others compute each window's offsets.
	VPBROADCASTD (R8), Z2
`)
	emit(w, "VPCMPD $4, Z2, %s, K1", sa.size)
	emit(w, "VPCMPD $4, Z2, %s, K2", sb.size)
	emit(w, "VPCMPD $4, Z2, %s, K3", sc.size)
	w.WriteString(`	KORW K1, K2, K1
	KORW K1, K3, K1
	KORTESTW K1, K1
	JNZ  sizedMixed
	MOVL (R8), R11
	CMPL R11, tsize-8(SP)
	JEQ  sizedOneSize
	MOVL R11, tsize-8(SP)
	VPBROADCASTD R11, Z9
`)
	for k := range 8 {
		emit(w, "VMOVDQU32 %d(AX), Z2", 64*k)
		emit(w, "VMOVDQU32 %d(AX), Z3", 512+64*k)
		emit(w, "VPMULLD Z9, Z2, Z2")
		emit(w, "VPMULLD Z9, Z3, Z3")
		emit(w, "VPSRAD $%d, Z2, Z2", 8+turnBits)
		emit(w, "VPSRAD $%d, Z3, Z3", 8+turnBits)
		emit(w, "VPMULLD Z31, Z2, Z2")
		emit(w, "VPADDD Z3, Z2, Z%d", 20+k)
	}
	w.WriteString("\nsizedOneSize:\n")
	for d := range 6 {
		emit(w, "// level %d", d)
		for _, v := range vs {
			level(w, v.vec, d, "", false)
		}
	}
	w.WriteString("\tJMP  sizedScoreTriple\n\nsizedMixed:\n")
	pointsInRegisters(w)
	for d := range 6 {
		emit(w, "// level %d", d)
		for _, v := range vs {
			sizedLevel(w, v, d, "")
		}
	}
	w.WriteString("\nsizedScoreTriple:\n")
	for _, v := range vs {
		sizedScore(w, v, "")
	}
	w.WriteString(`	ADDQ $192, SI
	ADDQ $192, R8
	ADDQ $192, R12
	SUBQ $48, CX
	JMP  sizedTriples

sizedRest:
	CMPQ CX, $0
	JLE  sizedScored
	MOVL $0xffff, R11
	CMPQ CX, $16
	JGE  sizedFull
	MOVL $1, R11
	SHLL CX, R11
	DECL R11

sizedFull:
	KMOVW R11, K7
`)
	pointsInRegisters(w)
	emit(w, "VMOVDQU32.Z (SI), K7, %s", sa.c)
	emit(w, "VMOVUPS.Z (R12), K7, %s", sa.sum)
	emit(w, "VMOVDQU32.Z (R8), K7, %s", sa.size)
	for d := range 6 {
		sizedLevel(w, sa, d, "K7")
	}
	sizedScore(w, sa, "K7")
	sizedEnd(w, "sized", 16, 80)
}

// sizedStart begins a runTreesSized's trees, each one (at the label
// prefix+"Tree") with its pointers read from the arguments, its threshold
// broadcast into thr and DX moved back bytes before its leaf predictions;
// the windows are n, in CX.
func sizedStart(w *strings.Builder, prefix, thr string, back int) {
	fmt.Fprintf(w, `	MOVQ n+72(FP), CX

%[1]sTree:
	CMPQ CX, $0
	JLE  %[1]sDone
	CMPQ trees+40(FP), $0
	JLE  %[1]sDone
	MOVQ tree+0(FP), AX
	MOVQ pred+24(FP), DX
`, prefix)
	if back > 0 {
		emit(w, "SUBQ $%d, DX", back)
	}
	fmt.Fprintf(w, `	MOVQ thr+32(FP), R11
	VBROADCASTSS (R11), %s
	MOVQ at+48(FP), SI
	MOVQ SI, DI
	MOVQ size+56(FP), R8
	MOVQ R8, R9
	MOVQ sum+64(FP), R12
	MOVQ R12, R10
	XORQ R13, R13
`, thr)
}

// sizedEnd ends a runTreesSized: the step past a last vector of lanes
// windows back to the labelled prefix+"Rest", then, once a tree has scored
// every window, on to the next tree or, after the last, the count of
// windows left as the result (at ret(FP)).
func sizedEnd(w *strings.Builder, prefix string, lanes, ret int) {
	fmt.Fprintf(w, `	ADDQ $%[2]d, SI
	ADDQ $%[2]d, R8
	ADDQ $%[2]d, R12
	SUBQ $%[3]d, CX
	JMP  %[1]sRest

%[1]sScored:
	MOVQ R13, CX // the windows left for the next tree
	ADDQ $1024, tree+0(FP)
	ADDQ $256, pred+24(FP)
	ADDQ $4, thr+32(FP)
	DECQ trees+40(FP)
	JMP  %[1]sTree

%[1]sDone:
	MOVQ CX, ret+%[4]d(FP)
	VZEROUPPER
	RET
`, prefix, 4*lanes, lanes, ret)
}

func main() {
	out := flag.String("o", "walk_amd64.s", "file to write, - for standard output")
	flag.Parse()
	s := generate()
	if *out == "-" {
		fmt.Print(s)
		return
	}
	if err := os.WriteFile(*out, []byte(s), 0o644); err != nil {
		log.Fatal(err)
	}
}
