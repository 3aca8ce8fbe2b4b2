package mail_test

import (
	"bytes"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/mail"
	"likeness/internal/outbox"
)

func TestAnUnknownAddressGetsNoMailAndLeavesNoRecord(t *testing.T) {
	f := newFixture(t)
	f.person("known", "en", "known@example.org")
	if err := f.d.Mail.RequestPortalLink(f.ctx, "stranger@example.org"); err != nil {
		t.Fatalf("an unknown address is answered like a known one, got %v", err)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("%d deliveries, want the one request handled", n)
	}
	if got := f.mp.Messages(t); len(got) != 0 {
		t.Fatalf("%d mails went out for an unknown address", len(got))
	}
	if list, _ := f.d.Store.Mails(f.ctx, 10); len(list) != 0 {
		t.Fatalf("a mail record was made for an unknown address: %+v", list[0])
	}
}

func TestLinkRequestsAreLimitedPerAddressAndBadAddressesRefused(t *testing.T) {
	f := newFixture(t)
	for i := range 3 {
		if err := f.d.Mail.RequestPortalLink(f.ctx, "someone@example.org"); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	if err := f.d.Mail.RequestPortalLink(f.ctx, "SOMEONE@example.org"); likeness.ErrorCode(err) != likeness.ERATELIMIT {
		t.Fatalf("fourth request for one address (other case): %v, want rate_limited", err)
	}
	if err := f.d.Mail.RequestPortalLink(f.ctx, "other@example.org"); err != nil {
		t.Fatalf("another address is not limited by the first: %v", err)
	}
	for _, bad := range []string{"", "no-at-sign", "a@b", "Jane <jane@example.org>", "a@example.org\r\nBcc: x@example.org",
		strings.Repeat("a", 250) + "@example.org", "a b@example.org", "a@example.org,b@example.org"} {
		if err := f.d.Mail.RequestPortalLink(f.ctx, bad); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("RequestPortalLink(%q) = %v, want invalid", bad, err)
		}
	}
	var n int
	if err := f.d.Store.SQL().QueryRow(`SELECT count(*) FROM outbox_messages WHERE type = ?`, likeness.MsgMailPortalLink).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("%d link requests were queued, want the 4 accepted", n)
	}
}

// TestAnErasedPersonGetsOnlyTheErasureConfirmation queues a breach notice
// for a person, erases them before it goes, and checks that only the
// confirmation of the erasure reaches them, that nothing reaches them
// afterwards, and that their address was never stored in clear.
func TestAnErasedPersonGetsOnlyTheErasureConfirmation(t *testing.T) {
	f := newFixture(t)
	addr := "erased.person@example.org"
	sub := f.person("gone", "de", addr)
	f.d.Grant(t, sub, "voice-transcription", "ai-training")
	f.breach(sub) // queued, not delivered
	f.assertNotAtRest(addr)
	if _, err := f.d.Erasure.EraseSubject(f.ctx, sub); err != nil {
		t.Fatal(err)
	}
	f.deliver()
	got := f.mp.To(t, addr)
	if len(got) != 1 || !strings.Contains(got[0].Subject, "wurden gelöscht") {
		var subjects []string
		for _, m := range got {
			subjects = append(subjects, m.Subject)
		}
		t.Fatalf("the erased person received %v; want only the erasure confirmation", subjects)
	}
	if _, err := f.d.Store.Mail(f.ctx, "msg_"+likeness.MsgMailBreach+"_x", sub); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("unexpected record: %v", err)
	}
	// Afterwards: no link, no reminder, no further confirmation.
	f.d.Mail.RequestPortalLink(f.ctx, addr)
	f.d.Clock.Add(360 * 24 * time.Hour)
	f.d.Mail.RemindRenewals(f.ctx)
	f.deliver()
	if got := f.mp.To(t, addr); len(got) != 1 {
		t.Fatalf("%d mails after the erasure", len(got)-1)
	}
	f.assertNotAtRest(addr)
}

