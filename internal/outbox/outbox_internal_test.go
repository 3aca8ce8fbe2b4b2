package outbox

import (
	"strings"
	"testing"

	"likeness"
)

func TestALoggedMessageIDNamesNoPerson(t *testing.T) {
	sub := likeness.NewID("sub")
	got := logID("msg_" + likeness.MsgMailErasure + "_" + sub)
	if strings.Contains(got, sub) || got != "msg_"+likeness.MsgMailErasure+"_sub_…" {
		t.Errorf("logID = %q", got)
	}
	if id := likeness.NewID("msg"); logID(id) != id {
		t.Errorf("an id naming no one changed: %q", logID(id))
	}
}
