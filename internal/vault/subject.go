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
// recording). It is not a policy purpose, so no decision ever releases them:
// they are heard only by a reviewer validating the consent (OpenEvidence),
// exported to the person, and erased with the subject.
const EvidencePurpose = "consent-evidence"

// ActionEvidence is the access-log action of a reviewer hearing a consent
// recording (or being refused it).
const ActionEvidence = "evidence"

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

// OpenEvidence hands a consent recording (an EvidencePurpose asset) to a
// reviewer deciding whether the consent it proves is valid. It is the one
// way evidence leaves the vault besides the person's own export: the
// caller must hold authz.ValidateConsent and state why, and the read, or
// its refusal, goes into the person's access log with the reviewer's name
// and reason, which their portal shows. Other assets are EINVALID: their
// content leaves through Open, by decision.
func (v *Vault) OpenEvidence(ctx context.Context, assetID, reason string) (*likeness.Asset, io.ReadCloser, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, nil, likeness.Errorf(likeness.EINVALID, "say why you listen to this recording")
	}
	a, err := v.Asset(ctx, assetID)
	if err != nil {
		return nil, nil, err
	}
	if a.Purpose != EvidencePurpose {
		return nil, nil, likeness.Errorf(likeness.EINVALID, "asset is not a consent recording")
	}
	actor := likeness.ActorFrom(ctx)
	refused := authz.Check(ctx, authz.ValidateConsent, a.SubjectID)
	entry := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: v.now().UTC(), Action: ActionEvidence, KeyID: actor.KeyID, Role: actor.Role,
		SubjectID: a.SubjectID, AssetID: a.ID, Purpose: EvidencePurpose, Allow: refused == nil, Operator: actor.Operator, Reason: strings.TrimSpace(reason)}
	if err := v.store.AppendAccess(ctx, entry); err != nil {
		return nil, nil, err // no record, no access
	}
	if refused != nil {
		return nil, nil, refused
	}
	return v.decrypt(ctx, a)
}
