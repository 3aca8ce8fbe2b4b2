package likeness

import "time"

// Dataset statuses. A dataset version never changes its members or its
// manifest; it only goes from ready to tainted, once.
const (
	DatasetReady   = "ready"
	DatasetTainted = "tainted" // a member withdrew or was erased: retrain on the successor
)

// Taint reasons.
const (
	TaintConsentWithdrawn = "consent_withdrawn"
	TaintConsentExpired   = "consent_expired"
	TaintConsentRejected  = "consent_rejected" // a reviewer found a member's consent not valid
	TaintSubjectErased    = "subject_erased"
	TaintAssetErased      = "asset_erased"  // a member's photo or recording was erased on request
	TaintAssetExpired     = "asset_expired" // a member's photo or recording reached the end of its retention
)

// DatasetProfile is the anonymization a dataset's media went through:
// Faces none, blur_all or blur_bystanders; Voice none or mcadams; K the
// smallest number of subjects a published statistic may count.
type DatasetProfile struct {
	Name  string `json:"name"`
	Faces string `json:"faces"`
	Voice string `json:"voice"`
	K     int    `json:"k"`
}

// Dataset is one immutable version of a purpose-scoped training set. Its
// members (which subjects' assets it holds) are kept in the store, never in
// the manifest the ML team receives, which names items only by pseudonyms
// keyed per dataset version.
type Dataset struct {
	ID             string         `json:"id"`
	Version        int            `json:"version"`
	Status         string         `json:"status"`
	Purpose        string         `json:"purpose"`
	Categories     []string       `json:"categories"`
	Recipient      string         `json:"recipient,omitempty"`
	Profile        DatasetProfile `json:"profile"`
	ItemCount      int            `json:"item_count"`
	SubjectCount   int            `json:"subject_count"`
	Skipped        map[string]int `json:"skipped,omitempty"` // reason → items left out at build
	ManifestSHA256 string         `json:"manifest_sha256"`
	CreatedAt      time.Time      `json:"created_at"`
	CreatedBy      string         `json:"created_by,omitempty"` // API key id
	PredecessorID  string         `json:"predecessor_id,omitempty"`
	SuccessorID    string         `json:"successor_id,omitempty"`
	TaintReason    string         `json:"taint_reason,omitempty"`
	TaintedAt      time.Time      `json:"tainted_at,omitzero"`

	// WrappedKey is the dataset's pseudonym key wrapped by the KEK.
	WrappedKey []byte `json:"-"`
}

// Tainted reports whether a member withdrew or was erased since the build.
func (d *Dataset) Tainted() bool { return d.Status == DatasetTainted }

// DatasetMember is one item of a dataset version: which asset of which
// subject it is, and the consent event the inclusion rested on.
type DatasetMember struct {
	DatasetID      string `json:"dataset_id"`
	ItemID         string `json:"item_id"`
	AssetID        string `json:"asset_id"`
	SubjectID      string `json:"subject_id"`
	Category       string `json:"category"`
	ConsentEventID string `json:"consent_event_id"`
}

// Model is a model trained on a dataset version, registered so that a taint
// names the models to retrain.
type Model struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	DatasetID string    `json:"dataset_id"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// DatasetTaintedData is the Data of dataset.tainted messages. ItemIDs are
// the dataset's own pseudonyms of the affected items, so a receiver can drop
// them without learning who they belong to.
type DatasetTaintedData struct {
	DatasetID string    `json:"dataset_id"`
	Version   int       `json:"version"`
	Purpose   string    `json:"purpose"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
	ItemIDs   []string  `json:"item_ids"`
	Models    []string  `json:"models"` // ids of models to retrain
}

// DatasetStore keeps datasets, their members, the models trained on them and
// subjects' sealed self-declared attributes. Implementations must be safe
// for concurrent use and return ENOTFOUND for absent rows.
type DatasetStore interface {
	// InsertDataset stores d with its members in one transaction. If
	// d.PredecessorID is set it also sets the predecessor's SuccessorID,
	// and fails with ECONFLICT (storing nothing) if the predecessor already
	// has a successor.
	InsertDataset(ctx Context, d *Dataset, members []*DatasetMember) error
	// Dataset returns ENOTFOUND for an unknown id.
	Dataset(ctx Context, id string) (*Dataset, error)
	// Datasets lists every dataset version, oldest first.
	Datasets(ctx Context) ([]*Dataset, error)
	// DatasetMembers returns a dataset's members in item order.
	DatasetMembers(ctx Context, datasetID string) ([]*DatasetMember, error)
	// SubjectDatasets lists the dataset versions holding any asset of the
	// subject, oldest first.
	SubjectDatasets(ctx Context, subjectID string) ([]*Dataset, error)
	// TaintSubjectDatasets marks every dataset version that holds the
	// subject, is of purpose (any purpose if ""), and is not tainted yet as
	// tainted with reason at time at, and returns them. If the store keeps
	// an outbox it enqueues one dataset.tainted message per dataset in the
	// same transaction. Idempotent: tainted datasets keep their first taint.
	TaintSubjectDatasets(ctx Context, subjectID, purpose, reason string, at time.Time) ([]*Dataset, error)
	// TaintAssetDatasets does the same for every dataset version holding
	// the asset, of any purpose: an asset erased on its own.
	TaintAssetDatasets(ctx Context, assetID, reason string, at time.Time) ([]*Dataset, error)
	// InsertModel stores m; ENOTFOUND if its dataset is unknown.
	InsertModel(ctx Context, m *Model) error
	// DatasetModels lists the models registered on a dataset, oldest first.
	DatasetModels(ctx Context, datasetID string) ([]*Model, error)
	// RewrapDatasetKeys replaces every dataset's wrapped key with fn's
	// result (KEK rotation) and returns how many it visited. A key fn gives
	// back unchanged is not written.
	RewrapDatasetKeys(ctx Context, fn func(datasetID string, wrapped []byte) ([]byte, error)) (int, error)
	// PutSubjectAttributes stores (or replaces) the subject's sealed
	// self-declared attributes shared for purpose.
	PutSubjectAttributes(ctx Context, subjectID, purpose string, sealed []byte, at time.Time) error
	// SubjectAttributes returns them, ENOTFOUND if none were shared.
	SubjectAttributes(ctx Context, subjectID, purpose string) ([]byte, error)
}
