package likeness

import (
	"encoding/json"
	"time"
)

// Mail kinds: the messages likeness sends people itself, each in the
// person's language, to the contact address kept on their subject.
const (
	MailPortalLink = "portal_link" // a sign-in link the person asked for
	MailRenewal    = "renewal"     // a consent ends soon
	MailBreach     = "breach"      // a personal-data breach affected them (Art. 34)
	MailWithdrawal = "withdrawal"  // their withdrawal was recorded
	MailErasure    = "erasure"     // they were erased; the last message they get
)

// SinkMail is the outbox sink that sends mail. Messages of the mail.* types
// are addressed to it alone, so no other sink (webhook, NATS) ever sees
// them, and it receives nothing else (see AddressedOnly).
const SinkMail = "mail"

// AddressedOnly reports whether sink receives only the messages addressed
// to it, rather than every message not addressed to another sink.
func AddressedOnly(sink string) bool { return sink == SinkMail }

// Outbox message types addressed to the mail sink. They carry no address:
// the mail sink reads the person's contact address when it sends.
const (
	// MsgMailPortalLink asks for a portal link for whoever has the address
	// whose keyed hash it carries (MailPortalLinkData). It is enqueued
	// whether or not any subject has that address.
	MsgMailPortalLink = "mail.portal_link"
	// MsgMailRenewal reminds a person that a consent ends (MailRenewalData).
	MsgMailRenewal = "mail.renewal"
	// MsgMailBreach tells a person of a breach (IncidentSubjectNoticeData).
	MsgMailBreach = "mail.breach"
	// MsgMailWithdrawal confirms a withdrawal (ConsentMessageData).
	MsgMailWithdrawal = "mail.withdrawal"
	// MsgMailErasure sends an erasure confirmation composed before the
	// person's key was destroyed; the composed mail waits, sealed, in the
	// mail store (data: {}).
	MsgMailErasure = "mail.erasure"
)

// IsMailMessage reports whether t is one of the mail.* types.
func IsMailMessage(t string) bool {
	switch t {
	case MsgMailPortalLink, MsgMailRenewal, MsgMailBreach, MsgMailWithdrawal, MsgMailErasure:
		return true
	}
	return false
}

// MailPortalLinkData is the Data of mail.portal_link messages.
type MailPortalLinkData struct {
	ContactHash string    `json:"contact_hash"` // keyed hash of the address typed in
	Time        time.Time `json:"time"`
}

// MailRenewalData is the Data of mail.renewal messages.
type MailRenewalData struct {
	SubjectID string    `json:"subject_id"`
	Purpose   string    `json:"purpose"`
	Expires   time.Time `json:"expires"`
}

// WithdrawalMail returns the mail.withdrawal message that confirms ev to the
// person, or nil when ev is no withdrawal or one imported from elsewhere
// (history being loaded is not news to anyone). The store enqueues it in
// the transaction that records ev, beside ConsentMessage's.
func WithdrawalMail(ev *ConsentEvent, idx int64) *OutboxMessage {
	if ev.Type != Withdraw || ev.Method == Import {
		return nil
	}
	at := FromMicros(Micros(ev.Time))
	data, err := json.Marshal(ConsentMessageData{EventID: ev.ID, SubjectID: ev.SubjectID, Purpose: ev.Purpose,
		Event: ev.Type, Method: ev.Method, LedgerIndex: idx, Time: at})
	if err != nil {
		panic("likeness: marshal withdrawal mail: " + err.Error()) // plain strings and numbers only
	}
	return &OutboxMessage{ID: "msg_" + MsgMailWithdrawal + "_" + ev.ID, Type: MsgMailWithdrawal, Sink: SinkMail,
		SubjectID: ev.SubjectID, Data: data, CreatedAt: at}
}

// Mail states.
const (
	MailQueued    = "queued"    // composed (erasure confirmations), not yet tried
	MailRetrying  = "retrying"  // a try failed; the outbox tries again
	MailSent      = "sent"      // the mail server accepted it
	MailFailed    = "failed"    // every try failed (its delivery is dead)
	MailNotSent   = "not_sent"  // no mail server is configured
	MailCancelled = "cancelled" // the person was erased before it went
)

// Mail is the record of one message to one person: what the console lists.
// It never holds the address, only a masked form of it.
type Mail struct {
	MsgID     string    `json:"msg_id"` // the outbox message it answers
	SubjectID string    `json:"subject_id"`
	Kind      string    `json:"kind"`
	To        string    `json:"to"` // masked: "j•••@e•••.com"
	Locale    string    `json:"locale"`
	MessageID string    `json:"message_id,omitempty"` // its Message-ID header
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"` // the address scrubbed out
	CreatedAt time.Time `json:"created_at"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	// Sealed is an erasure confirmation composed before the person's key
	// was destroyed, sealed under the deployment's mail key, kept only
	// until it is sent (or cancelled); nil for every other mail.
	Sealed []byte `json:"-"`
}

// MailStore keeps the record of mails sent to people. Implementations must
// be safe for concurrent use. A mail is identified by the outbox message it
// answers and its subject (one message asking for a portal link may reach
// several subjects who share an address).
type MailStore interface {
	// QueueMail stores m and enqueues msg in one transaction, for a mail
	// composed ahead of sending. Idempotent: if a mail with m's MsgID and
	// SubjectID is stored, nothing changes.
	QueueMail(ctx Context, m *Mail, msg *OutboxMessage) error
	// PutMail stores m, replacing the record with its MsgID and SubjectID;
	// Sealed is stored as given (nil clears it).
	PutMail(ctx Context, m *Mail) error
	// Mail returns ENOTFOUND if absent.
	Mail(ctx Context, msgID, subjectID string) (*Mail, error)
	// Mails lists up to limit mails, newest first. A mail still queued or
	// retrying whose outbox delivery is dead is listed as MailFailed.
	Mails(ctx Context, limit int) ([]*Mail, error)
}
