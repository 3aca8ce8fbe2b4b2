package dataset

import "testing"

func TestCountsReadAsEnglish(t *testing.T) {
	for _, c := range []struct {
		n    int
		noun string
		want string
	}{
		{1, "face box", "1 face box"},
		{117, "face box", "117 face boxes"},
		{0, "image", "0 images"},
		{3, "subject", "3 subjects"},
	} {
		if got := nof(c.n, c.noun); got != c.want {
			t.Errorf("nof(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}
