//go:build !unix

package anonymize_test

import "time"

// userCPU is not measured here; benchmarks report it as zero.
func userCPU() time.Duration { return 0 }
