package httpapi

import (
	"encoding/json"
	"testing"
)

func TestAppendStringIsJSON(t *testing.T) {
	for _, s := range []string{"", "evt_abc234", "no_consent", `quote"`, `back\slash`, "tab\t", "<script>", "ünïcödé", "\x00"} {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}
