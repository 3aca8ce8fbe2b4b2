package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"likeness"
)

func TestMessagesPageListsMailsMaskedWithTheirState(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.d.Clock.Now()
	for _, m := range []*likeness.Mail{
		{MsgID: "msg_a", SubjectID: "sub_a", Kind: likeness.MailPortalLink, To: "j•••@e•••.org", Locale: "de", Status: likeness.MailSent,
			Attempts: 1, MessageID: "<a@acme.example>", CreatedAt: now, SentAt: now.Add(time.Second)},
		{MsgID: "msg_b", SubjectID: "sub_b", Kind: likeness.MailBreach, To: "k•••@e•••.com", Locale: "en", Status: likeness.MailRetrying,
			Attempts: 2, LastError: "smtp: connect: connection refused", CreatedAt: now.Add(time.Minute)},
		{MsgID: "msg_c", SubjectID: "sub_c", Kind: likeness.MailErasure, To: "l•••@e•••.net", Locale: "en", Status: likeness.MailNotSent,
			CreatedAt: now.Add(2 * time.Minute)},
	} {
		if err := f.d.Store.PutMail(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	aud := f.client().signedIn(likeness.RoleAuditor)
	p := aud.Get("/console/messages")
	if p.Status != 200 {
		t.Fatalf("messages page: %d", p.Status)
	}
	contains(t, p, "Messages", "j•••@e•••.org", "Portal link", "sent", "Breach notice", "retrying", "connection refused",
		"Erasure confirmation", "not sent (no SMTP server)", `href="/console/subjects?id=sub_b"`,
		"No SMTP server is configured", `aria-current="page"`)
	if i, j := strings.Index(p.Body, "sub_c"), strings.Index(p.Body, "sub_a"); i < 0 || j < 0 || i > j {
		t.Error("the newest mail is not listed first")
	}
	de := aud.Get("/console/messages?lang=de")
	contains(t, de, "Nachrichten", "Portal-Link", "gesendet", "Benachrichtigung über Datenschutzverletzung", "nicht gesendet (kein SMTP-Server)")
	if p := f.client().Get("/console/messages"); p.URL.Path != "/console/login" {
		t.Fatalf("without a session the messages page went to %s", p.URL.Path)
	}
}
