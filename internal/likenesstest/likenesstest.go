// Package likenesstest builds a whole deployment for tests: a real SQLite
// (or PostgreSQL) store, a local key file, the decision index, the subject
// registry, the ledger, the consent and erasure services, the vault over filesystem blobs,
// the dataset service and the mailer, all on a clock the test moves. It
// also starts a real SMTP server (Mailpit) for the mail tests. Nothing in it
// is a fake; tests across the project share it so that each sets up the
// service the same way `likeness serve` does.
package likenesstest

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness"
	"likeness/decision"
	"likeness/internal/blob/fsblob"
	"likeness/internal/consent"
	"likeness/internal/dataset"
	"likeness/internal/erasure"
	"likeness/internal/http/page"
	"likeness/internal/httpapi"
	"likeness/internal/keys"
	"likeness/internal/ledgerlog"
	"likeness/internal/mail"
	"likeness/internal/records"
	"likeness/internal/requests"
	"likeness/internal/snapshot"
	"likeness/internal/sqlstore"
	"likeness/internal/subjects"
	"likeness/internal/vault"
	"likeness/internal/web"
	"likeness/policy"
)

// Start is where a deployment's clock stands unless Options says otherwise.
var Start = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Clock is a time source the test sets. Safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Options shape a deployment; the zero value is SQLite with the example
// policy at Start.
type Options struct {
	DSN    string         // database; "" is SQLite in Dir
	Policy *policy.Policy // nil is policy.Example()
	Start  time.Time      // zero is Start
	// Dir holds the database, key file and blobs; "" is a fresh t.TempDir().
	// Replicas of one deployment share it (and the DSN).
	Dir string
	// Clock, if set, is used instead of a new one (replicas share it).
	Clock *Clock
	// MaxUpload bounds uploads; 0 is 8 MiB.
	MaxUpload int64
	// Logger receives the mailer's log; nil discards it.
	Logger *slog.Logger
	// Snapshot, if set, is the decision snapshot the index is loaded from
	// when it verifies (see package snapshot); else everything is read.
	Snapshot string
}

// Deployment is one running likeness, without HTTP.
type Deployment struct {
	Dir      string
	Store    *sqlstore.DB
	KEK      *keys.Local
	Engine   *decision.Engine
	Notices  *consent.Notices
	Subjects *subjects.Registry
	Ledger   *ledgerlog.Log
	Consent  *consent.Service
	Erasure  *erasure.Service
	// Withdrawals erases what a withdrawal took the consent of.
	Withdrawals *erasure.Withdrawals
	Vault       *vault.Vault
	Datasets    *dataset.Service
	Mail        *mail.Service
	Clock       *Clock
}

// New builds a deployment; everything is closed when the test ends.
func New(t testing.TB, o Options) *Deployment {
	t.Helper()
	ctx := context.Background()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.DSN == "" {
		o.DSN = "sqlite:" + filepath.Join(o.Dir, "likeness.db")
	}
	if o.Policy == nil {
		o.Policy = policy.Example()
	}
	if o.Start.IsZero() {
		o.Start = Start
	}
	if o.Clock == nil {
		o.Clock = &Clock{t: o.Start}
	}
	if o.MaxUpload == 0 {
		o.MaxUpload = 8 << 20
	}
	d := &Deployment{Dir: o.Dir, Clock: o.Clock}
	var err error
	if d.Store, err = sqlstore.Open(ctx, o.DSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Store.Close() })
	if d.KEK, _, err = keys.OpenLocal(filepath.Join(o.Dir, "kek.json"), nil); err != nil {
		t.Fatal(err)
	}
	if err := d.build(ctx, o); err != nil {
		t.Fatal(err)
	}
	return d
}

