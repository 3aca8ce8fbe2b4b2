//go:build !amd64

package anonymize

// vectorWalk is false: there is no vector tree here.
var vectorWalk = false

// vectorTrees is false: runTree is AVX-512 code.
func vectorTrees(*cascade, []uint8) bool { return false }

func runTree(*[2 << maxDepth]int32, *uint8, *float32, *int32, *float32, int, float32) int {
	panic("anonymize: no vector walk on this architecture")
}

func runTreesSized(*int32, int32, *uint8, *float32, *float32, int, *int32, *int32, *float32, int) int {
	panic("anonymize: no vector walk on this architecture")
}

func firstTreeRows(*cascade, []uint8, int) bool { return false }

func runFirstTree(*[2 << maxDepth]int32, *uint8, *float32, *int32, *float32, int, int, int, *[64]byte, float32) int {
	panic("anonymize: no vector walk on this architecture")
}

// halfWalk is false: runTreeAVX2 is x86 code.
var halfWalk = false

const hasAVX2 = false

type avx2Tables struct{}

var halfTables *avx2Tables

func halfTrees(*cascade, []uint8) bool { return false }

func runTreeAVX2(*[2 << maxDepth]int32, *uint8, *float32, *int32, *float32, int, float32, *avx2Tables) int {
	panic("anonymize: no vector walk on this architecture")
}

func runTreesSizedAVX2(*int32, int32, *uint8, *float32, *float32, int, *int32, *int32, *float32, int, *avx2Tables) int {
	panic("anonymize: no vector walk on this architecture")
}
