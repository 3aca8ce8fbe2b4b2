package likeness

import "time"

// NoticeVersion is one published version of the notice: the policy it was
// rendered from, the SHA-256 of its text per language, and per purpose the
// fingerprint of its material terms and the version since which they hold.
type NoticeVersion struct {
	Version       int64             `json:"version"`
	CreatedAt     time.Time         `json:"created_at"`
	PolicySHA256  string            `json:"policy_sha256"`
	Texts         map[string]string `json:"texts"`          // language → SHA-256 of the notice text
	Material      map[string]string `json:"material"`       // purpose → material fingerprint
	MaterialSince map[string]int64  `json:"material_since"` // purpose → first version with this fingerprint
}

// Store is the durable state of a deployment. Implementations (SQLite and
// PostgreSQL in package sqlstore) must be safe for concurrent use, return
// *Error with ENOTFOUND for absent rows, and pass storetest.Run. Every
// capability below is required: no caller checks for one by type assertion.
type Store interface {
	SettingStore
	NoticeStore
	SubjectStore
	EventStore
	ValidationStore
	CheckpointStore
	APIKeyStore
	AssetStore
	AuditStore
	ErasureStore
	WithdrawalErasureStore
	OutboxStore
	RequestStore
	LinkStore
	PortalSessionStore
	EndedSessionStore
	IncidentStore
	DatasetStore
	DatasetReviewStore
	OperatorStore
	IdempotencyStore
	MailStore
	ImportStore
	Close() error
}

// SettingStore keeps small named values, such as wrapped deployment keys.
type SettingStore interface {
	// Setting returns ENOTFOUND if name was never set.
	Setting(ctx Context, name string) ([]byte, error)
	// InitSetting stores value unless name is set; either way it returns the
	// stored value, so concurrent replicas agree on one.
	InitSetting(ctx Context, name string, value []byte) ([]byte, error)
	// PutSetting overwrites name.
	PutSetting(ctx Context, name string, value []byte) error
}

// NoticeStore keeps the published notice versions.
type NoticeStore interface {
	// LatestNotice returns ENOTFOUND when no version was published yet.
	LatestNotice(ctx Context) (*NoticeVersion, error)
	// Notice returns ENOTFOUND for an unknown version.
	Notice(ctx Context, version int64) (*NoticeVersion, error)
	// PublishNotice stores n as version latest+1 (setting n.Version) unless
	// the latest version has the same PolicySHA256 and texts, in which case it
	// returns that one. Concurrent callers publish at most one new version.
	PublishNotice(ctx Context, n *NoticeVersion) (*NoticeVersion, error)
}

// SubjectStore keeps subjects and their wrapped data keys.
type SubjectStore interface {
	// InsertSubject stores s and its wrapped data key. If a subject with the
	// same ExternalHash exists it is returned with created=false instead.
	InsertSubject(ctx Context, s *Subject, wrappedKey []byte) (out *Subject, created bool, err error)
	// InsertSubjects is InsertSubject for many subjects in one transaction
	// (wrappedKeys[i] is subs[i]'s): out[i] is subs[i] as stored, or the
	// subject already stored under its ExternalHash with created[i] false.
	// The hashes must differ from each other.
	InsertSubjects(ctx Context, subs []*Subject, wrappedKeys [][]byte) (out []*Subject, created []bool, err error)
	// Subject returns ENOTFOUND if absent (erased subjects are returned).
	Subject(ctx Context, id string) (*Subject, error)
	// SubjectByExternalHash returns ENOTFOUND if absent.
	SubjectByExternalHash(ctx Context, hash string) (*Subject, error)
	// SubjectsByExternalHash returns the subjects stored under any of
	// hashes, by hash; absent ones are absent from the map.
	SubjectsByExternalHash(ctx Context, hashes []string) (map[string]*Subject, error)
	// SubjectKey returns the wrapped data key, ENOTFOUND once destroyed.
	SubjectKey(ctx Context, id string) ([]byte, error)
	// UpdateSubject stores a subject's corrected locale and jurisdiction
	// (rectification) and when it changed; ENOTFOUND if absent.
	UpdateSubject(ctx Context, id, locale, jurisdiction string, at time.Time) error
	// SubjectsUpdatedSince returns subjects rectified at or after since, so
	// replicas can follow corrections made on another.
	SubjectsUpdatedSince(ctx Context, since time.Time) ([]*Subject, error)
	// SubjectsCreatedSince returns subjects created at or after since, so a
	// replica starting from a snapshot learns of those created after it.
	SubjectsCreatedSince(ctx Context, since time.Time) ([]*Subject, error)
	// RewrapSubjectKeys replaces every wrapped key with fn's result, in
	// batches; it returns how many keys it visited. A key fn gives back
	// unchanged is not written, so an fn that only looks is a read.
	RewrapSubjectKeys(ctx Context, fn func(subjectID string, wrapped []byte) ([]byte, error)) (int, error)
	// ForEachSubject calls fn for every subject, erased ones included.
	ForEachSubject(ctx Context, fn func(*Subject) error) error
	// SetSubjectContact stores the keyed hash of a subject's contact
	// address and the address sealed under their key; hash "" with sealed
	// nil removes it. ENOTFOUND if the subject is absent or erased.
	// Destroying the subject's key (DestroySubjectKey) removes it too.
	SetSubjectContact(ctx Context, id, hash string, sealed []byte) error
	// SubjectContact returns the sealed contact address, ENOTFOUND if
	// none is on file.
	SubjectContact(ctx Context, id string) ([]byte, error)
	// SubjectsByContactHash returns the subjects not erased whose contact
	// address has this hash, ordered by id; none is an empty slice.
	SubjectsByContactHash(ctx Context, hash string) ([]*Subject, error)
}

