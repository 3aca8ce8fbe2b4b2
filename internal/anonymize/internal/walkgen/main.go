// Command walkgen writes walk_amd64.s, the AVX-512 tree of the face search
// (see runTree in walk_amd64.go). Run it with go generate in
// internal/anonymize.
//
// The walk is unrolled over the six levels of pigo's trees, because each
// level looks its comparisons' offsets up differently: a level's nodes hold
// 2 to 64 offsets, and they never leave registers (tables of 16 offsets
// each, looked up with VPERMD, VPERMI2D or two of those and a blend).
// Three vectors of sixteen windows go down together so that their gathers
// overlap (two were 15% slower per window); they share the registers of a
// level's passing values, which the processor renames.
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
// node's two comparison numbers (Z2, Z3), their offsets and then pixel
// indices (Z4, Z5), the pixels (Z6, Z7) and scratch (Z8, Z9). The offset
// tables: Z20 holds offs[0:16] (levels 0 to 2), Z21 offs[16:32] (level
// 3), Z22–Z23 offs[32:64] (level 4), Z24–Z27 offs[64:128] (level 5). The
// tree's leaf predictions are gathered from memory (DX), its threshold is
// in Z16. Z10 is all ones, Z11 0xff, Z28 32. K7 holds the lanes in use.

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
// mask (K7 for the lanes in use, or "" for all).
func level(w *strings.Builder, v vec, d int, mask string, inMemory bool) {
	setMask := func() {
		if mask != "" {
			emit(w, "KMOVW %s, K1", mask)
		} else {
			emit(w, "KXNORW K0, K0, K1")
		}
	}
	if d == 0 && inMemory { // every window is at node 1
		emit(w, "VPBROADCASTD 8(AX), Z4")
		emit(w, "VPBROADCASTD 12(AX), Z5")
		emit(w, "VPADDD Z10, Z10, Z2")
	} else {
		emit(w, "VPADDD %s, %s, Z2", v.n, v.n)
		emit(w, "VPADDD Z10, Z2, Z3")
		lookup(w, d, "Z2", "Z4", "Z8")
		lookup(w, d, "Z3", "Z5", "Z9")
	}
	emit(w, "VPADDD %s, Z4, Z4", v.c)
	emit(w, "VPADDD %s, Z5, Z5", v.c)
	setMask()
	emit(w, "VPGATHERDD (BX)(Z4*1), K1, Z6")
	setMask()
	emit(w, "VPGATHERDD (BX)(Z5*1), K1, Z7")
	emit(w, "VPANDD Z11, Z6, Z6")
	emit(w, "VPANDD Z11, Z7, Z7")
	emit(w, "VPCMPUD $2, Z7, Z6, K3") // p <= q
	emit(w, "VPADDD Z10, Z2, K3, Z2")
	emit(w, "VMOVDQA32 Z2, %s", v.n)
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

// score adds the leaf's prediction to v's sums and writes the windows
// whose sum exceeds the threshold (of the lanes in mask) to (DI) and
// (R10), counting them in R13.
func score(w *strings.Builder, v vec, mask string) {
	emit(w, "// the leaf's prediction (DX points 64 floats before the table)")
	predLookup(w, "DX", 256, v.n, "K4")
	emit(w, "VADDPS Z8, %s, %s", v.sum, v.sum)
	emit(w, "VCMPPS $0x1e, Z16, %s, K5", v.sum) // sum > thr
	if mask != "" {
		emit(w, "KANDW %s, K5, K5", mask)
	}
	// Compressed into a register and stored under a mask of the kept
	// count: the memory form of VPCOMPRESSD is microcoded on some
	// processors (AMD Zen 4 and 5) and many times slower.
	emit(w, "KMOVW K5, R11")
	emit(w, "POPCNTL R11, R11")
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

func walk(w *strings.Builder, mask string, inMemory bool, vs ...vec) {
	for d := range 6 {
		emit(w, "// level %d", d)
		for _, v := range vs {
			level(w, v, d, mask, inMemory)
		}
	}
}

func emit(w *strings.Builder, format string, args ...any) {
	fmt.Fprintf(w, "\t"+format+"\n", args...)
}

// turnBits is anonymize.turnBits: the fraction bits of a turned point below
// 1/256 of a window.
const turnBits = 16

// constants sets Z10 (all ones), Z11 (0xff) and Z28 (32).
func constants(w *strings.Builder) {
	w.WriteString(`	MOVL $1, R8
	VPBROADCASTD R8, Z10
	MOVL $255, R8
	VPBROADCASTD R8, Z11
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
// centred at (SI) with their sums at (R12), the offset tables in Z20–Z27,
// then end, with the number kept in R13; inMemory says whether the offsets
// are also at (AX), for level 0's broadcast.
func body(w *strings.Builder, inMemory bool, end string) {
	w.WriteString(`
triples:
	CMPQ CX, $48
	JLT  rest
`)
	for k, v := range []vec{a, b, c} {
		emit(w, "VMOVDQU32 %d(SI), %s", 64*k, v.c)
		emit(w, "VMOVUPS %d(R12), %s", 64*k, v.sum)
		if !inMemory {
			emit(w, "VMOVDQA32 Z10, %s", v.n)
		}
	}
	walk(w, "", inMemory, a, b, c)
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
	if !inMemory {
		emit(w, "VMOVDQA32 Z10, %s", a.n)
	}
	walk(w, "K7", inMemory, a)
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
	VMOVDQU32 (AX), Z20
	VMOVDQU32 64(AX), Z21
	VMOVDQU32 128(AX), Z22
	VMOVDQU32 192(AX), Z23
	VMOVDQU32 256(AX), Z24
	VMOVDQU32 320(AX), Z25
	VMOVDQU32 384(AX), Z26
	VMOVDQU32 448(AX), Z27
`)
	constants(&w)
	w.WriteString("\tVBROADCASTSS thr+48(FP), Z16\n")
	startTree(&w)
	body(&w, true, "\tMOVQ R13, ret+56(FP)\n\tVZEROUPPER\n\tRET\n")
	w.WriteString(`
// func runTreesTurned(tree *int32, size, stride int32, pix *uint8, pred, thr *float32, trees int, at *int32, sum *float32, n int) int
TEXT ·runTreesTurned(SB), NOSPLIT, $0-80
	MOVL size+8(FP), R8
	VPBROADCASTD R8, Z30
	MOVL stride+12(FP), R8
	VPBROADCASTD R8, Z31
	MOVQ pix+16(FP), BX
`)
	constants(&w)
	w.WriteString(`	MOVQ n+64(FP), CX

tree:
	CMPQ CX, $0
	JLE  done
	CMPQ trees+40(FP), $0
	JLE  done
	MOVQ tree+0(FP), AX
	// the tree's offsets, (R·size >> 24)·stride + (C·size >> 24), from its
	// turned points: rows at (AX), columns 512 bytes on
`)
	for k := range 8 {
		emit(&w, "VMOVDQU32 %d(AX), Z2", 64*k)
		emit(&w, "VMOVDQU32 %d(AX), Z3", 512+64*k)
		emit(&w, "VPMULLD Z30, Z2, Z2")
		emit(&w, "VPMULLD Z30, Z3, Z3")
		emit(&w, "VPSRAD $%d, Z2, Z2", 8+turnBits)
		emit(&w, "VPSRAD $%d, Z3, Z3", 8+turnBits)
		emit(&w, "VPMULLD Z31, Z2, Z2")
		emit(&w, "VPADDD Z3, Z2, Z%d", 20+k)
	}
	w.WriteString(`	MOVQ thr+32(FP), R8
	VBROADCASTSS (R8), Z16
	MOVQ pred+24(FP), DX
	MOVQ at+48(FP), SI
	MOVQ sum+56(FP), R12
`)
	startTree(&w)
	body(&w, false, `	MOVQ R13, CX // the windows left for the next tree
	ADDQ $1024, tree+0(FP)
	ADDQ $256, pred+24(FP)
	ADDQ $4, thr+32(FP)
	DECQ trees+40(FP)
	JMP  tree

done:
	MOVQ CX, ret+72(FP)
	VZEROUPPER
	RET
`)
	generateSlots(&w)
	return w.String()
}

// slotCount is how many groups of windows runSlots walks side by side, and
// slotSize the bytes of one slot (anonymize.slot).
const (
	slotCount = 4
	slotSize  = 704
)

// The fields of anonymize.slot, in bytes from its start.
const (
	slotAt     = 0
	slotSum    = 64
	slotOffs   = 128
	slotTurned = 640
	slotPred   = 648
	slotThr    = 656
	slotPix    = 664
	slotN      = 672
	slotSizeF  = 676
	slotStride = 680
	slotTree   = 684
)

// slotRegs are each slot's registers: its windows' centres, nodes and
// sums, the mask of its live lanes and its tree number.
var slotRegs = []struct {
	v    vec
	live string
	tree string
}{
	{vec{"Z0", "Z1", "Z17"}, "K4", "SI"},
	{vec{"Z12", "Z13", "Z18"}, "K5", "DI"},
	{vec{"Z14", "Z15", "Z19"}, "K6", "R12"},
	{vec{"Z20", "Z21", "Z22"}, "K7", "R13"},
}

// slotLookup writes the offsets that idx numbers, at tree level d, into
// dst, from the slot's offsets in memory at off(AX).
func slotLookup(w *strings.Builder, off, d int, idx, dst, tmp string) {
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
		emit(w, "VPTESTMD Z28, %s, K2", idx)
		emit(w, "VPBLENDMD %s, %s, K2, %s", tmp, dst, dst)
	}
}

// generateSlots writes runSlots: each slot's windows go down one tree per
// step, the slots' walks interleaved level by level so that their gathers
// overlap, until a slot has no window left or has run every tree.
func generateSlots(w *strings.Builder) {
	fmt.Fprintf(w, `
// func runSlots(s *[%d]slot, trees int)
TEXT ·runSlots(SB), NOSPLIT, $0-16
	MOVQ s+0(FP), AX
	MOVQ trees+8(FP), CX
`, slotCount)
	constants(w)
	for k, r := range slotRegs[:slotCount] {
		d := k * slotSize
		emit(w, "VMOVDQU32 %d(AX), %s", d+slotAt, r.v.c)
		emit(w, "VMOVUPS %d(AX), %s", d+slotSum, r.v.sum)
		emit(w, "MOVL %d(AX), R9", d+slotN)
		emit(w, "MOVL $1, R10")
		emit(w, "SHLXL R9, R10, R10")
		emit(w, "DECL R10")
		emit(w, "KMOVW R10, %s", r.live)
		emit(w, "MOVL %d(AX), %s", d+slotTree, r.tree)
	}
	w.WriteString("\nstep:\n")
	for k, r := range slotRegs[:slotCount] {
		d := k * slotSize
		emit(w, "// slot %d: this tree's offsets, from its turned points", k)
		emit(w, "MOVQ %s, R9", r.tree)
		emit(w, "SHLQ $10, R9")
		emit(w, "ADDQ %d(AX), R9", d+slotTurned)
		emit(w, "VPBROADCASTD %d(AX), Z30", d+slotSizeF)
		emit(w, "VPBROADCASTD %d(AX), Z31", d+slotStride)
		for j := range 8 {
			emit(w, "VMOVDQU32 %d(R9), Z2", 64*j)
			emit(w, "VMOVDQU32 %d(R9), Z3", 512+64*j)
			emit(w, "VPMULLD Z30, Z2, Z2")
			emit(w, "VPMULLD Z30, Z3, Z3")
			emit(w, "VPSRAD $%d, Z2, Z2", 8+turnBits)
			emit(w, "VPSRAD $%d, Z3, Z3", 8+turnBits)
			emit(w, "VPMULLD Z31, Z2, Z2")
			emit(w, "VPADDD Z3, Z2, Z2")
			emit(w, "VMOVDQU32 Z2, %d(AX)", d+slotOffs+64*j)
		}
	}
	for lv := range 6 {
		emit(w, "// level %d", lv)
		for k, r := range slotRegs[:slotCount] {
			d := k * slotSize
			if lv == 0 { // every window is at node 1
				emit(w, "VPBROADCASTD %d(AX), Z4", d+slotOffs+8)
				emit(w, "VPBROADCASTD %d(AX), Z5", d+slotOffs+12)
				emit(w, "VPADDD Z10, Z10, Z2")
			} else {
				emit(w, "VPADDD %s, %s, Z2", r.v.n, r.v.n)
				emit(w, "VPADDD Z10, Z2, Z3")
				slotLookup(w, d+slotOffs, lv, "Z2", "Z4", "Z8")
				slotLookup(w, d+slotOffs, lv, "Z3", "Z5", "Z9")
			}
			emit(w, "VPADDD %s, Z4, Z4", r.v.c)
			emit(w, "VPADDD %s, Z5, Z5", r.v.c)
			emit(w, "MOVQ %d(AX), R8", d+slotPix)
			emit(w, "KMOVW %s, K1", r.live)
			emit(w, "VPGATHERDD (R8)(Z4*1), K1, Z6")
			emit(w, "KMOVW %s, K1", r.live)
			emit(w, "VPGATHERDD (R8)(Z5*1), K1, Z7")
			emit(w, "VPANDD Z11, Z6, Z6")
			emit(w, "VPANDD Z11, Z7, Z7")
			emit(w, "VPCMPUD $2, Z7, Z6, K3") // p <= q
			emit(w, "VPADDD Z10, Z2, K3, Z2")
			emit(w, "VMOVDQA32 Z2, %s", r.v.n)
		}
	}
	for k, r := range slotRegs[:slotCount] {
		d := k * slotSize
		emit(w, "// slot %d: the leaf's prediction; keep the windows above the threshold", k)
		emit(w, "MOVQ %s, R10", r.tree)
		emit(w, "SHLQ $8, R10")
		emit(w, "ADDQ %d(AX), R10", d+slotPred)
		predLookup(w, "R10", 0, r.v.n, "K2")
		emit(w, "VADDPS Z8, %s, %s", r.v.sum, r.v.sum)
		emit(w, "MOVQ %d(AX), R11", d+slotThr)
		emit(w, "VBROADCASTSS (R11)(%s*4), Z9", r.tree)
		emit(w, "VCMPPS $0x1e, Z9, %s, %s, K2", r.v.sum, r.live) // sum > thr
		emit(w, "VPCOMPRESSD %s, K2, %s", r.v.c, r.v.c)
		emit(w, "VCOMPRESSPS %s, K2, %s", r.v.sum, r.v.sum)
		emit(w, "KMOVW K2, R9")
		emit(w, "POPCNTL R9, R9")
		emit(w, "MOVL $1, R10")
		emit(w, "SHLXL R9, R10, R10")
		emit(w, "DECL R10")
		emit(w, "KMOVW R10, %s", r.live)
		emit(w, "INCQ %s", r.tree)
	}
	for _, r := range slotRegs[:slotCount] {
		emit(w, "KORTESTW %s, %s", r.live, r.live)
		emit(w, "JZ   out")
		emit(w, "CMPQ %s, CX", r.tree)
		emit(w, "JGE  out")
	}
	w.WriteString("\tJMP  step\n\nout:\n")
	for k, r := range slotRegs[:slotCount] {
		d := k * slotSize
		emit(w, "VMOVDQU32 %s, %d(AX)", r.v.c, d+slotAt)
		emit(w, "VMOVUPS %s, %d(AX)", r.v.sum, d+slotSum)
		emit(w, "KMOVW %s, R9", r.live)
		emit(w, "POPCNTL R9, R9")
		emit(w, "MOVL R9, %d(AX)", d+slotN)
		emit(w, "MOVL %s, %d(AX)", r.tree, d+slotTree)
	}
	w.WriteString("\tVZEROUPPER\n\tRET\n")
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
