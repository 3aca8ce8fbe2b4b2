package blob

import (
	"errors"
	"strings"
	"testing"
)

func TestValidKey(t *testing.T) {
	seg := strings.Repeat("a", MaxSegmentLen)
	good := []string{
		"a", "subjects/s-1/assets/a_1.enc", "0", ".hidden", "a/.b", "a.b.c",
		seg + "/" + seg + "/" + strings.Repeat("b", MaxKeyLen-2*MaxSegmentLen-2),
	}
	for _, k := range good {
		if err := ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v, want nil", k, err)
		}
	}
	bad := []string{
		"", "/a", "a/", "a//b", ".", "./a", "a/./b", "..", "a/../b", "a..b", "A", "a b", "a#",
		"a\\b", "é", seg + "a", strings.Repeat("a/", MaxKeyLen/2) + "a",
	}
	for _, k := range bad {
		if err := ValidKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestValidPrefix(t *testing.T) {
	for _, p := range []string{"", "a", "a/", "subjects/s1/"} {
		if err := ValidPrefix(p); err != nil {
			t.Errorf("ValidPrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"/", "../", "a/..", "A"} {
		if err := ValidPrefix(p); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidPrefix(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
}
