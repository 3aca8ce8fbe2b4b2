package likeness

import "time"

// Asset is one stored voice recording, image, video or derived artifact of a
// subject. Its bytes live encrypted under the subject's data key in a blob
// store; this record holds what is needed to decide about it and to prove
// where it came from.
type Asset struct {
	ID             string    `json:"id"`
	SubjectID      string    `json:"subject_id"`
	Purpose        string    `json:"purpose"`  // collected for
	Category       string    `json:"category"` // voice, image, video, biometric_template, transcript
	ContentType    string    `json:"content_type"`
	Size           int64     `json:"size"`
	SHA256         string    `json:"sha256"`                    // of the content as stored (after metadata stripping)
	OriginalSHA256 string    `json:"original_sha256,omitempty"` // of the upload as received
	DerivedFrom    string    `json:"derived_from,omitempty"`
	ConsentEventID string    `json:"consent_event_id"` // the grant it was collected under
	Region         string    `json:"region"`
	BlobKey        string    `json:"-"`
	CreatedAt      time.Time `json:"created_at"`
	RetainUntil    time.Time `json:"retain_until"`
	ErasedAt       time.Time `json:"erased_at,omitzero"`
	ErasedReason   string    `json:"erased_reason,omitempty"`
}

// Erased reports whether the asset has been erased.
func (a *Asset) Erased() bool { return !a.ErasedAt.IsZero() }

// AssetStore keeps asset records.
type AssetStore interface {
	// InsertAsset stores a new asset record.
	InsertAsset(ctx Context, a *Asset) error
	// Asset returns ENOTFOUND if absent (erased assets are returned).
	Asset(ctx Context, id string) (*Asset, error)
	// SubjectAssets returns the subject's assets, oldest first.
	SubjectAssets(ctx Context, subjectID string) ([]*Asset, error)
	// DerivedAssets returns the assets derived from parent, directly.
	DerivedAssets(ctx Context, parentID string) ([]*Asset, error)
	// MarkAssetErased records that the asset's blob is gone, and enqueues the
	// outbox message (asset.erased or asset.expired) in the same transaction.
	// Idempotent: an already erased asset is left as it is.
	MarkAssetErased(ctx Context, id string, at time.Time, reason string) error
	// ExpiredAssets returns up to limit live assets whose RetainUntil ≤ now.
	ExpiredAssets(ctx Context, now time.Time, limit int) ([]*Asset, error)
	// ForEachAsset calls fn for every asset.
	ForEachAsset(ctx Context, fn func(*Asset) error) error
	// AssetsChangedSince returns assets created or erased at or after since,
	// so replicas can follow each other's uploads and erasures.
	AssetsChangedSince(ctx Context, since time.Time) ([]*Asset, error)
}

// AccessEntry is one line of the access log: a content access or a denied
// attempt, or a decision that released data.
type AccessEntry struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Action    string    `json:"action"` // "content", "export", or an operator's API call such as "DELETE /v1/assets/{id}"
	KeyID     string    `json:"key_id"`
	Role      Role      `json:"role"`
	SubjectID string    `json:"subject_id"`
	AssetID   string    `json:"asset_id,omitempty"`
	Purpose   string    `json:"purpose"`
	Recipient string    `json:"recipient,omitempty"`
	Country   string    `json:"country,omitempty"`
	Allow     bool      `json:"allow"`
	Reasons   []string  `json:"reasons,omitempty"`
	// Operator names the person who read content in the console, and
	// Reason is why they said they needed to; both empty for machines.
	Operator string `json:"operator,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// AuditStore keeps the append-only access log.
type AuditStore interface {
	AppendAccess(ctx Context, e *AccessEntry) error
	// SubjectAccessLog returns the subject's entries, newest first.
	SubjectAccessLog(ctx Context, subjectID string, limit int) ([]*AccessEntry, error)
	// RecentAccess returns the newest entries of the whole log, newest first.
	RecentAccess(ctx Context, limit int) ([]*AccessEntry, error)
}

// ErasureRecord is the pseudonymous record kept after a subject is erased: what
// the law needs to prove the erasure, nothing that identifies the person.
type ErasureRecord struct {
	SubjectID   string    `json:"subject_id"`
	RequestedAt time.Time `json:"requested_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	LedgerIndex int64     `json:"ledger_index"`
	Certificate []byte    `json:"-"` // signed, set when completed
}

// WithdrawalErasure is the record of what a withdrawal erased: the assets
// collected for the withdrawn purpose under consent given before it (and
// what was derived from them), when the purpose does not keep its data
// after a withdrawal. Pseudonymous, as ErasureRecord.
type WithdrawalErasure struct {
	EventID     string    `json:"event_id"` // the withdrawal
	SubjectID   string    `json:"subject_id"`
	Purpose     string    `json:"purpose"`
	LedgerIndex int64     `json:"ledger_index"` // the withdrawal's leaf
	RequestedAt time.Time `json:"requested_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	Certificate []byte    `json:"-"` // signed, set when completed
}

// WithdrawalErasureStore tracks the erasures withdrawals cause, so that one
// a crash cut short is completed when the service starts again.
type WithdrawalErasureStore interface {
	// BeginWithdrawalErasure records e unless a record of its withdrawal
	// exists, and returns the record stored.
	BeginWithdrawalErasure(ctx Context, e *WithdrawalErasure) (*WithdrawalErasure, error)
	// WithdrawalErasure returns ENOTFOUND if the withdrawal has no record.
	WithdrawalErasure(ctx Context, eventID string) (*WithdrawalErasure, error)
	// FinishWithdrawalErasure marks the record completed with the
	// certificate, replacing an earlier one (a later look that erased more
	// certifies everything the withdrawal erased).
	FinishWithdrawalErasure(ctx Context, eventID string, at time.Time, certificate []byte) error
	// SubjectWithdrawalErasures returns the subject's records, oldest first.
	SubjectWithdrawalErasures(ctx Context, subjectID string) ([]*WithdrawalErasure, error)
	// WithdrawalsAfter returns up to limit withdrawal events (without
	// evidence or method) whose ledger index is above index, in ledger
	// order.
	WithdrawalsAfter(ctx Context, index int64, limit int) ([]*ConsentEvent, error)
}

// ErasureStore tracks erasures so that one interrupted at any step is
// completed on the next run.
type ErasureStore interface {
	// BeginErasure records the request; if one exists it is returned as is.
	BeginErasure(ctx Context, subjectID string, at time.Time) (*ErasureRecord, error)
	// SetErasureLedgerIndex remembers the ledger event of the request.
	SetErasureLedgerIndex(ctx Context, subjectID string, index int64) error
	// DestroySubjectKey deletes the subject's wrapped data key, their
	// contact address (sealed under it, and its hash) and the kept answers
	// to idempotent writes about them (IdempotentRequest.SubjectID), in one
	// transaction. Idempotent.
	DestroySubjectKey(ctx Context, subjectID string) error
	// FinishErasure marks the subject erased, stores the certificate and
	// enqueues subject.erased, in one transaction. Idempotent.
	FinishErasure(ctx Context, subjectID string, at time.Time, certificate []byte) error
	// Erasure returns ENOTFOUND if the subject was never asked to be erased.
	Erasure(ctx Context, subjectID string) (*ErasureRecord, error)
	// PendingErasures lists erasures begun but not finished.
	PendingErasures(ctx Context) ([]*ErasureRecord, error)
}
