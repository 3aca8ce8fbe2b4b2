// Package subjects owns the subject registry: creating subjects (minors
// included), finding them by id or by the keyed hash of the organization's
// own user id, rectifying them, and the deployment keys every replica shares.
//
// It is the only package that unwraps a subject's data key. Callers never
// hold the key: they ask for a [Cipher], which seals and opens fields and
// encrypts and decrypts blobs under it and wipes it on Close. A test in this
// package fails if any other package reads or unwraps a subject's key.
package subjects

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"likeness"
	"likeness/internal/keys"
)

// Store is what the registry needs from storage.
type Store interface {
	likeness.SettingStore
	likeness.SubjectStore
}

// Index hears of every subject created or rectified on this replica, so
// decisions use the subject's jurisdiction at once. The decision engine
// implements it. Safe for concurrent use.
type Index interface {
	PutSubject(id, jurisdiction string)
}

// Config holds what a Registry is built from. Store and KEK are required.
type Config struct {
	Store Store
	KEK   keys.KEK
	Index Index // nil: nothing is told
	// DefaultLocale is the locale of a subject created without one; nil
	// (or an empty answer) is "en".
	DefaultLocale func() string
	// Now and Rand are injected so tests control time and randomness.
	Now  func() time.Time
	Rand io.Reader
}

// Registry creates, finds and rectifies subjects and keeps their data keys
// behind the KEK. Safe for concurrent use.
type Registry struct {
	store     Store
	kek       keys.KEK
	index     Index
	locale    func() string
	now       func() time.Time
	rand      io.Reader
	lookupKey []byte // HMAC key for the organization's user ids
}

type noIndex struct{}

func (noIndex) PutSubject(string, string) {}

// New builds a Registry, creating the deployment's lookup key on first start.
func New(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.Store == nil || cfg.KEK == nil {
		return nil, fmt.Errorf("subjects: Store and KEK are required")
	}
	if cfg.Index == nil {
		cfg.Index = noIndex{}
	}
	if cfg.DefaultLocale == nil {
		cfg.DefaultLocale = func() string { return "en" }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	r := &Registry{store: cfg.Store, kek: cfg.KEK, index: cfg.Index, locale: cfg.DefaultLocale, now: cfg.Now, rand: cfg.Rand}
	var err error
	if r.lookupKey, err = r.DeploymentKey(ctx, "lookup_key"); err != nil {
		return nil, err
	}
	return r, nil
}

// ExternalHash is the keyed hash under which an organization's user id is
// stored: look-ups work, the id itself is never kept.
func (r *Registry) ExternalHash(externalID string) string {
	m := hmac.New(sha256.New, r.lookupKey)
	m.Write([]byte(externalID))
	return hex.EncodeToString(m.Sum(nil))
}

// CreateSubject is idempotent on the external id: a second call with the
// same id returns the existing subject and created=false; EGONE if that
// subject was erased. An empty locale is the policy's default language.
func (r *Registry) CreateSubject(ctx context.Context, externalID, locale, jurisdiction string) (*likeness.Subject, bool, error) {
	return r.create(ctx, externalID, locale, jurisdiction, false)
}

// CreateMinor is CreateSubject for a minor, whose consent only a guardian
// gives: each grant must name the guardian in evidence.guardian.
func (r *Registry) CreateMinor(ctx context.Context, externalID, locale, jurisdiction string) (*likeness.Subject, bool, error) {
	return r.create(ctx, externalID, locale, jurisdiction, true)
}

// check validates a new subject's fields and returns its locale, the
// default one if none is given.
func (r *Registry) check(externalID, locale, jurisdiction string) (string, error) {
	if externalID == "" || len(externalID) > 256 {
		return "", likeness.Errorf(likeness.EINVALID, "external_id is required (at most 256 characters)")
	}
	if _, err := likeness.ParseJurisdiction(jurisdiction); err != nil {
		return "", err
	}
	if locale == "" {
		if locale = r.locale(); locale == "" {
			locale = "en"
		}
	}
	if len(locale) > 16 {
		return "", likeness.Errorf(likeness.EINVALID, "locale %q is too long", locale)
	}
	return locale, nil
}

func (r *Registry) create(ctx context.Context, externalID, locale, jurisdiction string, guardian bool) (*likeness.Subject, bool, error) {
	locale, err := r.check(externalID, locale, jurisdiction)
	if err != nil {
		return nil, false, err
	}
	hash := r.ExternalHash(externalID)
	if existing, err := r.store.SubjectByExternalHash(ctx, hash); err == nil {
		return visible(existing)
	}
	id := likeness.NewID("sub")
	dek, err := keys.NewDEK(r.rand)
	if err != nil {
		return nil, false, err
	}
	defer keys.Wipe(dek)
	wrapped, err := r.kek.Wrap(ctx, dek, subjectAD(id))
	if err != nil {
		return nil, false, fmt.Errorf("subjects: wrap subject key: %w", err)
	}
	sub := &likeness.Subject{ID: id, ExternalHash: hash, Locale: locale, Jurisdiction: jurisdiction, Guardian: guardian, CreatedAt: r.now().UTC()}
	out, created, err := r.store.InsertSubject(ctx, sub, wrapped)
	if err != nil {
		return nil, false, err
	}
	if !created {
		return visible(out)
	}
	r.index.PutSubject(out.ID, out.Jurisdiction)
	return out, true, nil
}

func visible(sub *likeness.Subject) (*likeness.Subject, bool, error) {
	if sub.Erased() {
		return nil, false, likeness.Errorf(likeness.EGONE, "subject was erased")
	}
	return sub, false, nil
}

func subjectAD(id string) []byte { return []byte("subject:" + id) }

// Subject returns ENOTFOUND if absent and EGONE if erased.
func (r *Registry) Subject(ctx context.Context, id string) (*likeness.Subject, error) {
	if !likeness.ValidID("sub", id) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "subject not found")
	}
	sub, err := r.store.Subject(ctx, id)
	if err != nil {
		return nil, err
	}
	if sub.Erased() {
		return nil, likeness.Errorf(likeness.EGONE, "subject was erased")
	}
	return sub, nil
}

