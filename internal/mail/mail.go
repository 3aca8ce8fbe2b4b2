// Package mail reaches people by e-mail: a sign-in link to their privacy
// portal when they ask for one, a reminder before a consent ends, the
// notice of a breach that affected them (GDPR Art. 34), and the
// confirmations of a withdrawal and of an erasure. Every message is plain
// text with an HTML alternative, in the person's language (one file per
// language under i18n), with a Message-ID, sent to the contact address
// kept on their subject (see package subjects) through an SMTP server.
//
// Nothing is sent from a request. Each mail starts as an outbox message
// addressed to the mail sink (likeness.SinkMail), written in the
// transaction of what it reports (a withdrawal, a breach notification) or
// on its own (a link asked for, a reminder due); the outbox dispatcher
// hands it to the Sink, which reads the address, composes, sends, and
// records the outcome in the mail store, where the console lists it. A
// failed send is retried with backoff and a crash loses nothing; a mail
// can, rarely, arrive twice (sent, then the process died before recording
// it), always with the same Message-ID.
//
// Addresses never rest in clear and never reach a log: the store keeps a
// keyed hash and the address sealed under the person's key; the mail
// record and the console show a masked form ("j•••@e•••.com"); SMTP errors
// have the address scrubbed out before they are logged or stored. Since
// the address is sealed under the person's key, erasing them makes every
// mail still waiting for them impossible to send: it is cancelled. The one
// exception is the erasure confirmation itself, composed just before the
// key is destroyed (Service.BeforeKeyDestroyed) and sealed under the
// deployment's mail key until it is sent, then dropped.
//
// "Send me a link" never says whether an address is known: the request
// does the same work either way (normalize, one HMAC, enqueue one message
// carrying the hash) and answers the same bytes; only the sink, later and
// out of band, looks the hash up. Requests are limited per address hash
// (here) and per client (in the page).
package mail

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"io"
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"likeness"
	"likeness/decision"
	"likeness/internal/i18n"
	"likeness/internal/ratelimit"
	"likeness/policy"
)

//go:embed i18n/*.json
var i18nFS embed.FS

// Subjects reads people and their contact addresses.
// *subjects.Registry implements it.
type Subjects interface {
	// Subject returns ENOTFOUND if absent and EGONE if erased.
	Subject(ctx context.Context, id string) (*likeness.Subject, error)
	// Contact opens the subject's address: ENOTFOUND if none is on file,
	// EGONE once their key is destroyed.
	Contact(ctx context.Context, id string) (string, error)
	// ContactHash is the keyed hash of a normalized address.
	ContactHash(addr string) string
	// SubjectsByContact returns the subjects not erased with that hash.
	SubjectsByContact(ctx context.Context, hash string) ([]*likeness.Subject, error)
}

// Store is what mail needs from storage.
type Store interface {
	likeness.MailStore
	Enqueue(ctx likeness.Context, msgs ...*likeness.OutboxMessage) error
	CreateLink(ctx likeness.Context, l *likeness.Link) error
}

// Index lists the consents due for renewal. *decision.Engine implements it.
type Index interface {
	DueForRenewal(at time.Time, within time.Duration, limit int) []decision.Due
}

// Config holds what a Service is built from. Store, Subjects, Policy and a
// 32-byte Key are required.
type Config struct {
	Store    Store
	Subjects Subjects
	Policy   func() *policy.Policy // the policy in force: organization, purposes
	Index    Index                 // nil: no renewal reminders
	// Key seals erasure confirmations between composing and sending (the
	// deployment's mail_key from package subjects).
	Key []byte
	// LinkTTL is how long a mailed portal link works; default 30 minutes.
	LinkTTL time.Duration
	// RemindBefore is how long before a consent ends its reminder goes
	// out; default 14 days.
	RemindBefore time.Duration
	// AddressLimit and AddressBurst bound link requests per address;
	// default one every 10 minutes with a burst of 3.
	AddressLimit rate.Limit
	AddressBurst int
	Now          func() time.Time // nil is time.Now
	Rand         io.Reader        // nil is crypto/rand
	Logger       *slog.Logger     // nil discards
}

// Service composes and queues mail to people. Safe for concurrent use.
type Service struct {
	cfg     Config
	tr      *i18n.Set
	perAddr *ratelimit.PerClient
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Subjects == nil || cfg.Policy == nil {
		return nil, errors.New("mail: Store, Subjects and Policy are required")
	}
	if len(cfg.Key) != 32 {
		return nil, errors.New("mail: Key must be 32 bytes")
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 30 * time.Minute
	}
	if cfg.RemindBefore <= 0 {
		cfg.RemindBefore = 14 * 24 * time.Hour
	}
	if cfg.AddressLimit == 0 {
		cfg.AddressLimit = rate.Every(10 * time.Minute)
	}
	if cfg.AddressBurst <= 0 {
		cfg.AddressBurst = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tr, err := i18n.Load(i18nFS)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, tr: tr, perAddr: ratelimit.New(cfg.AddressLimit, cfg.AddressBurst)}, nil
}
