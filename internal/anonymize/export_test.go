package anonymize

// VectorTrees switches the AVX-512 tree walk on or off (where the processor
// has it) and returns a function that restores the setting, for benchmarks
// that measure both.
func VectorTrees(on bool) (restore func()) {
	was := vectorWalk
	vectorWalk = on && was
	return func() { vectorWalk = was }
}

// HasVectorTrees reports whether the AVX-512 tree walk runs here.
func HasVectorTrees() bool { return vectorWalk }
