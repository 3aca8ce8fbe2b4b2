package likeness

import "time"

// ImportRecord is one line of an import file (JSON Lines, see docs/IMPORT.md):
// one person, as the API creates subjects, and the consent events to record
// for them, each with its original time.
type ImportRecord struct {
	// ImportID is the source system's id for the line; when set it, not the
	// line's bytes, decides whether the line was imported before.
	ImportID     string            `json:"import_id,omitempty"`
	ExternalID   string            `json:"external_id"`
	Jurisdiction string            `json:"jurisdiction"`
	Locale       string            `json:"locale,omitempty"`
	Guardian     bool              `json:"guardian,omitempty"` // a minor: a guardian gives consent
	Consents     []ImportedConsent `json:"consents"`
}

// ImportedConsent states: each becomes one event of the ledger.
const (
	ImportGranted   = "granted"   // a grant
	ImportWithdrawn = "withdrawn" // a withdrawal
)

// ImportedConsent is one consent event of an ImportRecord.
type ImportedConsent struct {
	Purpose string    `json:"purpose"`
	State   string    `json:"state"` // "granted" or "withdrawn"
	Time    time.Time `json:"time"`  // when it happened in the source system (RFC 3339)
	Method  Method    `json:"method"`
	// Language, NoticeVersion, NoticeSHA256 and NoticeText say which notice
	// the person was shown; grants only.
	Language      string            `json:"language,omitempty"`
	NoticeVersion int64             `json:"notice_version,omitempty"`
	NoticeSHA256  string            `json:"notice_sha256,omitempty"`
	NoticeText    string            `json:"notice_text,omitempty"`
	Collector     string            `json:"collector,omitempty"`
	Evidence      map[string]string `json:"evidence,omitempty"`
}

// ImportMark is what the store keeps for every imported line, under its
// import key, so the line is never recorded twice.
type ImportMark struct {
	Key    [32]byte  // SHA-256 of the import id, or the line's Digest
	Digest [32]byte  // SHA-256 of the line's bytes
	Run    string    // the import run that recorded it
	Line   int64     // its line number in that run's input
	At     time.Time // when it was recorded
}

// ImportItem is one line's write: its mark and its events, all of one subject.
type ImportItem struct {
	Mark   ImportMark
	Events []*ConsentEvent
	// Set by AppendImported: Existing when a mark was already stored under
	// the key (nothing was written for the item), Err when the item was
	// refused alone (its subject's erasure has begun: EGONE).
	Existing *ImportMark
	Err      error
}

// ImportStore records imported lines. Implementations must be safe for
// concurrent use by several processes sharing the database.
type ImportStore interface {
	// ImportMarks returns the marks stored under any of keys; keys with
	// none are absent from the map.
	ImportMarks(ctx Context, keys [][32]byte) (map[[32]byte]*ImportMark, error)
	// AppendImported stores every item in one transaction, in order, under
	// the ledger lock: its mark, and its events as AppendEvents stores them
	// (next ledger indexes, leaf hashes, outbox messages). An item whose key
	// is already marked gets Existing and an item about a subject whose
	// erasure has begun gets Err; neither writes anything, and the others
	// are stored. Any other failure stores nothing and is returned.
	AppendImported(ctx Context, items []*ImportItem, leaf LeafHashFunc) error
}
