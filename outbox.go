package likeness

import (
	"encoding/json"
	"slices"
	"time"
)

// Outbox message types: what downstream systems (CRM, ML pipelines, ad
// partners) hear about. A message's type never changes meaning; new facts get
// new types.
const (
	MsgConsentGranted   = "consent.granted"   // a grant or a renewal that counts: given, or validated by a reviewer
	MsgConsentWithdrawn = "consent.withdrawn" // a withdrawal, GPC opt-outs included
	MsgConsentExpired   = "consent.expired"   // a grant lapsed (renew_every)
	MsgConsentRejected  = "consent.rejected"  // a reviewer found a consent not valid: it does not count
	MsgSubjectErased    = "subject.erased"
	MsgAssetErased      = "asset.erased"
	MsgAssetExpired     = "asset.expired" // erased by the retention sweeper
	MsgDatasetTainted   = "dataset.tainted"
)

// MessageTypes lists every Msg* type, the catalogue of events downstream
// systems can receive (docs/asyncapi.yaml and the OpenAPI webhooks).
var MessageTypes = []string{
	MsgConsentGranted, MsgConsentWithdrawn, MsgConsentExpired, MsgConsentRejected, MsgSubjectErased, MsgAssetErased, MsgAssetExpired, MsgDatasetTainted, MsgIncidentOpened, MsgIncidentSubjectNotice,
}

// ValidMessageType reports whether t is one of the Msg* types: an event for
// downstream systems (MessageTypes) or a mail to a person (IsMailMessage).
func ValidMessageType(t string) bool { return slices.Contains(MessageTypes, t) || IsMailMessage(t) }

// OutboxMessage is one event for downstream systems, written to the outbox in
// the same transaction as the change it reports, so a committed change is
// never lost and a rolled-back one is never sent.
type OutboxMessage struct {
	// ID ("msg_…") is the idempotency key: a receiver that sees an ID twice
	// drops the second copy.
	ID   string `json:"id"`
	Type string `json:"type"`
	// SubjectID is the pseudonymous subject id, "" for messages about no
	// one subject (a dataset). Messages of one subject are delivered in the
	// order they were enqueued.
	SubjectID string `json:"subject_id,omitempty"`
	// Sink, if set, addresses the message to that sink alone; "" is every
	// sink that is not AddressedOnly. The mail.* types must be addressed to
	// SinkMail.
	Sink string `json:"sink,omitempty"`
	// Data is the event body. It never holds raw external ids, media,
	// evidence or anything else a receiver could not be shown.
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead" // gave up; RetryDead puts it back
)

// Delivery is one message on its way to one sink.
type Delivery struct {
	Message   *OutboxMessage `json:"message"`
	Sink      string         `json:"sink"`
	Attempts  int            `json:"attempts"` // failed attempts so far
	State     string         `json:"state"`
	NextAt    time.Time      `json:"next_at,omitzero"`
	LastError string         `json:"last_error,omitempty"`
}

// OutboxLease is how long a claimed delivery belongs to its claimer. If the
// claimer neither marks it delivered nor failed within the lease (it crashed),
// the delivery can be claimed again.
const OutboxLease = 5 * time.Minute

