package snapshot

import "testing"

func TestProgressReadsAsTheLogSaysIt(t *testing.T) {
	for _, c := range []struct {
		r    Report
		want string
	}{
		{Report{Phase: "subjects", Unit: "subjects", Done: 400_000, Total: 1_000_000}, "loaded 400k/1M subjects"},
		{Report{Phase: "events", Unit: "consent events", Done: 1_200_000, Total: 3_000_000}, "loaded 1.2M/3M consent events"},
		{Report{Phase: "snapshot", Unit: "bytes", Done: 120 << 20, Total: 291 << 20}, "read 120 MiB/291 MiB of the snapshot"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("%+v reads %q, want %q", c.r, got, c.want)
		}
	}
}