// assertNotAtRest fails if addr is in any file of the deployment: the
// database, its log, the blobs, the key file.
func (f *fixture) assertNotAtRest(addr string) {
	f.t.Helper()
	needle := []byte(strings.ToLower(addr))
	local, _, _ := strings.Cut(string(needle), "@")
	err := filepath.WalkDir(f.d.Dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(bytes.ToLower(b), needle) || bytes.Contains(bytes.ToLower(b), []byte(local)) {
			f.t.Errorf("%s holds the address in clear", p)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// TestARefusedRecipientFailsWithoutItsAddressInAnyLogOrRecord has the mail
// server refuse the recipient for good (a 5xx) and checks that the mail is
// given up at once and that neither the log, nor the mail record, nor the
// dead letter holds the address the server quoted.
func TestARefusedRecipientFailsWithoutItsAddressInAnyLogOrRecord(t *testing.T) {
	f := newFixture(t, "--smtp-allowed-recipients", "^nobody@nowhere[.]example$")
	addr := "refused.recipient@example.org"
	sub := f.person("refused", "en", addr)
	f.d.Grant(t, sub, "ai-training")
	if _, err := f.d.Consent.Withdraw(f.ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
		t.Fatal(err)
	}
	f.deliver()
	list, err := f.d.Store.Mails(f.ctx, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("Mails = %v, %v", list, err)
	}
	rec := list[0]
	if rec.Status != likeness.MailFailed || rec.Attempts != 1 || rec.LastError == "" {
		t.Fatalf("refused mail record %+v: want failed after one try, with the server's answer", rec)
	}
	dead, err := f.d.Store.DeadDeliveries(f.ctx, likeness.SinkMail, 100)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead deliveries %v, %v", dead, err)
	}
	for what, text := range map[string]string{"record": rec.LastError, "dead letter": dead[0].LastError, "log": f.log.String()} {
		if strings.Contains(strings.ToLower(text), "refused.recipient") {
			t.Errorf("the %s holds the address: %s", what, text)
		}
	}
	if !strings.Contains(f.log.String(), "outbox: delivery failed") {
		t.Fatalf("the failure was not logged:\n%s", f.log.String())
	}
	if len(f.mp.Messages(t)) != 0 {
		t.Fatal("a refused mail arrived")
	}
}

// TestAFailedSendIsRetriedAndArrivesOnce sends while the mail server is
// down, then again once it answers: the mail was kept in the outbox, and it
// arrives once, with the Message-ID it was first tried with.
func TestAFailedSendIsRetriedAndArrivesOnce(t *testing.T) {
	f := newFixture(t)
	addr := "patient@example.org"
	sub := f.person("patient", "en", addr)
	f.d.Grant(t, sub, "ai-training")
	down := deadAddress(t)
	f.disp.Sinks = []outbox.Sink{f.sink(&mail.SMTP{Addr: down, Timeout: 5 * time.Second})}
	if _, err := f.d.Consent.Withdraw(f.ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
		t.Fatal(err)
	}
	f.deliver()
	list, _ := f.d.Store.Mails(f.ctx, 10)
	if len(list) != 1 || list[0].Status != likeness.MailRetrying || list[0].Attempts != 1 {
		t.Fatalf("after a failed try: %+v", list)
	}
	firstID := list[0].MessageID
	f.disp.Sinks = []outbox.Sink{f.sink(&mail.SMTP{Addr: f.mp.SMTPAddr})}
	f.deliver() // not due yet
	if len(f.mp.Messages(t)) != 0 {
		t.Fatal("retried before its backoff")
	}
	f.d.Clock.Add(2 * time.Minute)
	f.deliver()
	f.deliver()
	got := f.mp.To(t, addr)
	if len(got) != 1 || got[0].MessageID != strings.Trim(firstID, "<>") {
		t.Fatalf("after the server came back: %d mails (Message-ID %v, first tried as %s)", len(got), got, firstID)
	}
	if list, _ := f.d.Store.Mails(f.ctx, 10); list[0].Status != likeness.MailSent || list[0].Attempts != 2 {
		t.Fatalf("record after the retry: %+v", list[0])
	}
}

// deadAddress is a loopback address where nothing listens.
func deadAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestWithoutAnSMTPServerMailIsRecordedAsNotSent(t *testing.T) {
	f := newFixture(t)
	f.disp.Sinks = []outbox.Sink{f.sink(nil)}
	sub := f.person("quiet", "en", "quiet@example.org")
	f.d.Grant(t, sub, "ai-training")
	if err := f.d.Mail.RequestPortalLink(f.ctx, "quiet@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.Consent.Withdraw(f.ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
		t.Fatal(err)
	}
	f.deliver()
	list, err := f.d.Store.Mails(f.ctx, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("Mails = %v, %v", list, err)
	}
	for _, r := range list {
		if r.Status != likeness.MailNotSent {
			t.Errorf("%s mail: %s, want not_sent", r.Kind, r.Status)
		}
	}
	var links int
	f.d.Store.SQL().QueryRow(`SELECT count(*) FROM links`).Scan(&links)
	if links != 0 {
		t.Fatalf("%d portal links were issued for mail that was never sent", links)
	}
}

// TestAMailStillWaitingWhenThePersonIsErasedIsCancelled fails a
// confirmation while the server is down, erases the person, and brings the
// server back: the waiting mail is cancelled (its address went with the
// key) and only the erasure confirmation arrives.
func TestAMailStillWaitingWhenThePersonIsErasedIsCancelled(t *testing.T) {
	f := newFixture(t)
	addr := "waiting@example.org"
	sub := f.person("waiting", "en", addr)
	f.d.Grant(t, sub, "ai-training")
	f.disp.Sinks = []outbox.Sink{f.sink(&mail.SMTP{Addr: deadAddress(t), Timeout: 5 * time.Second})}
	if _, err := f.d.Consent.Withdraw(f.ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
		t.Fatal(err)
	}
	f.deliver()
	if _, err := f.d.Erasure.EraseSubject(f.ctx, sub); err != nil {
		t.Fatal(err)
	}
	f.disp.Sinks = []outbox.Sink{f.sink(&mail.SMTP{Addr: f.mp.SMTPAddr})}
	f.d.Clock.Add(2 * time.Minute)
	f.deliver()
	f.deliver()
	got := f.mp.To(t, addr)
	if len(got) != 1 || !strings.Contains(got[0].Subject, "has been erased") {
		t.Fatalf("%d mails arrived; want only the erasure confirmation", len(got))
	}
	list, _ := f.d.Store.Mails(f.ctx, 10)
	states := map[string]string{}
	for _, r := range list {
		states[r.Kind] = r.Status
	}
	if states[likeness.MailWithdrawal] != likeness.MailCancelled || states[likeness.MailErasure] != likeness.MailSent {
		t.Fatalf("mail states %v; want the withdrawal cancelled, the erasure sent", states)
	}
}
