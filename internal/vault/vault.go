// Package vault keeps subjects' media: it admits an upload only when the
// subject has an active consent for the purpose and category it is collected
// for, strips identifying metadata from images, encrypts the bytes as they
// stream in under the subject's own data key (so erasing the key erases every
// copy), hands content out only when a decision allows the purpose,
// recipient and transfer, and records every access and denied attempt.
//
// Blobs are encrypted with keys.EncryptWriter (AES-256-GCM segments of 1 MiB
// with a per-blob key derived by HKDF from the subject's data key and a
// random salt); the asset id is bound as additional data, so a blob moved to
// another asset's key fails to decrypt. The blob store sees only ciphertext.
package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"likeness"
	"likeness/internal/blob"
	"likeness/internal/jurisdiction"
	"likeness/internal/media"
	"likeness/internal/subjects"
	"likeness/policy"
)

// DefaultMaxSize is the largest upload accepted unless configured.
const DefaultMaxSize = 2 << 30

// Subjects finds subjects and encrypts their media under their own data
// key. *subjects.Registry implements it.
type Subjects interface {
	// Subject returns ENOTFOUND if absent and EGONE if erased.
	Subject(ctx context.Context, id string) (*likeness.Subject, error)
	// Cipher returns EGONE once the subject's key was destroyed; the caller
	// closes it.
	Cipher(ctx context.Context, subjectID string) (*subjects.Cipher, error)
}

// Decisions is the in-memory decision index: the vault asks it before it
// admits or releases media and keeps it told of assets. *decision.Engine
// implements it; it must be safe for concurrent use.
type Decisions interface {
	Decide(r *likeness.DecisionRequest) likeness.Decision
	PutAsset(a *likeness.Asset)
	EraseAsset(id string)
}

// Vault stores and serves media. It is safe for concurrent use.
type Vault struct {
	store     likeness.Store
	blobs     blob.Store
	subjects  Subjects
	decisions Decisions
	policy    func() *policy.Policy
	now       func() time.Time
	log       *slog.Logger
	maxSize   int64
	region    string
	// erased hears of every asset erased (see OnErased); set once, before
	// the vault is used.
	erased func(ctx context.Context, assetID, reason string) error
}

// Reasons an asset is erased on its own, not by a withdrawal or a
// person's erasure (which their listeners hear of).
const (
	ErasedOnRequest  = "erased_on_request" // DELETE /v1/assets/{id}
	RetentionExpired = "retention_expired" // past its retention deadline
)

// OnErased makes f hear of every asset EraseAsset erases, with the reason
// given, once its blob is gone and its row marked (datasets taint what held
// it). Call it once, before the vault is used. An error from f fails the
// erasure, which a retry completes: every step is idempotent.
func (v *Vault) OnErased(f func(ctx context.Context, assetID, reason string) error) { v.erased = f }

// Config holds a Vault's dependencies. Store, Blobs, Subjects, Decisions
// and Policy are required.
type Config struct {
	Store     likeness.Store
	Blobs     blob.Store
	Subjects  Subjects
	Decisions Decisions
	Policy    func() *policy.Policy // the policy in force
	Now       func() time.Time
	Logger    *slog.Logger
	MaxSize   int64  // bytes; 0 means DefaultMaxSize
	Region    string // where blobs are stored, e.g. "eu-central"; recorded per asset
}