// EventStore keeps consent events; they are the leaves of the ledger.
type EventStore interface {
	// AppendEvents stores the events in one transaction, in order, giving
	// each the next ledger index (set in LedgerIndex) and storing beside it
	// the leaf hash leaf computes for it at that index. Either all are
	// stored or none.
	AppendEvents(ctx Context, evs []*ConsentEvent, leaf LeafHashFunc) error
	// SubjectEvents returns a subject's events in ledger order.
	SubjectEvents(ctx Context, subjectID string) ([]*ConsentEvent, error)
	// Event returns ENOTFOUND for an unknown id.
	Event(ctx Context, id string) (*ConsentEvent, error)
	// ForEachEvent calls fn for every event with index ≥ from, in ledger
	// order, with the leaf hash stored beside it.
	ForEachEvent(ctx Context, from int64, fn func(ev *ConsentEvent, leafHash [32]byte) error) error
	// LedgerSize returns the number of events stored.
	LedgerSize(ctx Context) (int64, error)
	// LeafHashes returns the leaf hashes stored beside events [from, to),
	// in ledger order; fewer when the ledger ends before to.
	LeafHashes(ctx Context, from, to int64) ([][32]byte, error)
}

// LeafHashFunc returns the ledger leaf hash of ev at index. The ledger log
// owns the leaf format; stores only keep the hash.
type LeafHashFunc func(ev *ConsentEvent, index int64) [32]byte

// CheckpointStore keeps signed ledger checkpoints.
type CheckpointStore interface {
	// PutCheckpoint stores the checkpoint that sign makes for a tree of
	// size, but only if size is larger than every stored checkpoint's. It
	// holds the ledger lock while it checks, calls sign and stores, so
	// however many replicas store checkpoints, stored sizes and signing
	// times only grow together. It reports whether it stored one; sign is
	// not called when it did not.
	PutCheckpoint(ctx Context, size int64, sign func() ([]byte, error)) (bool, error)
	// Checkpoints returns every stored checkpoint in size order.
	Checkpoints(ctx Context) ([][]byte, error)
	// LatestCheckpoint returns ENOTFOUND when none is stored.
	LatestCheckpoint(ctx Context) (size int64, signed []byte, err error)
}

// APIKeyStore keeps API keys by the hash of their secret. Keys are never
// deleted: a revoked key stays listed, with its revocation time.
type APIKeyStore interface {
	// InsertAPIKey stores k; a hash already stored is an error.
	InsertAPIKey(ctx Context, k *APIKey) error
	// APIKeyByHash returns ENOTFOUND for unknown or revoked keys. Expired
	// keys are returned: the caller compares ExpiresAt with its clock.
	APIKeyByHash(ctx Context, hash []byte) (*APIKey, error)
	// APIKeys lists every key, revoked ones included, oldest first.
	APIKeys(ctx Context) ([]*APIKey, error)
	// RevokeAPIKey revokes the key at at, ENOTFOUND for an unknown id. It is
	// idempotent: a key revoked before keeps its first revocation time.
	RevokeAPIKey(ctx Context, id string, at time.Time) error
	// TouchAPIKey records that the key was used at at; an earlier time than
	// the one stored is ignored. It writes, so callers call it sparingly.
	TouchAPIKey(ctx Context, id string, at time.Time) error
	// APIKeyRevision returns a number that grows with every revocation, on
	// whichever replica it was made: a replica that caches keys drops its
	// cache when the number changes. It is one cheap read.
	APIKeyRevision(ctx Context) (int64, error)
}
