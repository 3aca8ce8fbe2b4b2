package mail

import (
	"context"
	"encoding/json"

	"likeness"
	"likeness/internal/subjects"
)

// RequestPortalLink asks for a portal link to be mailed to whoever has addr
// on file. It does the same work whether or not anyone does: it normalizes
// the address, computes its keyed hash and enqueues one message carrying
// the hash; it reads nothing about subjects. The Sink looks the hash up
// later. EINVALID for a malformed address, ERATELIMIT when this address
// was asked for too often (the same for known and unknown addresses).
func (s *Service) RequestPortalLink(ctx context.Context, addr string) error {
	addr, err := subjects.NormalizeAddress(addr)
	if err != nil {
		return err
	}
	hash := s.cfg.Subjects.ContactHash(addr)
	if !s.perAddr.Allow(hash) {
		return likeness.Errorf(likeness.ERATELIMIT, "too many links were asked for this address; try again later")
	}
	now := s.cfg.Now().UTC()
	data, err := json.Marshal(likeness.MailPortalLinkData{ContactHash: hash, Time: now})
	if err != nil {
		return err
	}
	return s.cfg.Store.Enqueue(ctx, &likeness.OutboxMessage{ID: likeness.NewID("msg"), Type: likeness.MsgMailPortalLink,
		Sink: likeness.SinkMail, Data: data, CreatedAt: now})
}