// OutboxStore is the transactional outbox. Store code enqueues messages inside
// the transaction of the change they report; a dispatcher claims them per
// sink and marks each one delivered or failed. Every message goes to every
// sink independently: a delivery (message, sink) is created lazily, the first
// time that sink claims the message, so adding a sink later sends it the
// whole stored history. Implementations must be safe for concurrent use,
// also by several dispatchers on several replicas.
type OutboxStore interface {
	// Enqueue stores messages in a transaction of its own, for callers that
	// are not inside a store transaction. An empty ID gets a fresh one and a
	// zero CreatedAt the current time. Enqueue is idempotent on ID: a
	// message whose ID is already stored is skipped. An unknown Type or Data
	// that is not JSON is EINVALID.
	Enqueue(ctx Context, msgs ...*OutboxMessage) error

	// ClaimDeliveries returns up to limit messages for sink (those
	// addressed to it and, unless AddressedOnly(sink), those addressed to
	// no sink) not yet delivered to it whose next attempt is due (≤ now),
	// oldest first, and leases them
	// to the caller until now+OutboxLease. No other claim returns a leased
	// delivery. A message whose subject has an earlier message still
	// pending for this sink and not claimable now (waiting for a retry, or
	// leased by another claimer) is held back, so each subject's messages
	// reach a sink in order; dead deliveries do not hold anything back.
	ClaimDeliveries(ctx Context, sink string, now time.Time, limit int) ([]*Delivery, error)

	// MarkDelivered records that sink accepted the message; it is never
	// claimed again for that sink. ENOTFOUND if the message was never
	// claimed for sink.
	MarkDelivered(ctx Context, sink, msgID string, at time.Time) error

	// MarkFailed records a failed attempt (attempt counts them, starting at
	// 1), releases the lease and makes the delivery due again at nextAt, or
	// dead if dead is set. It does not undo a delivery already marked
	// delivered. ENOTFOUND if the message was never claimed for sink.
	MarkFailed(ctx Context, sink, msgID string, attempt int, nextAt time.Time, errText string, dead bool) error

	// DeadDeliveries lists up to limit dead deliveries of sink ("" for
	// every sink), oldest message first.
	DeadDeliveries(ctx Context, sink string, limit int) ([]*Delivery, error)

	// RetryDead makes a dead delivery pending and due at once, with its
	// attempt count reset. ENOTFOUND if there is no such dead delivery.
	RetryDead(ctx Context, sink, msgID string) error
}

// ConsentMessageData is the Data of consent.* messages.
type ConsentMessageData struct {
	EventID     string    `json:"event_id"`
	SubjectID   string    `json:"subject_id"`
	Purpose     string    `json:"purpose"`
	Event       EventType `json:"event"` // grant, renew, withdraw, expire, validated or validation_rejected
	Method      Method    `json:"method,omitempty"`
	Refers      string    `json:"refers,omitempty"` // validated, validation_rejected: the grant or renewal decided on
	LedgerIndex int64     `json:"ledger_index"`
	Time        time.Time `json:"time"`
	Imported    bool      `json:"imported,omitempty"` // brought in by an import; Time is when it happened elsewhere
}

// ConsentMessage returns the outbox message that reports ev, stored at ledger
// index idx, or nil for events downstream systems hear of otherwise (an
// erasure request is reported as subject.erased by the erasure itself). The
// message carries no evidence and no collector. A grant or renewal pending
// validation is not reported: consent.granted follows when a reviewer
// validates it, consent.rejected when one rejects it.
func ConsentMessage(ev *ConsentEvent, idx int64) *OutboxMessage {
	var typ string
	switch ev.Type {
	case Grant, Renew:
		if ev.Validation == ValidationPending {
			return nil
		}
		typ = MsgConsentGranted
	case Validated:
		typ = MsgConsentGranted
	case ValidationRejected:
		typ = MsgConsentRejected
	case Withdraw:
		typ = MsgConsentWithdrawn
	case Expire:
		typ = MsgConsentExpired
	default:
		return nil
	}
	at := FromMicros(Micros(ev.Time))
	data, err := json.Marshal(ConsentMessageData{EventID: ev.ID, SubjectID: ev.SubjectID, Purpose: ev.Purpose,
		Event: ev.Type, Method: ev.Method, Refers: ev.Refers, LedgerIndex: idx, Time: at, Imported: ev.Imported})
	if err != nil {
		panic("likeness: marshal consent message: " + err.Error()) // plain strings and numbers only
	}
	created := at
	if ev.Imported {
		created = time.Time{} // the message is new though the event is not: the store stamps it now
	}
	return &OutboxMessage{ID: NewID("msg"), Type: typ, SubjectID: ev.SubjectID, Data: data, CreatedAt: created}
}
