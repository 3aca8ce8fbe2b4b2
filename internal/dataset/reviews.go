package dataset

import (
	"context"
	"strings"
	"unicode/utf8"

	"likeness"
)

// Reviews lists the items a build of dataset id held back for human review,
// pending and decided, in item order. A pending review whose asset was
// erased since reads as erased.
func (s *Service) Reviews(ctx context.Context, id string) ([]*likeness.DatasetReview, error) {
	if _, err := s.dataset(ctx, id); err != nil {
		return nil, err
	}
	return s.heldItems(ctx, id)
}

// heldItems is Reviews for a dataset known to exist.
func (s *Service) heldItems(ctx context.Context, id string) ([]*likeness.DatasetReview, error) {
	rs, err := s.reviews.DatasetReviews(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.State != likeness.ReviewPending {
			continue
		}
		if gone, err := s.assetGone(ctx, r.AssetID); err != nil {
			return nil, err
		} else if gone {
			r.State = likeness.ReviewErased
		}
	}
	return rs, nil
}

// heldItem is item itemID of heldItems, ENOTFOUND if the dataset held no
// such item.
func (s *Service) heldItem(ctx context.Context, id, itemID string) (*likeness.DatasetReview, error) {
	rs, err := s.heldItems(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.ItemID == itemID {
			return r, nil
		}
	}
	return nil, likeness.Errorf(likeness.ENOTFOUND, "no held item %q in dataset %s", itemID, id)
}

// errErased is the answer about a held item whose asset was erased.
var errErased = likeness.Errorf(likeness.EGONE, "the item's photo or recording was erased (consent withdrawn or erasure): there is nothing left to review")

// assetGone reports whether asset id was erased (or is unknown).
func (s *Service) assetGone(ctx context.Context, id string) (bool, error) {
	a, err := s.store.Asset(ctx, id)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return a.Erased(), nil
}

// Decisions a reviewer may take.
const (
	DecisionApprove = "approve"
	DecisionExclude = "exclude"
)

// Decide records a reviewer's decision on a held item: approve (the
// reviewer looked and found nothing to protect; reason required) includes
// it in the next rebuild or successor, exclude keeps it out of every later
// build of the purpose. The reviewer is the calling key. A review is
// decided once (ECONFLICT).
func (s *Service) Decide(ctx context.Context, id, itemID, decision, reason string) (*likeness.DatasetReview, error) {
	if _, err := s.dataset(ctx, id); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	var state string
	switch decision {
	case DecisionApprove:
		if reason == "" {
			return nil, likeness.Errorf(likeness.EINVALID, "approving an item needs a reason: say why it may ship though no face was found")
		}
		state = likeness.ReviewApproved
	case DecisionExclude:
		state = likeness.ReviewExcluded
	default:
		return nil, likeness.Errorf(likeness.EINVALID, "decision must be %q or %q", DecisionApprove, DecisionExclude)
	}
	if utf8.RuneCountInString(reason) > 1000 {
		return nil, likeness.Errorf(likeness.EINVALID, "reason is longer than 1000 characters")
	}
	if held, err := s.heldItem(ctx, id, itemID); err != nil {
		return nil, err
	} else if held.State == likeness.ReviewErased {
		return nil, errErased
	}
	// Who decided: the API key, or the named operator in the console.
	r, err := s.reviews.DecideDatasetReview(ctx, id, itemID, state, likeness.ActorFrom(ctx).Name(), reason, s.now().UTC())
	if err != nil {
		return nil, err
	}
	s.log.Info("dataset review decided", "dataset", id, "item", itemID, "state", state)
	return r, nil
}

// HeldAsset returns the asset a held item of dataset id names, and the
// dataset's purpose, for a reviewer to look at: ENOTFOUND for an unknown
// item, EGONE once the asset was erased.
func (s *Service) HeldAsset(ctx context.Context, id, itemID string) (assetID, purpose string, err error) {
	if _, err := s.dataset(ctx, id); err != nil {
		return "", "", err
	}
	r, err := s.heldItem(ctx, id, itemID)
	if err != nil {
		return "", "", err
	}
	if r.State == likeness.ReviewErased {
		return "", "", errErased
	}
	return r.AssetID, r.Purpose, nil
}
