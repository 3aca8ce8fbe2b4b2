package dataset

import (
	"context"
	"strings"

	"likeness"
)

// Reviews lists the items a build of dataset id held back for human review,
// pending and decided, in item order.
func (s *Service) Reviews(ctx context.Context, id string) ([]*likeness.DatasetReview, error) {
	if _, err := s.dataset(ctx, id); err != nil {
		return nil, err
	}
	return s.reviews.DatasetReviews(ctx, id)
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
	if len(reason) > 1000 {
		return nil, likeness.Errorf(likeness.EINVALID, "reason is longer than 1000 characters")
	}
	r, err := s.reviews.DecideDatasetReview(ctx, id, itemID, state, likeness.ActorFrom(ctx).KeyID, reason, s.now().UTC())
	if err != nil {
		return nil, err
	}
	s.log.Info("dataset review decided", "dataset", id, "item", itemID, "state", state)
	return r, nil
}