// SubjectByExternalID returns ENOTFOUND if no subject has that id and EGONE
// if it was erased.
func (r *Registry) SubjectByExternalID(ctx context.Context, externalID string) (*likeness.Subject, error) {
	sub, err := r.store.SubjectByExternalHash(ctx, r.ExternalHash(externalID))
	if err != nil {
		return nil, err
	}
	if sub.Erased() {
		return nil, likeness.Errorf(likeness.EGONE, "subject was erased")
	}
	return sub, nil
}

// Rectify corrects a subject's locale or jurisdiction (GDPR Art. 16); an
// empty value keeps the current one. Decisions use the new jurisdiction at
// once (transfer rules, BIPA).
func (r *Registry) Rectify(ctx context.Context, id, locale, jurisdiction string) (*likeness.Subject, error) {
	sub, err := r.Subject(ctx, id)
	if err != nil {
		return nil, err
	}
	if locale == "" {
		locale = sub.Locale
	}
	if jurisdiction == "" {
		jurisdiction = sub.Jurisdiction
	}
	if _, err := likeness.ParseJurisdiction(jurisdiction); err != nil {
		return nil, err
	}
	if len(locale) > 16 {
		return nil, likeness.Errorf(likeness.EINVALID, "locale %q is too long", locale)
	}
	if err := r.store.UpdateSubject(ctx, sub.ID, locale, jurisdiction, r.now().UTC()); err != nil {
		return nil, err
	}
	r.index.PutSubject(sub.ID, jurisdiction)
	sub.Locale, sub.Jurisdiction = locale, jurisdiction
	return sub, nil
}

// Cipher unwraps the subject's data key for the operations of one request.
// EGONE once the key was destroyed by an erasure. The caller closes it.
func (r *Registry) Cipher(ctx context.Context, subjectID string) (*Cipher, error) {
	dek, err := r.unwrapKey(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	return &Cipher{dek: dek, rand: r.rand}, nil
}

// unwrapKey is the one place a subject's data key leaves its wrapping.
func (r *Registry) unwrapKey(ctx context.Context, subjectID string) ([]byte, error) {
	w, err := r.store.SubjectKey(ctx, subjectID)
	if err != nil {
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			return nil, likeness.Errorf(likeness.EGONE, "the subject's key was destroyed")
		}
		return nil, err
	}
	return r.kek.Unwrap(ctx, w, subjectAD(subjectID))
}
