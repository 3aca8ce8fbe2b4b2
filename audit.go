package likeness

import (
	"context"
	"sync/atomic"
)

// PendingAudit is the audit-log entry of an API call still under way. The
// HTTP layer puts it in the request's context before the handler runs; a
// store write that records the call's change (a ledger append, a subject's
// creation) takes it and writes it in the same transaction, so the change
// and its record commit, or roll back, together and share one disk sync.
// After the handler the HTTP layer closes it and writes the entry on its
// own only if no write took it. The entry is therefore written at most
// once, and never for a change that rolled back. Safe for concurrent use.
type PendingAudit struct {
	entry *AccessEntry
	state atomic.Int32
}

const (
	auditFree    = iota // nobody holds the entry
	auditTaken          // a write holds it; its transaction decides
	auditWritten        // committed with a write
	auditClosed         // the call is over: no write may take it any more
)

// NewPendingAudit returns e waiting to be written.
func NewPendingAudit(e *AccessEntry) *PendingAudit { return &PendingAudit{entry: e} }

type pendingAuditKey struct{}

// WithPendingAudit returns a context carrying p.
func WithPendingAudit(ctx context.Context, p *PendingAudit) context.Context {
	return context.WithValue(ctx, pendingAuditKey{}, p)
}

// TakeAudit returns the pending audit entry of ctx for a write to record
// in its transaction, or nil if there is none or another write has it. A
// write that takes the entry must call Settle once its transaction ends.
func TakeAudit(ctx context.Context) *PendingAudit {
	p, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit)
	if p == nil || !p.state.CompareAndSwap(auditFree, auditTaken) {
		return nil
	}
	return p
}

// Entry is the entry to write.
func (p *PendingAudit) Entry() *AccessEntry { return p.entry }

// Settle ends a write's hold on the entry: committed says whether the
// entry's row committed. If it did not, the entry is free again for a
// later write or for the HTTP layer.
func (p *PendingAudit) Settle(committed bool) {
	if committed {
		p.state.Store(auditWritten)
		return
	}
	p.state.CompareAndSwap(auditTaken, auditFree)
}

// Close ends the call: no write may take the entry any more. It reports
// whether the entry is still unwritten, in which case the caller writes it
// on its own. Close on an entry a write still holds reports false: the
// write's transaction records it or not with the change.
func (p *PendingAudit) Close() bool {
	return p.state.CompareAndSwap(auditFree, auditClosed)
}

// Written reports whether the entry committed with a write.
func (p *PendingAudit) Written() bool { return p.state.Load() == auditWritten }

// AnnotateAudit adds to the pending audit entry of ctx, if there is one
// and no write took it, what the call did beyond its route: the purpose it
// concerned ("" leaves it) and reason, what was decided and why. The HTTP
// layer writes the entry after the handler, so a handler annotates before
// it returns.
func AnnotateAudit(ctx context.Context, purpose, reason string) {
	p, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit)
	if p == nil || p.state.Load() != auditFree {
		return
	}
	if purpose != "" {
		p.entry.Purpose = purpose
	}
	p.entry.Reason = reason
}
