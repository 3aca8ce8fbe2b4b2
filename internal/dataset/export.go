package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"likeness"
	"likeness/internal/keys"
)

// Export writes the folder of a recorded version (one built over HTTP,
// which records the version but keeps no decrypted media, or one whose
// folder was lost) to req.Out as its build would have: the same items
// under the same pseudonyms, anonymized under the profile recorded with
// it, and the manifest, byte for byte; the card stored with it, rendered
// by this version of likeness. It reads each member through the vault
// (a logged, decided access, as a build does) and checks the manifest it
// writes against the SHA-256 recorded at the build: a folder that is not
// the version recorded is never published.
//
// A tainted version is refused: what it holds may no longer be used; its
// successor (or a rebuild) is what to export.
func (s *Service) Export(ctx context.Context, id string, req *BuildRequest) (*View, error) {
	if req.Out == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "an export needs a folder to write to")
	}
	d, err := s.dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Tainted() {
		last, err := s.newest(ctx, d)
		if err != nil {
			return nil, err
		}
		next := "rebuild it (likeness dataset rebuild " + d.ID + ") and export the result"
		switch {
		case last.ID != d.ID && last.Tainted():
			next = "its successors down to the newest, " + last.ID + ", are tainted too: rebuild that one (likeness dataset rebuild " + last.ID + ") and export the result"
		case last.ID != d.ID:
			next = "export the newest version of its line, " + last.ID
		}
		return nil, likeness.Errorf(likeness.ECONFLICT, "dataset %s is tainted (%s) and may no longer be used: %s", d.ID, d.TaintReason, next)
	}
	members, err := s.store.DatasetMembers(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	decisions, err := s.reviews.AssetReviewDecisions(ctx, d.Purpose)
	if err != nil {
		return nil, err
	}
	cardJSON, err := s.reviews.DatasetCard(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	var card Card
	if err := json.Unmarshal(cardJSON, &card); err != nil {
		return nil, fmt.Errorf("dataset: decode card: %w", err)
	}
	key, err := s.kek.Unwrap(ctx, d.WrappedKey, datasetAD(d.ID))
	if err != nil {
		return nil, fmt.Errorf("dataset: unwrap key: %w", err)
	}
	defer keys.Wipe(key)

	items := make([]item, 0, len(members))
	for _, m := range members {
		a, err := s.store.Asset(ctx, m.AssetID)
		if err != nil {
			return nil, err
		}
		items = append(items, item{Selected{Candidate{AssetID: m.AssetID, SubjectID: m.SubjectID, Category: m.Category,
			ContentType: a.ContentType}, m.ConsentEventID}, m.ItemID})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].itemID < items[j].itemID })

	w, err := newWriter(req.Out, d)
	if err != nil {
		return nil, err
	}
	defer w.abort()
	var manifest strings.Builder
	prog := s.newProgress(req, len(items))
	defer prog.close()
	for _, it := range items {
		prog.begin()
		out, err := s.writeMember(ctx, w, d, d.Profile, key, it, decisions[it.AssetID])
		var skip skipError
		var held heldError
		var unsupported unsupportedError
		switch {
		case errors.As(err, &skip) || errors.As(err, &held) || errors.As(err, &unsupported):
			// The build wrote it; now it cannot be: the consent or the
			// asset changed without a taint yet, or the search did.
			return nil, likeness.Errorf(likeness.ECONFLICT, "item %s of dataset %s cannot be written as it was built (%v); nothing was written", it.itemID, d.ID, err)
		case err != nil:
			return nil, err
		}
		appendLine(&manifest, out)
		prog.add(nil)
	}
	prog.end()
	sum := sha256.Sum256([]byte(manifest.String()))
	if got := hex.EncodeToString(sum[:]); got != d.ManifestSHA256 {
		return nil, likeness.Errorf(likeness.ECONFLICT, "the folder written for dataset %s does not match the manifest recorded at its build (SHA-256 %s, recorded %s); nothing was written", d.ID, got, d.ManifestSHA256)
	}
	if err := w.finish([]byte(manifest.String()), &card); err != nil {
		return nil, err
	}
	if err := w.publish(); err != nil {
		return nil, err
	}
	v, err := s.view(ctx, d)
	if err != nil {
		return nil, err
	}
	v.Path, v.Summary = w.final, card.Summary()
	s.log.Info("dataset exported", "dataset", d.ID, "version", d.Version, "items", len(items))
	return v, nil
}