// New returns a Vault. It does not load assets into the decision index:
// the caller loads the index (package snapshot) before anything decides.
func New(ctx context.Context, cfg Config) (*Vault, error) {
	if cfg.Store == nil || cfg.Blobs == nil || cfg.Subjects == nil || cfg.Decisions == nil || cfg.Policy == nil {
		return nil, fmt.Errorf("vault: Store, Blobs, Subjects, Decisions and Policy are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Region == "" {
		cfg.Region = "local"
	}
	v := &Vault{store: cfg.Store, blobs: cfg.Blobs, subjects: cfg.Subjects, decisions: cfg.Decisions, policy: cfg.Policy, now: cfg.Now, log: cfg.Logger,
		maxSize: cfg.MaxSize, region: cfg.Region}
	return v, nil
}

// MaxSize returns the upload limit in bytes.
func (v *Vault) MaxSize() int64 { return v.maxSize }

// Upload describes one incoming asset.
type Upload struct {
	SubjectID   string
	Purpose     string
	Category    string
	ContentType string
	DerivedFrom string
	Body        io.Reader
}

func blobKey(a *likeness.Asset) string { return "subjects/" + a.SubjectID + "/" + a.ID }

func assetAD(id string) []byte { return []byte("asset:" + id) }

// Ingest stores an upload if, and only if, the subject has an active consent
// for the purpose that covers the category. Otherwise, or on any bad input,
// nothing is stored: no blob, no row.
func (v *Vault) Ingest(ctx context.Context, up *Upload) (*likeness.Asset, error) {
	sub, err := v.subjects.Subject(ctx, up.SubjectID)
	if err != nil {
		return nil, err
	}
	p := v.policy()
	purpose, ok := p.Purpose(up.Purpose)
	if !ok {
		return nil, likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", up.Purpose, p.PurposeIDs)
	}
	if !policy.IsCategory(up.Category) {
		return nil, likeness.Errorf(likeness.EINVALID, "unknown category %q; use one of %v", up.Category, policy.Categories)
	}
	now := v.now().UTC()
	d := v.decisions.Decide(&likeness.DecisionRequest{SubjectID: sub.ID, Purpose: up.Purpose, Category: up.Category, At: now})
	if !d.Allow {
		return nil, &likeness.DeniedError{Message: fmt.Sprintf("no active consent of this subject to %q covers %s data: nothing was stored", up.Purpose, up.Category),
			Reasons: d.Reasons.Names()}
	}
	if up.DerivedFrom != "" {
		parent, err := v.store.Asset(ctx, up.DerivedFrom)
		if err != nil || parent.SubjectID != sub.ID {
			return nil, likeness.Errorf(likeness.EINVALID, "derived_from names no asset of this subject")
		}
		if parent.Erased() {
			return nil, likeness.Errorf(likeness.EGONE, "derived_from names an erased asset")
		}
	}

	a := &likeness.Asset{SubjectID: sub.ID, Purpose: up.Purpose, Category: up.Category, DerivedFrom: up.DerivedFrom,
		ConsentEventID: d.EventID, RetainUntil: retainUntil(sub, purpose, up.Category, now)}
	saved, err := v.save(ctx, a, up.ContentType, up.Body, v.maxSize)
	if err != nil {
		return nil, err
	}
	// A withdrawal or erasure may have landed while the bytes streamed in:
	// ask again now that the asset exists, and keep nothing it forbids.
	if d := v.decisions.Decide(&likeness.DecisionRequest{AssetID: saved.ID, Purpose: up.Purpose, At: v.now().UTC()}); !d.Allow {
		if _, err := v.EraseAsset(context.WithoutCancel(ctx), saved.ID, "consent_withdrawn_during_upload"); err != nil {
			return nil, err
		}
		return nil, &likeness.DeniedError{Message: "the consent this upload relied on ended while it was received: nothing was kept",
			Reasons: d.Reasons.Names()}
	}
	return saved, nil
}

// save sniffs, strips, hashes and encrypts body into a new asset a (whose
// subject, purpose, category and deadline the caller set) and records it.
func (v *Vault) save(ctx context.Context, a *likeness.Asset, contentType string, body io.Reader, limit int64) (*likeness.Asset, error) {
	head := make([]byte, media.SniffLen)
	n, err := io.ReadFull(body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, readError(err, limit)
	}
	head = head[:n]
	if n == 0 {
		return nil, likeness.Errorf(likeness.EINVALID, "the body is empty: send the media bytes")
	}
	typ, err := media.Check(contentType, a.Category, head)
	if err != nil {
		return nil, likeness.Errorf(likeness.EUNSUPPORTED, "%s", err.Error())
	}
	a.ID = likeness.NewID("ast")
	a.ContentType, a.Region, a.CreatedAt = typ.MIME, v.region, v.now().UTC()
	a.BlobKey = blobKey(a)

	c, err := v.subjects.Cipher(ctx, a.SubjectID)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// Only rewritten formats need a second hash: for the rest what is
	// stored is what came in.
	original, stored := sha256.New(), hash.Hash(nil)
	if media.Rewrites(typ) {
		stored = sha256.New()
	}
	size, err := v.put(ctx, a, c, typ, io.MultiReader(bytes.NewReader(head), body), original, stored, limit)
	if err != nil {
		return nil, err
	}
	a.Size = size
	a.OriginalSHA256 = hex.EncodeToString(original.Sum(nil))
	a.SHA256 = a.OriginalSHA256
	if stored != nil {
		a.SHA256 = hex.EncodeToString(stored.Sum(nil))
	}
	if err := v.store.InsertAsset(ctx, a); err != nil {
		if derr := v.blobs.Delete(context.WithoutCancel(ctx), a.BlobKey); derr != nil {
			v.log.Error("could not remove the blob of an asset whose record failed", "asset", a.ID, "err", derr)
		}
		return nil, err
	}
	v.decisions.PutAsset(a)
	// An erasure begun meanwhile (on any replica) must not miss this asset.
	if _, err := v.store.Erasure(ctx, a.SubjectID); err == nil {
		if _, err := v.EraseAsset(context.WithoutCancel(ctx), a.ID, "subject_erased"); err != nil {
			return nil, err
		}
		return nil, likeness.Errorf(likeness.EGONE, "the subject is being erased: nothing was kept")
	} else if likeness.ErrorCode(err) != likeness.ENOTFOUND {
		return nil, err
	}
	return a, nil
}

// put streams src through metadata stripping and encryption into the blob
// store, hashing what comes in (original) and what is stored (stored, nil
// when Strip copies unchanged). A failure anywhere aborts the Put, which
// leaves nothing behind.
func (v *Vault) put(ctx context.Context, a *likeness.Asset, c *subjects.Cipher, typ media.Type, src io.Reader, original, stored hash.Hash, limit int64) (int64, error) {
	limited := &limitReader{r: src, left: limit}
	pr, pw := io.Pipe()
	var size countWriter
	done := make(chan error, 1)
	go func() {
		enc, err := c.EncryptWriter(assetAD(a.ID), pw)
		if err != nil {
			pw.CloseWithError(err)
			done <- err
			return
		}
		out := io.MultiWriter(enc, &size)
		if stored != nil {
			out = io.MultiWriter(enc, stored, &size)
		}
		err = media.Strip(out, io.TeeReader(limited, original), typ)
		if err == nil {
			err = enc.Close()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	_, putErr := v.blobs.Put(ctx, a.BlobKey, pr)
	pr.CloseWithError(errors.New("vault: upload aborted"))
	stripErr := <-done
	if stripErr != nil || putErr != nil {
		v.blobs.Delete(context.WithoutCancel(ctx), a.BlobKey)
	}
	if stripErr != nil {
		if limited.over {
			return 0, likeness.Errorf(likeness.ETOOLARGE, "the upload is larger than %d bytes", limit)
		}
		if errors.Is(stripErr, media.ErrMalformed) {
			return 0, likeness.Errorf(likeness.EINVALID, "%s", stripErr.Error())
		}
		return 0, readError(stripErr, limit)
	}
	if putErr != nil {
		return 0, fmt.Errorf("vault: store blob: %w", putErr)
	}
	return int64(size), nil
}

func readError(err error, limit int64) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return likeness.Errorf(likeness.ETOOLARGE, "the upload is larger than %d bytes", limit)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return likeness.Errorf(likeness.EINVALID, "the upload ended early (truncated body)")
	}
	return fmt.Errorf("vault: read upload: %w", err)
}

// retainUntil is the asset's deletion deadline: the purpose's retention,
// and for biometric data of Illinois subjects no later than three years
// after this interaction (BIPA).
func retainUntil(sub *likeness.Subject, p *policy.Purpose, category string, now time.Time) time.Time {
	t := p.Retention.AddTo(now)
	if jurisdiction.Biometric(category) && jurisdiction.BIPACode(sub.Jurisdiction) {
		if bipa := jurisdiction.BIPADeadline(now); bipa.Before(t) {
			t = bipa
		}
	}
	return t
}

// Asset returns an asset's record: ENOTFOUND if absent, EGONE if erased.
func (v *Vault) Asset(ctx context.Context, id string) (*likeness.Asset, error) {
	if !likeness.ValidID("ast", id) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "asset not found")
	}
	a, err := v.store.Asset(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Erased() {
		return nil, likeness.Errorf(likeness.EGONE, "asset was erased (%s)", a.ErasedReason)
	}
	if _, err := v.subjects.Subject(ctx, a.SubjectID); err != nil {
		return nil, err // EGONE once the subject is erased
	}
	return a, nil
}

