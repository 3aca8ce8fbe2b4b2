package mail

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"testing"

	"likeness/internal/outbox"
)

func TestMaskShowsTooLittleToWriteToAnyone(t *testing.T) {
	for addr, want := range map[string]string{
		"jane.doe@example.com":   "j•••@e•••.com",
		"a@x.de":                 "a•••@x•••.de",
		"ünal@bücher.example":    "ü•••@b•••.example",
		"no-at-sign.example.org": "•••",
	} {
		if got := Mask(addr); got != want {
			t.Errorf("Mask(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestScrubTakesTheAddressOutOfAServersAnswer(t *testing.T) {
	addr := "jane.doe@example.org"
	srv := &textproto.Error{Code: 550, Msg: "5.1.1 <Jane.Doe@Example.org>: Recipient address rejected: user jane.doe unknown"}
	err := scrubError(outbox.Permanent(fmt.Errorf("smtp: RCPT TO: %w", srv)), addr)
	if strings.Contains(strings.ToLower(err.Error()), "jane.doe") {
		t.Fatalf("scrubbed error still names the person: %s", err)
	}
	if !strings.Contains(err.Error(), "j•••@e•••.org") || !strings.Contains(err.Error(), "550") {
		t.Fatalf("scrubbed error lost what helps an operator: %s", err)
	}
	if !errors.Is(err, outbox.ErrPermanent) {
		t.Fatal("scrubbing forgot that the failure is permanent")
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		t.Fatal("the original error, with the address, can still be reached")
	}
}
