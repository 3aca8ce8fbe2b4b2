//go:build unix

package anonymize_test

import (
	"syscall"
	"time"
)

// userCPU is the user CPU time the process has used so far: on a machine
// shared with other work, the figure that says what one image costs.
func userCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano())
}
