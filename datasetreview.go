package likeness

import "time"

// Dataset review states. A review starts pending and is decided once.
const (
	ReviewPending  = "pending"
	ReviewApproved = "approved" // a person looked and found it safe to ship: later builds include it
	ReviewExcluded = "excluded" // a person looked and left it out: later builds leave it out
	// ReviewErased is how a pending review reads once its asset was erased
	// (consent withdrawn, the person or the asset erased): nothing is left
	// to look at or to decide. It is never stored.
	ReviewErased = "erased"
)

// DatasetReview is an item a build could not show to be protected (an
// image of a person in which no face was found), held back for a person to
// look at. It names the asset in the vault, never holds its pixels: a
// reviewer opens the asset through the vault (the console, or the review's
// own content route), whose reads are in the person's access log.
type DatasetReview struct {
	DatasetID string    `json:"dataset_id"`
	ItemID    string    `json:"item_id"` // the item's pseudonym in DatasetID
	AssetID   string    `json:"-"`       // kept in the store only, like a member's
	Purpose   string    `json:"purpose"`
	Category  string    `json:"category"`
	Reason    string    `json:"reason"` // why it was held back, e.g. "no face found"
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`

	DecidedBy string    `json:"decided_by,omitempty"` // API key id, or "operator:<name>" from the console
	DecidedAt time.Time `json:"decided_at,omitzero"`
	Note      string    `json:"note,omitempty"` // the reviewer's reason
}

// DatasetReviewStore keeps what a build did beyond its members: the human
// review queue of its items and its card. Implementations must be safe for
// concurrent use.
type DatasetReviewStore interface {
	// InsertDatasetReviews stores pending reviews of one dataset's items.
	// It is called after InsertDataset: if it fails, the items stay out of
	// the dataset unreviewed (a later build queues them again), never in.
	InsertDatasetReviews(ctx Context, reviews []*DatasetReview) error
	// DatasetReviews lists a dataset's reviews in item order; none is an
	// empty list.
	DatasetReviews(ctx Context, datasetID string) ([]*DatasetReview, error)
	// DecideDatasetReview sets a pending review's state (approved or
	// excluded), reviewer, time and note, and returns it. ENOTFOUND for an
	// unknown review, ECONFLICT if it was already decided. An asset is
	// decided once per purpose: the same decision settles the pending
	// reviews of the same asset and purpose in other datasets (their note
	// saying where it was taken), so that no later decision elsewhere
	// overturns it.
	DecideDatasetReview(ctx Context, datasetID, itemID, state, by, note string, at time.Time) (*DatasetReview, error)
	// AssetReviewDecisions returns, for each asset of purpose with a
	// decided review, its latest decision (by DecidedAt).
	AssetReviewDecisions(ctx Context, purpose string) (map[string]*DatasetReview, error)
	// PutDatasetCard stores a dataset's card (JSON), once; ECONFLICT if it
	// has one.
	PutDatasetCard(ctx Context, datasetID string, card []byte) error
	// DatasetCard returns it, ENOTFOUND if the dataset has none (built
	// before cards existed, or unknown).
	DatasetCard(ctx Context, datasetID string) ([]byte, error)
}
