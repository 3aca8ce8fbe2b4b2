package vault

import (
	"context"
	"io"
	"strings"
	"time"

	"likeness"
	"likeness/internal/authz"
)

// EvidencePurpose marks assets kept as proof of consent (a verbal consent
// recording). It is not a policy purpose, so no decision ever releases them;
// they leave with the subject's erasure.
const EvidencePurpose = "consent-evidence"

// MaxRecording bounds a consent recording.
const MaxRecording = 20 << 20

// evidenceRetention is how long consent evidence is kept: the burden of
// proof (GDPR Art. 7(1)) lasts as long as claims can be brought.
var evidenceRetention = 10 * 365 * 24 * time.Hour

// StoreRecording keeps a recording of a person giving consent aloud, as
// evidence for a verbal grant. It needs no prior consent (it is the
// consent), is stored like any asset, and is never released for use.
func (v *Vault) StoreRecording(ctx context.Context, subjectID, contentType string, r io.Reader) (string, error) {
	sub, err := v.subjects.Subject(ctx, subjectID)
	if err != nil {
		return "", err
	}
	now := v.now().UTC()
	a := &likeness.Asset{SubjectID: sub.ID, Purpose: EvidencePurpose, Category: "voice", RetainUntil: now.Add(evidenceRetention)}
	saved, err := v.save(ctx, a, contentType, r, MaxRecording)
	if err != nil {
		return "", err
	}
	return saved.ID, nil
}

// DiscardRecording erases a consent recording whose grant failed.
func (v *Vault) DiscardRecording(ctx context.Context, assetID string) error {
	a, err := v.store.Asset(ctx, assetID)
	if err != nil {
		return err
	}
	if a.Purpose != EvidencePurpose {
		return likeness.Errorf(likeness.EINVALID, "asset is not a consent recording")
	}
	_, err = v.EraseAsset(ctx, a.ID, "consent_not_recorded")
	return err
}

// ExportMedia hands every live asset of the subject, decrypted, to add: the
// person's own copy (GDPR Art. 15 and 20). Each export is logged with the
// caller. Only callers holding authz.ExportContent (an admin, or the
// person's own portal session) may export: others get EFORBIDDEN.
func (v *Vault) ExportMedia(ctx context.Context, subjectID string, add func(name string, r io.Reader) error) error {
	if err := authz.Check(ctx, authz.ExportContent, subjectID); err != nil {
		return err
	}
	assets, err := v.SubjectAssets(ctx, subjectID)
	if err != nil {
		return err
	}
	if len(assets) == 0 {
		return nil
	}
	c, err := v.subjects.Cipher(ctx, subjectID)
	if err != nil {
		return err
	}
	defer c.Close()
	actor := likeness.ActorFrom(ctx)
	for _, a := range assets {
		if err := v.store.AppendAccess(ctx, &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: v.now().UTC(), Action: "export",
			KeyID: actor.KeyID, Role: actor.Role, SubjectID: subjectID, AssetID: a.ID, Purpose: "data-subject-access", Allow: true}); err != nil {
			return err
		}
		rc, err := v.blobs.Get(ctx, a.BlobKey)
		if err != nil {
			return err
		}
		dec, err := c.DecryptReader(assetAD(a.ID), rc)
		if err == nil {
			err = add(a.ID+extension(a.ContentType), dec)
		}
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func extension(mime string) string {
	switch strings.TrimSpace(strings.Split(mime, ";")[0]) {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "image/heic":
		return ".heic"
	case "audio/wav", "audio/x-wav", "audio/wave":
		return ".wav"
	case "audio/mpeg":
		return ".mp3"
	case "audio/ogg":
		return ".ogg"
	case "audio/flac":
		return ".flac"
	case "audio/mp4":
		return ".m4a"
	case "video/mp4":
		return ".mp4"
	case "video/webm", "audio/webm":
		return ".webm"
	case "text/plain":
		return ".txt"
	case "application/json":
		return ".json"
	}
	return ".bin"
}
