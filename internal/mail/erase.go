package mail

import (
	"context"
	"encoding/json"

	"likeness"
	"likeness/internal/keys"
)

func erasureAD(msgID, subjectID string) []byte {
	return []byte("mail-erasure:" + msgID + ":" + subjectID)
}

// erasureMsgID is the one erasure confirmation message of a subject.
func erasureMsgID(subjectID string) string { return "msg_" + likeness.MsgMailErasure + "_" + subjectID }

// BeforeKeyDestroyed composes the person's erasure confirmation while their
// address can still be read, seals it under the mail key and queues it; the
// Sink sends it once the erasure is complete. It is the erasure's step
// before crypto-shredding (erasure.Farewell): idempotent, and a no-op for a
// person with no address or whose key is already gone (a rerun after a
// crash). It fails only when the store does, which stops the erasure until
// its next run; a mail that cannot be composed is logged and skipped, so
// mail never holds an erasure up.
func (s *Service) BeforeKeyDestroyed(ctx context.Context, rec *likeness.ErasureRecord) error {
	msgID := erasureMsgID(rec.SubjectID)
	if _, err := s.cfg.Store.Mail(ctx, msgID, rec.SubjectID); err == nil {
		return nil // composed before
	} else if likeness.ErrorCode(err) != likeness.ENOTFOUND {
		return err
	}
	addr, err := s.cfg.Subjects.Contact(ctx, rec.SubjectID)
	switch likeness.ErrorCode(err) {
	case "":
	case likeness.ENOTFOUND, likeness.EGONE:
		return nil
	default:
		return err
	}
	// The subject may be marked erased already only if this is a rerun;
	// its locale was cleared then, and the key is gone, so it never gets here.
	sub, err := s.cfg.Subjects.Subject(ctx, rec.SubjectID)
	locale := ""
	if err == nil {
		locale = sub.Locale
	}
	l := s.locale(locale)
	plain, err := json.Marshal(s.erasureDraft(addr, l, rec))
	if err != nil {
		s.cfg.Logger.Error("mail: compose erasure confirmation", "subject", rec.SubjectID, "err", err)
		return nil
	}
	defer keys.Wipe(plain)
	sealed, err := keys.Seal(s.cfg.Key, plain, erasureAD(msgID, rec.SubjectID), s.cfg.Rand)
	if err != nil {
		s.cfg.Logger.Error("mail: seal erasure confirmation", "subject", rec.SubjectID, "err", err)
		return nil
	}
	now := s.cfg.Now().UTC()
	m := &likeness.Mail{MsgID: msgID, SubjectID: rec.SubjectID, Kind: likeness.MailErasure, To: Mask(addr), Locale: l.Code,
		Status: likeness.MailQueued, CreatedAt: now, Sealed: sealed}
	msg := &likeness.OutboxMessage{ID: msgID, Type: likeness.MsgMailErasure, Sink: likeness.SinkMail,
		SubjectID: rec.SubjectID, CreatedAt: now}
	return s.cfg.Store.QueueMail(ctx, m, msg)
}
