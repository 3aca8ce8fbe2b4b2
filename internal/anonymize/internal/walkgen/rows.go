package main

import (
	"fmt"
	"strings"
)

// permuteLevels is how many of the first tree's levels runFirstTree walks
// without gathers (see generateFirstTree); the rest are gathered as in
// runTree.
const permuteLevels = 3

// generateFirstTree writes runFirstTree: the first tree for the windows of
// one grid row. The windows of a row lie a step apart, so the pixels that
// sixteen of them compare at one node lie in 64 bytes (steps up to 4) or
// 128 (up to 8): a byte permute (VPERMB, VPERMT2B) by the step's index
// vector picks all sixteen out of one or two loads, where a gather would
// fetch each. At the first levels a vector's windows sit at few nodes, so
// every node there is compared for all sixteen windows (a byte compare
// masked by the lanes at that node) and each lane keeps its own node's
// outcome, a bit mask per level; the deeper levels, where the windows
// spread over more nodes than that costs, are gathered as in runTree,
// three vectors at a time so that the gathers overlap. The windows that
// pass the tree are written with their sums (their leaf's prediction) as
// runTree writes them.
//
// Registers: AX the tree's offsets, BX the image, DX its predictions (less
// 64 floats), SI the next window's centre in the image (bytes), R12 the
// step of sixteen windows (bytes), CX the windows left, DI and R10 where
// the next kept window and sum go, R13 their count. Z0, Z12, Z14 the
// vectors' centres, Z1, Z13, Z15 their nodes, Z17–Z19 their sums, Z29 the
// step's byte indices, Z30 sixteen steps, Z31 scratch; K1–K3 each level's
// outcomes (K4 too with four levels permuted), K5 the lanes at a node, K6 a
// node's outcome, K7 the lanes in use.
func generateFirstTree(w *strings.Builder) {
	w.WriteString(`
// func runFirstTree(offs *[128]int32, pix *uint8, pred *float32, at *int32, sum *float32, first, step, nx int, idx *[64]byte, thr float32) int
TEXT ·runFirstTree(SB), NOSPLIT, $0-88
	MOVQ offs+0(FP), AX
	MOVQ pix+8(FP), BX
	MOVQ pred+16(FP), DX
	MOVQ at+24(FP), DI
	MOVQ sum+32(FP), R10
	MOVQ first+40(FP), SI
	MOVQ step+48(FP), R12
	MOVQ nx+56(FP), CX
	MOVQ idx+64(FP), R8
	VMOVDQU8 (R8), Z29
`)
	offsetTables(w)
	constants(w)
	w.WriteString(`	VBROADCASTSS thr+72(FP), Z16
	XORQ R13, R13
	SUBQ $256, DX
	// the centres: first, first+step, … (the index vector's bytes widened)
	VPMOVZXBD X29, Z0
	VPBROADCASTD SI, Z31
	VPADDD Z31, Z0, Z0
	MOVQ R12, R8
	SHLQ $4, R12
	VPBROADCASTD R12, Z30
	ADDQ BX, SI
	CMPQ R8, $4
	JGT  wideTriples
`)
	rowBody(w, "narrow", true)
	rowBody(w, "wide", false)
	w.WriteString(`
rowDone:
	MOVQ R13, ret+80(FP)
	VZEROUPPER
	RET
`)
}

// rowBody writes the loop over a row's windows, three vectors at a time
// and then one (masked) at a time, its labels prefixed by prefix; narrow
// is for steps up to 4 (a node's pixels for sixteen windows in 64 bytes).
func rowBody(w *strings.Builder, prefix string, narrow bool) {
	fmt.Fprintf(w, `
%[1]sTriples:
	CMPQ CX, $48
	JLT  %[1]sRest
	KXNORW K0, K0, K7
`, prefix)
	for k, v := range []vec{a, b, c} {
		if k > 0 {
			emit(w, "VPADDD Z30, %s, %s", []vec{a, b, c}[k-1].c, v.c)
			emit(w, "ADDQ R12, SI")
		}
		permuted(w, v, narrow)
	}
	for d := permuteLevels; d < 6; d++ {
		emit(w, "// level %d, gathered", d)
		for _, v := range []vec{a, b, c} {
			level(w, v, d, "", false)
		}
	}
	for _, v := range []vec{a, b, c} {
		score(w, v, "")
	}
	fmt.Fprintf(w, `	VPADDD Z30, Z14, Z0
	ADDQ R12, SI
	SUBQ $48, CX
	JMP  %[1]sTriples

%[1]sRest:
	CMPQ CX, $0
	JLE  rowDone
	MOVL $0xffff, R9
	CMPQ CX, $16
	JGE  %[1]sFull
	MOVL $1, R9
	SHLL CX, R9
	DECL R9

%[1]sFull:
	KMOVW R9, K7
`, prefix)
	permuted(w, a, narrow)
	for d := permuteLevels; d < 6; d++ {
		emit(w, "// level %d, gathered", d)
		level(w, a, d, "K7", false)
	}
	score(w, a, "K7")
	fmt.Fprintf(w, `	VPADDD Z30, Z0, Z0
	ADDQ R12, SI
	SUBQ $16, CX
	JMP  %[1]sRest
`, prefix)
}

// permuted walks the sixteen windows of v (the lanes in K7), from SI a
// step apart, down the tree's first permuteLevels levels without gathers,
// and leaves their nodes in v.n and zero in v.sum.
func permuted(w *strings.Builder, v vec, narrow bool) {
	bits := []string{"K1", "K2", "K3", "K4"}[:permuteLevels] // at most four
	for d := range permuteLevels {
		emit(w, "// level %d, every node compared for all lanes", d)
		for n := 1 << d; n < 2<<d; n++ {
			// The lanes at node n: those whose outcomes at the levels
			// above are n's bits below its leading one.
			mask := "K7"
			for j := range d {
				if n>>(d-1-j)&1 == 1 {
					emit(w, "KANDW %s, %s, K5", bits[j], mask)
				} else {
					emit(w, "KANDNW %s, %s, K5", mask, bits[j])
				}
				mask = "K5"
			}
			point(w, 8*n, "Z6", narrow)
			point(w, 8*n+4, "Z7", narrow)
			dst := "K6"
			if n == 1<<d {
				dst = bits[d]
			}
			emit(w, "VPCMPUB $2, Z7, Z6, %s, %s", mask, dst) // p <= q
			if dst == "K6" {
				emit(w, "KORW K6, %s, %s", bits[d], bits[d])
			}
		}
	}
	emit(w, "// the node each lane reached")
	emit(w, "VMOVDQA32 Z10, %s", v.n)
	for d := range permuteLevels {
		emit(w, "VPADDD %s, %s, %s", v.n, v.n, v.n)
		emit(w, "VPADDD Z10, %s, %s, %s", v.n, bits[d], v.n)
	}
	emit(w, "VPXORD %s, %s, %s", v.sum, v.sum, v.sum)
}

// point writes into dst the bytes at the comparison point whose offset is
// at off(AX), for the sixteen windows from SI a step apart: a byte permute
// by the step's indices (Z29) of the 64 bytes there, or (not narrow) of
// the 128.
func point(w *strings.Builder, off int, dst string, narrow bool) {
	emit(w, "MOVLQSX %d(AX), R14", off)
	if narrow {
		emit(w, "VPERMB (SI)(R14*1), Z29, %s", dst)
		return
	}
	emit(w, "VMOVDQU8 (SI)(R14*1), %s", dst)
	emit(w, "VPERMT2B 64(SI)(R14*1), Z29, %s", dst)
}