// build wires the services the way `likeness serve` does.
func (d *Deployment) build(ctx context.Context, o Options) error {
	var err error
	d.Engine = decision.New(o.Policy)
	if d.Notices, err = consent.PublishNotices(ctx, d.Store, d.Engine, o.Policy, d.Clock.Now); err != nil {
		return err
	}
	if d.Subjects, err = subjects.New(ctx, subjects.Config{Store: d.Store, KEK: d.KEK, Index: d.Engine,
		DefaultLocale: d.Notices.DefaultLanguage, Now: d.Clock.Now}); err != nil {
		return err
	}
	seed, err := d.Subjects.DeploymentKey(ctx, "ledger_signing_seed")
	if err != nil {
		return err
	}
	defer keys.Wipe(seed)
	if d.Ledger, err = ledgerlog.New(ctx, d.Store, "likeness-test", seed, d.Clock.Now); err != nil {
		return err
	}
	blobs, err := fsblob.New(filepath.Join(o.Dir, "blobs"))
	if err != nil {
		return err
	}
	if d.Vault, err = vault.New(ctx, vault.Config{Store: d.Store, Blobs: blobs, Subjects: d.Subjects, Decisions: d.Engine,
		Policy: d.Notices.Policy, Now: d.Clock.Now, MaxSize: o.MaxUpload, Region: "eu-test"}); err != nil {
		return err
	}
	if d.Datasets, err = dataset.New(dataset.Config{Store: d.Store, Subjects: d.Subjects, Engine: d.Engine, Policy: d.Notices.Policy,
		Vault: d.Vault, KEK: d.KEK, Now: d.Clock.Now}); err != nil {
		return err
	}
	d.Withdrawals = erasure.NewWithdrawals(erasure.WithdrawalsConfig{Store: d.Store, Assets: d.Vault, Signer: d.Ledger.Signer,
		Policy: d.Notices.Policy, Now: d.Clock.Now, Logger: o.Logger})
	d.Consent, err = consent.New(ctx, consent.Config{Store: d.Store, Subjects: d.Subjects, Notices: d.Notices, Engine: d.Engine,
		Log: d.Ledger, Erasers: []consent.PurposeEraser{d.Withdrawals}, Listeners: []consent.Listener{d.Datasets}, Now: d.Clock.Now})
	if err != nil {
		return err
	}
	mailKey, err := d.Subjects.DeploymentKey(ctx, subjects.MailKey)
	if err != nil {
		return err
	}
	if d.Mail, err = mail.New(mail.Config{Store: d.Store, Subjects: d.Subjects, Policy: d.Notices.Policy, Index: d.Engine,
		Key: mailKey, Now: d.Clock.Now, Logger: o.Logger}); err != nil {
		return err
	}
	d.Erasure, err = erasure.New(erasure.Config{Store: d.Store, Log: d.Ledger, Index: d.Engine, Events: d.Consent,
		Policy: d.Notices.Policy, Erasers: []erasure.DataEraser{d.Vault}, Listeners: []erasure.Listener{d.Datasets},
		Farewells: []erasure.Farewell{d.Mail}, Now: d.Clock.Now})
	if err != nil {
		return err
	}
	_, err = snapshot.Load(ctx, snapshot.Config{Path: o.Snapshot, Store: d.Store, Engine: d.Engine, Log: d.Ledger, Events: d.Consent,
		Origin: d.Ledger.Signer().Name(), Policy: snapshot.PolicyDigest(o.Policy.Source)})
	return err
}

// APIConfig is the API configuration of d, as serve builds it but without
// datasets, incidents or requests; tests add what they need.
func (d *Deployment) APIConfig() httpapi.Config {
	return httpapi.Config{Subjects: d.Subjects, Notices: d.Notices, Consent: d.Consent, Index: d.Engine, Ledger: d.Ledger,
		Eraser: d.Erasure, Vault: d.Vault, Store: d.Store, Now: d.Clock.Now, Validations: d.Consent,
		Records: records.New(d.Notices.Policy, d.Store, d.Clock.Now)}
}

// WebConfig is the pages' configuration of d with its consent services and
// link store; tests add the rest.
func (d *Deployment) WebConfig() web.Config {
	return web.Config{Consent: d.Consent, Subjects: d.Subjects, Notices: d.Notices, Receipts: d.Ledger, Links: d.Store, Sessions: d.Store, Withdrawn: d.Store, Options: page.Options{Now: d.Clock.Now}}
}

// Requests returns a register of data-subject requests wired to d.
func (d *Deployment) Requests(t testing.TB) *requests.Service {
	t.Helper()
	rs, err := requests.New(requests.Config{Store: d.Store, Subjects: d.Subjects, Consent: d.Consent, States: d.Engine,
		Eraser: d.Erasure, Policy: d.Notices.Policy, Now: d.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// Subject creates a subject and returns its id.
func (d *Deployment) Subject(t testing.TB, externalID, jurisdiction string) string {
	t.Helper()
	sub, _, err := d.Subjects.CreateSubject(context.Background(), externalID, "en", jurisdiction)
	if err != nil {
		t.Fatal(err)
	}
	return sub.ID
}

// Grant records checkbox consent to purposes under the current English
// notice and returns the events.
func (d *Deployment) Grant(t testing.TB, subjectID string, purposes ...string) []*likeness.ConsentEvent {
	t.Helper()
	n, err := d.Notices.Notice("en")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := d.Consent.Grant(context.Background(), &likeness.GrantRequest{SubjectID: subjectID, Purposes: purposes,
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// WAV returns a valid 16-bit mono PCM WAV file whose samples are marker
// repeated n times, so a test can look for the marker at rest.
func WAV(marker string, n int) []byte {
	data := bytes.Repeat([]byte(marker), n)
	b := make([]byte, 0, 44+len(data))
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+len(data)))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1)     // PCM
	b = binary.LittleEndian.AppendUint16(b, 1)     // mono
	b = binary.LittleEndian.AppendUint32(b, 8000)  // sample rate
	b = binary.LittleEndian.AppendUint32(b, 16000) // byte rate
	b = binary.LittleEndian.AppendUint16(b, 2)     // block align
	b = binary.LittleEndian.AppendUint16(b, 16)    // bits per sample
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// ValidatingPolicy is the example policy with every consent to
// ai-training held for a reviewer (72 hours to decide) and, for every
// purpose, consents given aloud or by a guardian.
func ValidatingPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	src := string(policy.Example().Source)
	const anchor = "    renew_every: 12mo        # consent must be confirmed again after this long\n"
	if !strings.Contains(src, anchor) {
		t.Fatal("likenesstest: the example policy changed; update ValidatingPolicy")
	}
	src = strings.Replace(src, anchor, anchor+"    validation: {required: true, deadline: 72h}\n", 1)
	src += "validation: {methods: [voice, guardian]}\n"
	p, err := policy.Parse("validating.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
