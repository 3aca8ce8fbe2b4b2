package mail

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"likeness"
)

// RemindRenewals queues a reminder for every active consent that ends
// within RemindBefore, to each person with an address on file, and
// returns how many it queued. Each reminder's message id names the
// subject, purpose and end, so running it again, or on every replica,
// queues each reminder once.
func (s *Service) RemindRenewals(ctx context.Context) (int, error) {
	if s.cfg.Index == nil {
		return 0, nil
	}
	now := s.cfg.Now()
	var batch []*likeness.OutboxMessage
	queued := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.cfg.Store.Enqueue(ctx, batch...)
		queued += len(batch)
		batch = batch[:0]
		return err
	}
	for _, d := range s.cfg.Index.DueForRenewal(now, s.cfg.RemindBefore, 0) {
		if d.State != likeness.StateActive || d.Expires.IsZero() {
			continue // expired or needing renewal for a changed notice: not a reminder
		}
		sub, err := s.cfg.Subjects.Subject(ctx, d.SubjectID)
		if err != nil || !sub.HasContact() {
			continue
		}
		data, err := json.Marshal(likeness.MailRenewalData{SubjectID: d.SubjectID, Purpose: d.Purpose, Expires: d.Expires.UTC()})
		if err != nil {
			return queued, err
		}
		batch = append(batch, &likeness.OutboxMessage{
			ID:   "msg_" + likeness.MsgMailRenewal + "_" + d.SubjectID + "_" + d.Purpose + "_" + strconv.FormatInt(likeness.Micros(d.Expires), 10),
			Type: likeness.MsgMailRenewal, Sink: likeness.SinkMail, SubjectID: d.SubjectID, Data: data, CreatedAt: now})
		if len(batch) == 100 {
			if err := flush(); err != nil {
				return queued, err
			}
		}
	}
	return queued, flush()
}

// RunReminders runs RemindRenewals every interval until ctx ends, logging
// failures; the next run retries.
func (s *Service) RunReminders(ctx context.Context, interval time.Duration, wake func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.RemindRenewals(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("mail: queue renewal reminders", "err", err)
		} else if n > 0 && wake != nil {
			wake()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
