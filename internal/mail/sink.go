package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"likeness"
	"likeness/internal/i18n"
	"likeness/internal/keys"
	"likeness/internal/outbox"
)

// SinkConfig says how a Sink sends.
type SinkConfig struct {
	// Transport sends; nil records every mail as not sent, since no mail
	// server is configured.
	Transport Transport
	// From is the sender, "Name <addr@example.com>" or a bare address;
	// its domain ends every Message-ID. Required when Transport is set.
	From string
	// BaseURL is the public origin of the pages the mails link to
	// ("https://privacy.example.com").
	BaseURL string
}

// Sink is the outbox sink (named likeness.SinkMail) that sends the mail.*
// messages. Safe for concurrent use.
type Sink struct {
	s    *Service
	cfg  SinkConfig
	from *mail.Address
}

// Sink returns the outbox sink that sends this service's mail. EINVALID
// if a Transport is set without a valid From.
func (s *Service) Sink(cfg SinkConfig) (*Sink, error) {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	k := &Sink{s: s, cfg: cfg, from: &mail.Address{Address: "privacy@localhost"}}
	if cfg.From != "" || cfg.Transport != nil {
		a, err := mail.ParseAddress(cfg.From)
		if err != nil {
			return nil, likeness.Errorf(likeness.EINVALID, "mail sender %q is not an address (\"Privacy <privacy@example.com>\")", cfg.From)
		}
		k.from = a
	}
	return k, nil
}

// Name implements outbox.Sink.
func (k *Sink) Name() string { return likeness.SinkMail }

// Sending reports whether mail goes to a server (false: recorded as not sent).
func (k *Sink) Sending() bool { return k.cfg.Transport != nil }

// Send implements outbox.Sink: it sends the mail m asks for, or records
// why none went. It returns an error (the address scrubbed out) only for
// a try worth repeating, or a permanent refusal.
func (k *Sink) Send(ctx context.Context, m *likeness.OutboxMessage) error {
	switch m.Type {
	case likeness.MsgMailPortalLink:
		var d likeness.MailPortalLinkData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return outbox.Permanent(fmt.Errorf("mail: %s: %w", m.Type, err))
		}
		subs, err := k.s.cfg.Subjects.SubjectsByContact(ctx, d.ContactHash)
		if err != nil {
			return err
		}
		var errs []error
		for _, sub := range subs {
			errs = append(errs, k.deliver(ctx, m, sub.ID, likeness.MailPortalLink, k.portalLink(sub.ID)))
		}
		return errors.Join(errs...)
	case likeness.MsgMailRenewal:
		var d likeness.MailRenewalData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return outbox.Permanent(fmt.Errorf("mail: %s: %w", m.Type, err))
		}
		return k.deliver(ctx, m, m.SubjectID, likeness.MailRenewal, func(_ context.Context, addr string, l *i18n.Locale) (*draft, error) {
			return k.s.renewalDraft(addr, l, d, k.cfg.BaseURL), nil
		})
	case likeness.MsgMailBreach:
		var d likeness.IncidentSubjectNoticeData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return outbox.Permanent(fmt.Errorf("mail: %s: %w", m.Type, err))
		}
		return k.deliver(ctx, m, m.SubjectID, likeness.MailBreach, func(_ context.Context, addr string, l *i18n.Locale) (*draft, error) {
			return k.s.breachDraft(addr, l, d, k.cfg.BaseURL), nil
		})
	case likeness.MsgMailWithdrawal:
		var d likeness.ConsentMessageData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return outbox.Permanent(fmt.Errorf("mail: %s: %w", m.Type, err))
		}
		return k.deliver(ctx, m, m.SubjectID, likeness.MailWithdrawal, func(_ context.Context, addr string, l *i18n.Locale) (*draft, error) {
			return k.s.withdrawalDraft(addr, l, d, k.cfg.BaseURL), nil
		})
	case likeness.MsgMailErasure:
		return k.sendErasure(ctx, m)
	}
	return nil // not for mail
}

// compose builds a draft for the address in the language chosen.
type compose func(ctx context.Context, addr string, l *i18n.Locale) (*draft, error)

// portalLink issues a single-use portal link for subjectID and composes
// the mail that carries it. The link is issued only when the mail goes
// out: nothing is issued for a mail recorded as not sent.
func (k *Sink) portalLink(subjectID string) compose {
	return func(ctx context.Context, addr string, l *i18n.Locale) (*draft, error) {
		now := k.s.cfg.Now().UTC()
		link := &likeness.Link{ID: likeness.NewLinkID(), Kind: likeness.LinkPortal, SubjectID: subjectID,
			CreatedAt: now, ExpiresAt: now.Add(k.s.cfg.LinkTTL)}
		if err := k.s.cfg.Store.CreateLink(ctx, link); err != nil {
			return nil, err
		}
		return k.s.portalLinkDraft(addr, l, k.cfg.BaseURL+"/me/login/"+link.ID), nil
	}
}

