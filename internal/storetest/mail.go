package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
)

func init() {
	tests = append(tests,
		Test{"ContactIsFoundByHashAndGoesWithTheKey", testContact},
		Test{"MailMessagesReachTheMailSinkAlone", testMailAddressed},
		Test{"WithdrawalEnqueuesItsConfirmationInItsTransaction", testWithdrawalMail},
		Test{"MailRecordsQueuePutAndList", testMailRecords},
	)
}

func testContact(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a, b, c := NewSubject(t, s, "a"), NewSubject(t, s, "b"), NewSubject(t, s, "c")
	if got, err := s.SubjectContact(ctx, a.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("SubjectContact with none on file = %x, %v; want not_found", got, err)
	}
	for _, sub := range []*likeness.Subject{a, b} { // two people may share an address
		if err := s.SetSubjectContact(ctx, sub.ID, "hash-1", []byte("sealed-"+sub.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetSubjectContact(ctx, c.ID, "hash-2", []byte("sealed-c")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Subject(ctx, a.ID); got.ContactHash != "hash-1" || !got.HasContact() {
		t.Fatalf("Subject().ContactHash = %q", got.ContactHash)
	}
	found, err := s.SubjectsByContactHash(ctx, "hash-1")
	var ids []string
	for _, f := range found {
		ids = append(ids, f.ID)
	}
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Fatalf("SubjectsByContactHash = %v, %v; want %v", ids, err, want)
	}
	if none, err := s.SubjectsByContactHash(ctx, "hash-unknown"); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("unknown hash = %v, %v; want an empty slice", none, err)
	}
	if got, err := s.SubjectContact(ctx, a.ID); err != nil || !bytes.Equal(got, []byte("sealed-"+a.ID)) {
		t.Fatalf("SubjectContact = %q, %v", got, err)
	}
	if err := s.SetSubjectContact(ctx, a.ID, "hash-1", nil); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Fatalf("a hash without its sealed address: %v, want invalid", err)
	}
	if err := s.SetSubjectContact(ctx, "sub_absent", "h", []byte("x")); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("contact of an absent subject: %v, want not_found", err)
	}
	// Clearing forgets it.
	if err := s.SetSubjectContact(ctx, c.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	if none, _ := s.SubjectsByContactHash(ctx, "hash-2"); len(none) != 0 {
		t.Fatal("a cleared address is still found")
	}
	// Destroying the key takes the address and its hash with it.
	if err := s.DestroySubjectKey(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SubjectContact(ctx, a.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("contact after the key was destroyed: %v, want not_found", err)
	}
	if got, _ := s.SubjectsByContactHash(ctx, "hash-1"); len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("after erasing a, hash-1 finds %v; want only b", got)
	}
	if got, _ := s.Subject(ctx, a.ID); got.HasContact() {
		t.Fatal("the erased subject still has a contact hash")
	}
}

func testMailAddressed(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	broadcast := &likeness.OutboxMessage{Type: likeness.MsgDatasetTainted, CreatedAt: t0}
	mail := &likeness.OutboxMessage{Type: likeness.MsgMailPortalLink, Sink: likeness.SinkMail, Data: json.RawMessage(`{"contact_hash":"h"}`), CreatedAt: t0}
	if err := s.Enqueue(ctx, broadcast, mail); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*likeness.OutboxMessage{
		{Type: likeness.MsgMailPortalLink, CreatedAt: t0},                          // mail to every sink
		{Type: likeness.MsgMailRenewal, Sink: "webhook", CreatedAt: t0},            // mail to another sink
		{Type: likeness.MsgDatasetTainted, Sink: likeness.SinkMail, CreatedAt: t0}, // an event to the mailer
	} {
		if err := s.Enqueue(ctx, bad); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("Enqueue(%s to %q) = %v, want invalid", bad.Type, bad.Sink, err)
		}
	}
	later := t0.Add(time.Hour)
	if got := msgIDs(claimAll(t, s, "webhook", later)); !slices.Equal(got, []string{broadcast.ID}) {
		t.Errorf("the webhook sink got %v, want only the broadcast %s", got, broadcast.ID)
	}
	got := claimAll(t, s, likeness.SinkMail, later)
	if len(got) != 1 || got[0].Message.ID != mail.ID || got[0].Message.Sink != likeness.SinkMail {
		t.Errorf("the mail sink got %v, want only %s, addressed to it", msgIDs(got), mail.ID)
	}
}

