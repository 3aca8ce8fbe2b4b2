//go:build likeness_crashtest

package erasure

import "os"

// crashAfter names the step after which a crash-test build exits with
// status 3, as if the process were killed there.
var crashAfter = os.Getenv("LIKENESS_CRASH_AFTER_STEP")

func afterStep(name string) {
	if crashAfter != "" && name == crashAfter {
		os.Exit(3)
	}
}