// deliver sends the mail of kind that m asks for to subjectID, and
// records it. A mail already sent (or settled otherwise) is not sent
// again; a person with no address on file gets none, and nothing is
// recorded; a person erased meanwhile gets none either.
func (k *Sink) deliver(ctx context.Context, m *likeness.OutboxMessage, subjectID, kind string, build compose) error {
	rec, err := k.s.cfg.Store.Mail(ctx, m.ID, subjectID)
	switch {
	case err == nil && settled(rec.Status):
		return nil
	case likeness.ErrorCode(err) == likeness.ENOTFOUND:
		rec = nil
	case err != nil:
		return err
	}
	gone := func() error {
		if rec != nil { // it was tried before the person was erased
			rec.Status = likeness.MailCancelled
			return k.s.cfg.Store.PutMail(ctx, rec)
		}
		return nil
	}
	sub, err := k.s.cfg.Subjects.Subject(ctx, subjectID)
	if c := likeness.ErrorCode(err); c == likeness.ENOTFOUND || c == likeness.EGONE {
		return gone()
	} else if err != nil {
		return err
	}
	addr, err := k.s.cfg.Subjects.Contact(ctx, subjectID)
	if c := likeness.ErrorCode(err); c == likeness.ENOTFOUND || c == likeness.EGONE {
		return gone() // no address on file (any more)
	} else if err != nil {
		return err
	}
	l := k.s.locale(sub.Locale)
	if rec == nil {
		rec = &likeness.Mail{MsgID: m.ID, SubjectID: subjectID, Kind: kind, To: Mask(addr), Locale: l.Code,
			Status: likeness.MailQueued, CreatedAt: k.s.cfg.Now().UTC()}
	}
	if k.cfg.Transport == nil {
		rec.Status = likeness.MailNotSent
		return k.s.cfg.Store.PutMail(ctx, rec)
	}
	d, err := build(ctx, addr, l)
	if err != nil {
		return err
	}
	return k.send(ctx, rec, d)
}

// settled reports whether a mail needs no further try.
func settled(status string) bool {
	switch status {
	case likeness.MailSent, likeness.MailNotSent, likeness.MailCancelled:
		return true
	}
	return false
}

// send renders d, hands it to the transport and records the outcome in
// rec. A failure is returned with the address scrubbed out.
func (k *Sink) send(ctx context.Context, rec *likeness.Mail, d *draft) error {
	rec.MessageID = messageID(rec.MsgID, rec.SubjectID, senderDomain(k.from))
	now := k.s.cfg.Now().UTC()
	raw, err := render(d, k.from, rec.MessageID, now)
	if err != nil {
		return err
	}
	rec.Attempts++
	if err := k.cfg.Transport.Send(ctx, k.from.Address, d.To, raw); err != nil {
		err = scrubError(err, d.To)
		rec.Status, rec.LastError = likeness.MailRetrying, clip(err.Error(), 500)
		if perr := k.s.cfg.Store.PutMail(context.WithoutCancel(ctx), rec); perr != nil {
			return errors.Join(err, perr)
		}
		return err
	}
	rec.Status, rec.LastError, rec.SentAt, rec.Sealed = likeness.MailSent, "", now, nil
	return k.s.cfg.Store.PutMail(context.WithoutCancel(ctx), rec)
}

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// errErasureRunning makes the outbox try an erasure confirmation again
// later: it goes out once the erasure is complete.
var errErasureRunning = errors.New("mail: the erasure is still running; its confirmation waits for it to complete")

// sendErasure sends an erasure confirmation composed before the person's
// key was destroyed, once the erasure is complete, and then drops it.
func (k *Sink) sendErasure(ctx context.Context, m *likeness.OutboxMessage) error {
	rec, err := k.s.cfg.Store.Mail(ctx, m.ID, m.SubjectID)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if settled(rec.Status) || rec.Sealed == nil {
		return nil
	}
	switch _, err := k.s.cfg.Subjects.Subject(ctx, m.SubjectID); likeness.ErrorCode(err) {
	case likeness.EGONE:
	case "":
		return errErasureRunning
	default:
		return err
	}
	plain, err := keys.Open(k.s.cfg.Key, rec.Sealed, erasureAD(rec.MsgID, rec.SubjectID))
	if err != nil {
		return outbox.Permanent(fmt.Errorf("mail: open erasure confirmation: %w", err))
	}
	defer keys.Wipe(plain)
	var d draft
	if err := json.Unmarshal(plain, &d); err != nil {
		return outbox.Permanent(fmt.Errorf("mail: erasure confirmation: %w", err))
	}
	if k.cfg.Transport == nil {
		rec.Status, rec.Sealed = likeness.MailNotSent, nil
		return k.s.cfg.Store.PutMail(ctx, rec)
	}
	return k.send(ctx, rec, &d)
}