// SubjectAssets lists the subject's live assets.
func (v *Vault) SubjectAssets(ctx context.Context, subjectID string) ([]*likeness.Asset, error) {
	sub, err := v.subjects.Subject(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	all, err := v.store.SubjectAssets(ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	out := []*likeness.Asset{}
	for _, a := range all {
		if !a.Erased() {
			out = append(out, a)
		}
	}
	return out, nil
}

// MaxReason bounds, in characters, the reason a person gives for reading
// content (Access.Reason).
const MaxReason = 500

// Access asks for an asset's content for a purpose, recipient and country.
type Access struct {
	AssetID, Purpose, Recipient, Country string
	// Reason is why a person reads the content; recorded with the
	// actor's operator name in the access log.
	Reason string
}

// Open returns the decrypted content of an asset if a decision allows the
// access right now. Every call, allowed or denied, is recorded in the
// access log. The caller closes the reader; a read error means the blob was
// altered or its key destroyed.
func (v *Vault) Open(ctx context.Context, acc *Access) (*likeness.Asset, io.ReadCloser, error) {
	if n := utf8.RuneCountInString(acc.Reason); n > MaxReason {
		return nil, nil, likeness.Errorf(likeness.EINVALID, "the reason for reading is %d characters long; at most %d", n, MaxReason)
	}
	a, err := v.Asset(ctx, acc.AssetID)
	if err != nil {
		return nil, nil, err
	}
	p := v.policy()
	if _, ok := p.Purpose(acc.Purpose); !ok {
		return nil, nil, likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", acc.Purpose, p.PurposeIDs)
	}
	now := v.now().UTC()
	d := v.decisions.Decide(&likeness.DecisionRequest{AssetID: a.ID, Purpose: acc.Purpose, Recipient: acc.Recipient, Country: acc.Country, At: now})
	actor := likeness.ActorFrom(ctx)
	entry := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: now, Action: "content", KeyID: actor.KeyID, Role: actor.Role,
		SubjectID: a.SubjectID, AssetID: a.ID, Purpose: acc.Purpose, Recipient: acc.Recipient, Country: acc.Country,
		Allow: d.Allow, Reasons: d.Reasons.Names(), Operator: actor.Operator, Reason: acc.Reason}
	if err := v.store.AppendAccess(ctx, entry); err != nil {
		// No record, no access: fail closed.
		return nil, nil, err
	}
	if !d.Allow {
		return nil, nil, &likeness.DeniedError{Message: "this use of the asset is not allowed", Reasons: entry.Reasons}
	}
	return v.decrypt(ctx, a)
}

// decrypt returns a reader of a's decrypted content; the caller closes it.
func (v *Vault) decrypt(ctx context.Context, a *likeness.Asset) (*likeness.Asset, io.ReadCloser, error) {
	c, err := v.subjects.Cipher(ctx, a.SubjectID)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	rc, err := v.blobs.Get(ctx, a.BlobKey)
	if err != nil {
		return nil, nil, fmt.Errorf("vault: read blob: %w", err)
	}
	dec, err := c.DecryptReader(assetAD(a.ID), rc)
	if err != nil {
		rc.Close()
		return nil, nil, fmt.Errorf("vault: decrypt: %w", err)
	}
	return a, readCloser{dec, rc}, nil
}

// AccessLog returns the subject's access log, newest first.
func (v *Vault) AccessLog(ctx context.Context, subjectID string, limit int) ([]*likeness.AccessEntry, error) {
	if _, err := v.subjects.Subject(ctx, subjectID); err != nil {
		return nil, err
	}
	return v.store.SubjectAccessLog(ctx, subjectID, limit)
}

// EraseAsset deletes an asset's blob and those of every asset derived from
// it, and marks them erased; it returns their ids. A derived asset erased
// already is passed over, with what was derived from it (erased with it:
// an asset is marked erased only after everything derived from it).
// Idempotent.
func (v *Vault) EraseAsset(ctx context.Context, id, reason string) ([]string, error) {
	a, err := v.store.Asset(ctx, id)
	if err != nil {
		return nil, err
	}
	var erased []string
	children, err := v.store.DerivedAssets(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, c := range children {
		if c.Erased() {
			continue // and what was derived from it went with it
		}
		ids, err := v.EraseAsset(ctx, c.ID, reason)
		if err != nil {
			return nil, err
		}
		erased = append(erased, ids...)
	}
	if err := v.blobs.Delete(ctx, a.BlobKey); err != nil {
		return nil, fmt.Errorf("vault: delete blob: %w", err)
	}
	if err := v.store.MarkAssetErased(ctx, a.ID, v.now().UTC(), reason); err != nil {
		return nil, err
	}
	v.decisions.EraseAsset(a.ID)
	if v.erased != nil {
		if err := v.erased(ctx, a.ID, reason); err != nil {
			return nil, err
		}
	}
	return append(erased, a.ID), nil
}

// EraseSubjectData implements the erasers of consent and erasure: it deletes every blob of
// the subject and marks their assets erased.
func (v *Vault) EraseSubjectData(ctx context.Context, subjectID string) error {
	assets, err := v.store.SubjectAssets(ctx, subjectID)
	if err != nil {
		return err
	}
	for _, a := range assets {
		if _, err := v.EraseAsset(ctx, a.ID, "subject_erased"); err != nil {
			return err
		}
	}
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// limitReader fails once more than left bytes are read.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.over = true
		return n, errors.New("vault: upload too large")
	}
	return n, err
}

// ActionErasedOnWithdrawal is the access-log action of an asset erased
// because the consent to the purpose it was collected for was withdrawn.
const ActionErasedOnWithdrawal = "erased_on_withdrawal"

// EraseWithdrawn implements erasure.AssetEraser: it erases the subject's
// assets ids, which a withdrawal of purpose took the consent of, with
// everything derived from them, and records each erased asset in the
// subject's access log, so the person sees in the portal what the
// withdrawal removed. Assets erased already are passed over.
func (v *Vault) EraseWithdrawn(ctx context.Context, subjectID, purpose string, ids []string) ([]string, error) {
	actor := likeness.ActorFrom(ctx)
	var erased []string
	done := map[string]bool{} // derived assets go with their parent
	for _, id := range ids {
		if done[id] {
			continue
		}
		a, err := v.store.Asset(ctx, id)
		if err != nil {
			return erased, err
		}
		if a.SubjectID != subjectID || a.Erased() {
			continue
		}
		gone, err := v.EraseAsset(ctx, a.ID, likeness.TaintConsentWithdrawn)
		if err != nil {
			return erased, err
		}
		for _, id := range gone {
			done[id] = true
			erased = append(erased, id)
			if err := v.store.AppendAccess(ctx, &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: v.now().UTC(),
				Action: ActionErasedOnWithdrawal, KeyID: actor.KeyID, Role: actor.Role, SubjectID: subjectID, AssetID: id,
				Purpose: purpose, Allow: true, Reasons: []string{likeness.TaintConsentWithdrawn}}); err != nil {
				return erased, err
			}
		}
	}
	return erased, nil
}

// SweepExpired erases up to limit assets whose retention deadline has
// passed and returns how many it erased. Decisions deny expired assets
// already; the sweep removes the bytes.
func (v *Vault) SweepExpired(ctx context.Context, limit int) (int, error) {
	expired, err := v.store.ExpiredAssets(ctx, v.now().UTC(), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range expired {
		ids, err := v.EraseAsset(ctx, a.ID, RetentionExpired)
		if err != nil {
			return n, err
		}
		n += len(ids)
	}
	return n, nil
}

// Sweep runs SweepExpired in bounded batches every interval until ctx ends.
func (v *Vault) Sweep(ctx context.Context, interval time.Duration, batch int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := v.SweepExpired(ctx, batch)
			if err != nil {
				if ctx.Err() == nil {
					v.log.Warn("retention sweep failed", "err", err)
				}
				break
			}
			if n > 0 {
				v.log.Info("retention sweep erased expired assets", "count", n)
			}
			if n < batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
