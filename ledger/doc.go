// Package ledger is the tamper-evident consent log: an append-only RFC 6962 /
// RFC 9162 Merkle tree of consent events, signed checkpoints of that tree, and
// consent receipts that carry an inclusion proof. It is pure logic; storage
// feeds it events and checkpoints, and third parties import it to verify
// receipts without trusting the operator. docs/RECEIPTS.md specifies every
// format byte by byte; testdata/vectors freezes them and testdata/verify.mjs
// verifies them knowing nothing but that document.
//
// # Leaves
//
// Each leaf commits to one Event, in one of two encodings the event names
// (Event.Version). Version 2, which new events are written in, is the RFC 8785
// JSON Canonicalization Scheme of the event with "v":2. Version 1, which logs
// begun earlier hold, is Go's encoding/json of the struct without "v": fields
// in declaration order, empty optional fields omitted, strings HTML-escaped.
// Stored rows do not record the version; their stored leaf hash shows it
// (Event.ResolveVersion), so both verify side by side. The leaf hash is the
// RFC 6962 leaf hash SHA-256(0x00 || data) and interior nodes are
// SHA-256(0x01 || left || right), both computed by
// github.com/transparency-dev/merkle/rfc6962. The event's own index is part of
// the leaf, so a row moved to another position no longer matches. Personal
// fields are never in a leaf: the event carries only SealedSHA256, the SHA-256
// of their ciphertext under the subject's key. Destroying that key
// (crypto-shredding) makes the content unreadable while every leaf hash, root
// and proof stays valid.
//
// # Checkpoints
//
// A checkpoint states the size and root of the tree at a moment. Its text is
// the C2SP tlog checkpoint layout with one extra line:
//
//	<origin>
//	<size in decimal>
//	<base64 of the 32-byte root>
//	time <unix microseconds>
//
// and it is signed as a note (golang.org/x/mod/sumdb/note) with the
// deployment's Ed25519 key. The origin is the key's name, so a checkpoint
// opened with a verifier key is bound to that deployment; NewOrigin makes it
// unique per deployment ("<name>/<random id>"). Parsing is strict: exactly
// these four lines, canonical numbers.
//
// # Receipts
//
// A receipt is a compact JWS (RFC 7515), alg EdDSA, signed with the same
// Ed25519 key, whose header kid is the key's RFC 7638 thumbprint, the kid of
// the key in Verifier.JWKS; receipts issued before carry the note key hash
// (8 hex digits), which verifiers still accept. The
// payload is ReceiptClaims: the fields of a consent receipt after ISO/IEC TS
// 27560 and the Kantara Consent Receipt (controller, jurisdiction, subject
// pseudonym, purposes with data categories, recipients, retention), the
// exact Event the ledger holds, and the ledger evidence: the leaf index and
// hash, an inclusion proof, and the signed checkpoint the proof leads to.
// Times in claims are unix seconds (iat, event_time); the event keeps its own
// unix microseconds.
//
// # What verification proves
//
// Verifier.VerifyReceipt checks the JWS signature, the checkpoint signature,
// that the leaf hash is the hash of the enclosed event, that the inclusion
// proof places that leaf at its index in the tree the checkpoint signs, and
// that the human-readable claims (type, purpose, notice, method, language,
// collector, times) agree with the event. If all pass, the holder knows the
// operator committed, under its key, to a log in which this exact event sits
// at that index; VerifyReceiptAgainst further shows that a later checkpoint
// extends that log, so the event was not removed since. A receipt says
// nothing about events after it (a later withdrawal is a later leaf).
//
// Verify replays a stored history: it recomputes every leaf hash, rebuilds
// the tree and checks every stored checkpoint against it, so any edit,
// deletion, insertion, reordering or truncation of history covered by a
// checkpoint is reported with the first index at which it can be located.
// History after the newest checkpoint is checked only for internal
// consistency (indices and stored leaf hashes); checkpoint often.
package ledger