func testWithdrawalMail(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	imported := event(a.ID, "p2", likeness.Withdraw, t0.Add(2*time.Hour))
	imported.Method = likeness.Import
	evs := []*likeness.ConsentEvent{event(a.ID, "p1", likeness.Grant, t0), event(a.ID, "p1", likeness.Withdraw, t0.Add(time.Hour)), imported}
	if err := s.AppendEvents(ctx, evs, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	got := claimAll(t, s, likeness.SinkMail, t0.Add(24*time.Hour))
	if len(got) != 1 {
		t.Fatalf("the mail sink got %d messages, want 1: the confirmation of the one withdrawal not imported", len(got))
	}
	m := got[0].Message
	var d likeness.ConsentMessageData
	if err := json.Unmarshal(m.Data, &d); err != nil || m.Type != likeness.MsgMailWithdrawal || m.SubjectID != a.ID ||
		d.EventID != evs[1].ID || d.Purpose != "p1" || d.LedgerIndex != evs[1].LedgerIndex {
		t.Fatalf("confirmation = %+v (data %+v, %v)", m, d, err)
	}
}

func testMailRecords(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	m := &likeness.Mail{MsgID: "msg_mail.erasure_sub_a", SubjectID: "sub_a", Kind: likeness.MailErasure, To: "j•••@e•••.com",
		Locale: "de", Status: likeness.MailQueued, CreatedAt: t0, Sealed: []byte("sealed")}
	msg := &likeness.OutboxMessage{ID: m.MsgID, Type: likeness.MsgMailErasure, Sink: likeness.SinkMail, SubjectID: "sub_a", CreatedAt: t0}
	for range 2 {
		if err := s.QueueMail(ctx, m, msg); err != nil {
			t.Fatal(err)
		}
	}
	if got := claimAll(t, s, likeness.SinkMail, t0.Add(time.Hour)); len(got) != 1 {
		t.Fatalf("queued twice, the outbox holds %d messages, want 1", len(got))
	}
	got, err := s.Mail(ctx, m.MsgID, "sub_a")
	if err != nil || got.Status != likeness.MailQueued || string(got.Sealed) != "sealed" || got.To != m.To || !got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Fatalf("Mail = %+v, %v", got, err)
	}
	if _, err := s.Mail(ctx, m.MsgID, "sub_b"); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("absent mail: %v", err)
	}
	got.Status, got.Sealed, got.SentAt, got.Attempts, got.MessageID = likeness.MailSent, nil, t0.Add(time.Minute), 1, "<x@example.com>"
	if err := s.PutMail(ctx, got); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Mail(ctx, m.MsgID, "sub_a"); again.Status != likeness.MailSent || again.Sealed != nil || again.Attempts != 1 || again.MessageID != "<x@example.com>" {
		t.Fatalf("after PutMail: %+v (sealed %q)", again, again.Sealed)
	}
	// A mail whose delivery died is listed as failed.
	failing := &likeness.Mail{MsgID: "msg_b", SubjectID: "sub_b", Kind: likeness.MailRenewal, To: "a•••@b•••.de", Locale: "en",
		Status: likeness.MailRetrying, Attempts: 3, LastError: "451 try later", CreatedAt: t0.Add(2 * time.Minute)}
	fmsg := &likeness.OutboxMessage{ID: "msg_b", Type: likeness.MsgMailRenewal, Sink: likeness.SinkMail, SubjectID: "sub_b", CreatedAt: t0}
	if err := s.QueueMail(ctx, failing, fmsg); err != nil {
		t.Fatal(err)
	}
	ds, err := s.ClaimDeliveries(ctx, likeness.SinkMail, t0.Add(time.Hour), 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim: %v %v", ds, err)
	}
	if err := s.MarkFailed(ctx, likeness.SinkMail, "msg_b", 12, t0.Add(2*time.Hour), "451 try later", true); err != nil {
		t.Fatal(err)
	}
	list, err := s.Mails(ctx, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("Mails = %v, %v", list, err)
	}
	if list[0].MsgID != "msg_b" || list[0].Status != likeness.MailFailed || list[1].Status != likeness.MailSent {
		t.Fatalf("Mails = [%s %s, %s %s]; want the newest first, the dead one failed", list[0].MsgID, list[0].Status, list[1].MsgID, list[1].Status)
	}
	if one, _ := s.Mails(ctx, 1); len(one) != 1 {
		t.Fatalf("Mails(limit 1) gave %d", len(one))
	}
}
