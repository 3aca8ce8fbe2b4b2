package likeness

import (
	"math/bits"
	"time"
)

// Reason is a machine-readable cause of a deny.
type Reason uint32

// Reasons a decision denies. The order is the order they are reported.
const (
	ReasonNoConsent Reason = 1 << iota
	ReasonWithdrawn
	ReasonExpired
	ReasonNeedsRenewal
	ReasonCategoryNotCovered
	ReasonRecipientNotDeclared
	ReasonTransferNotPermitted
	ReasonSubjectErased
	ReasonSubjectNotFound
	ReasonWrittenReleaseRequired
	ReasonAssetErased
	ReasonAssetExpired
	ReasonAssetNotFound
	ReasonPurposeMismatch
	// ReasonReplicaStale: the replica that answered has not caught up with
	// the database within its staleness bound, so it cannot know of a
	// recent withdrawal; ask again (another replica may answer).
	ReasonReplicaStale
	// ReasonPendingValidation: the consent waits for a reviewer to
	// validate it (the policy asks for one for this purpose or method).
	ReasonPendingValidation
	// ReasonValidationRejected: a reviewer found the consent not valid.
	ReasonValidationRejected
	reasonEnd
)

var reasonNames = [...]string{
	"no_consent",
	"withdrawn",
	"expired",
	"needs_renewal",
	"category_not_covered",
	"recipient_not_declared",
	"transfer_not_permitted",
	"subject_erased",
	"subject_not_found",
	"written_release_required",
	"asset_erased",
	"asset_retention_expired",
	"asset_not_found",
	"purpose_not_collected_for",
	"replica_stale",
	"pending_validation",
	"validation_rejected",
}

// Reasons is a set of Reason bits; a set keeps decisions allocation-free.
type Reasons uint32

// Has reports whether r is in the set.
func (rs Reasons) Has(r Reason) bool { return uint32(rs)&uint32(r) != 0 }

// Names lists the reason codes in a stable order.
func (rs Reasons) Names() []string {
	out := make([]string, 0, bits.OnesCount32(uint32(rs)))
	for i := range reasonNames {
		if uint32(rs)&(1<<i) != 0 {
			out = append(out, reasonNames[i])
		}
	}
	return out
}

// DecisionRequest asks whether a subject's (or an asset's) data of a category
// may be used for a purpose, by a recipient, in a country, at a time.
type DecisionRequest struct {
	SubjectID string    `json:"subject_id,omitempty"`
	AssetID   string    `json:"asset_id,omitempty"`
	Purpose   string    `json:"purpose"`
	Category  string    `json:"data_category"`
	Recipient string    `json:"recipient,omitempty"`
	Country   string    `json:"country,omitempty"`
	At        time.Time `json:"at,omitzero"`
}

// Decision is the answer: allow or deny, why, and the consent it rests on.
// The zero Decision denies.
type Decision struct {
	Allow   bool
	Reasons Reasons
	// EventID is the consent event the decision rests on ("" if none).
	EventID string
	// EventTime is when that event was recorded (unix microseconds).
	EventTime int64
	// SubjectID is filled when the request named an asset.
	SubjectID string
}
