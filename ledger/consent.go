package ledger

import (
	"crypto/sha256"
	"encoding/hex"

	"likeness"
)

// FromConsent returns the leaf content of a consent event stored at index, as
// a version-2 leaf: what new events are written as. Events stored before
// version 2 keep their version-1 leaf; recover it with ResolveVersion.
// Evidence is committed to only through the SHA-256 of its ciphertext.
func FromConsent(ev *likeness.ConsentEvent, index int64) Event {
	e := Event{
		Version:       LeafV2,
		Index:         uint64(index),
		ID:            ev.ID,
		Type:          string(ev.Type),
		SubjectID:     ev.SubjectID,
		Purpose:       ev.Purpose,
		NoticeVersion: ev.NoticeVersion,
		NoticeSHA256:  ev.NoticeSHA256,
		Method:        string(ev.Method),
		Language:      ev.Language,
		Collector:     ev.Collector,
		TimeMicros:    likeness.Micros(ev.Time),
		Validation:    ev.Validation,
		Refers:        ev.Refers,
		Imported:      ev.Imported,
	}
	if len(ev.Sealed) > 0 {
		sum := sha256.Sum256(ev.Sealed)
		e.SealedSHA256 = hex.EncodeToString(sum[:])
	}
	return e
}

// DecodeHashes parses hex hashes, the inverse of EncodeHashes.
func DecodeHashes(hs []string) ([][32]byte, error) {
	out := make([][32]byte, len(hs))
	for i, s := range hs {
		h, err := decodeHash(s)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// ConsentLeafHash returns the leaf hash of a consent event read back from
// storage beside its stored leaf hash: stored itself when the event's fields
// hash to it in some leaf version (version 1 for events written before
// version 2; see ResolveVersion), otherwise the version-2 leaf hash, which
// then differs from stored and shows the row was changed.
func ConsentLeafHash(ev *likeness.ConsentEvent, index int64, stored [32]byte) [32]byte {
	e := FromConsent(ev, index)
	if _, ok := e.ResolveVersion(stored); ok {
		return stored
	}
	return LeafHash(e.LeafData())
}
