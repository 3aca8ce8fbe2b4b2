// Package ledgerlog owns the write side of the consent ledger: it appends
// events with leaf hashes it computes itself (the store only keeps them),
// keeps an in-memory Merkle tree in step with the stored events, stores
// signed checkpoints, and serves inclusion and consistency proofs and signed
// receipts. The formats and the verifier live in the public ledger package.
package ledgerlog

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"likeness"
	"likeness/internal/keys"
	"likeness/internal/subjects"
	"likeness/ledger"
	"likeness/policy"
)

// Store is what the log needs from storage.
type Store interface {
	likeness.SettingStore
	likeness.EventStore
	likeness.CheckpointStore
	likeness.ImportStore
}

// checkpointEvery bounds how often a signed checkpoint is stored: receipts
// carry their own signed checkpoint, storage keeps enough anchors for
// `ledger verify` without one row per event.
const checkpointEvery = time.Second

// Log serves the consent log: an in-memory Merkle tree kept in step with
// the stored events, signed checkpoints, proofs and receipts. Safe for
// concurrent use.
type Log struct {
	store  Store
	signer *ledger.Signer
	now    func() time.Time

	mu         sync.Mutex // serialises sync and checkpoint storage
	tree       atomic.Pointer[ledger.Tree]
	storedSize int64
	storedAt   time.Time
	// The last checkpoint signed for receipts, reused while the tree has
	// not grown for up to reuseCheckpoint: the grants of one group commit
	// share one signature.
	lastCP     ledger.Checkpoint
	lastSigned []byte
	lastAt     time.Time
}

// reuseCheckpoint is how long a signed checkpoint of an unchanged tree is
// given in receipts before a fresh one is signed.
const reuseCheckpoint = time.Second

// New returns the deployment's ledger, signed with the Ed25519 key of
// seed. The origin (name plus a random deployment id, docs/RECEIPTS.md) is
// stored at first start and fixed from then on: it is part of the verifier
// key. The tree is empty until the first Sync.
func New(ctx context.Context, store Store, name string, seed []byte, now func() time.Time) (*Log, error) {
	if now == nil {
		now = time.Now
	}
	if name == "" {
		name = "likeness"
	}
	// The origin is the name and a random deployment id, so two
	// deployments of one policy never sign under the same origin. It is
	// chosen once, at first start.
	stored, err := store.InitSetting(ctx, "ledger_name", []byte(ledger.NewOrigin(name, nil)))
	if err != nil {
		return nil, fmt.Errorf("ledgerlog: ledger name: %w", err)
	}
	signer, err := ledger.NewSigner(string(stored), ed25519.NewKeyFromSeed(seed))
	if err != nil {
		return nil, fmt.Errorf("ledgerlog: ledger key: %w", err)
	}
	l := &Log{store: store, signer: signer, now: now, storedSize: -1}
	l.tree.Store(ledger.NewLeanTree(l.readLeaves))
	return l, nil
}

// leafReadTimeout bounds one read of older leaves for a proof.
const leafReadTimeout = 5 * time.Second

// readLeaves is the tree's source of the leaves it does not keep.
func (l *Log) readLeaves(from, to uint64) ([][32]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), leafReadTimeout)
	defer cancel()
	return l.store.LeafHashes(ctx, int64(from), int64(to))
}

// WriteTreeState writes the tree's state at size (≤ its size) for a
// snapshot; see ledger.Tree.WriteState.
func (l *Log) WriteTreeState(w io.Writer, size uint64) error { return l.Tree().WriteState(w, size) }

// ReadTreeState reads a tree that WriteTreeState wrote, reading older
// leaves from this log's store; SetTree installs it once the caller has
// checked it.
func (l *Log) ReadTreeState(r io.Reader) (*ledger.Tree, error) {
	return ledger.ReadLeanTree(r, l.readLeaves)
}

// SetTree replaces the tree (from a snapshot): the next Sync continues
// from its size. It is meant for start-up, before the log serves.
func (l *Log) SetTree(t *ledger.Tree) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tree.Store(t)
}

// LeafHash is the leaf hash of ev at index, as the ledger specification
// defines it. Stores keep it beside the event.
func LeafHash(ev *likeness.ConsentEvent, index int64) [32]byte {
	return ledger.LeafHash(ledger.FromConsent(ev, index).LeafData())
}

// Append stores evs in one transaction with their ledger indexes and leaf
// hashes. It does not bring the tree up to date: call Sync.
func (l *Log) Append(ctx context.Context, evs []*likeness.ConsentEvent) error {
	return l.store.AppendEvents(ctx, evs, LeafHash)
}

// AppendImported stores imported lines with their marks in one transaction
// (see likeness.ImportStore). When the tree already held every event before
// them, it appends their leaves, as computed for the write, and calls apply
// for each stored event in index order, so a bulk import does not read back
// and hash again what it has just written; otherwise the next Sync reads
// them. `ledger verify` recomputes every leaf from the rows either way.
func (l *Log) AppendImported(ctx context.Context, items []*likeness.ImportItem, apply func(*likeness.ConsentEvent) error) error {
	var hashes [][32]byte
	first, inOrder := int64(-1), true
	leaf := func(ev *likeness.ConsentEvent, index int64) [32]byte {
		h := LeafHash(ev, index)
		if first < 0 {
			first = index
		}
		inOrder = inOrder && index == first+int64(len(hashes))
		hashes = append(hashes, h)
		return h
	}
	if err := l.store.AppendImported(ctx, items, leaf); err != nil {
		return err
	}
	var evs []*likeness.ConsentEvent
	for _, it := range items {
		if it.Err == nil && it.Existing == nil {
			evs = append(evs, it.Events...)
		}
	}
	if !inOrder || len(evs) == 0 || len(evs) != len(hashes) || evs[0].LedgerIndex != first {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if first != int64(l.tree.Load().Size()) {
		return nil // events of others lie in between: Sync reads them all
	}
	for i, ev := range evs {
		if ev.LedgerIndex != first+int64(i) {
			return nil
		}
		if err := apply(ev); err != nil {
			return err // read again by the next Sync, as there
		}
		l.tree.Load().Append(hashes[i])
	}
	return nil
}

// Signer returns the deployment's signer (public half at /v1/ledger/key).
func (l *Log) Signer() *ledger.Signer { return l.signer }

// Origin is the ledger's origin: the deployment's name and random id,
// unique per deployment (docs/RECEIPTS.md).
func (l *Log) Origin() string { return l.signer.Name() }

// JWKS is the ledger's public key as a JWK Set (RFC 7517), as served at
// GET /v1/ledger/jwks.json.
func (l *Log) JWKS() []byte { return l.signer.Verifier().JWKS() }

// Tree returns the in-memory tree.
func (l *Log) Tree() *ledger.Tree { return l.tree.Load() }

// Sync appends to the tree every stored event it does not have yet, calling
// apply for each in index order. Leaves are recomputed from the rows, never
// trusted. An event apply fails on is read again by the next call.
//
// A long history (a full load at start) is read and applied at once: while
// one goroutine reads rows, another checks their leaves, applies them and
// grows the tree, in batches, in index order.
func (l *Log) Sync(ctx context.Context, apply func(*likeness.ConsentEvent) error) error {
	return l.SyncTo(ctx, -1, apply)
}

// SyncTo is Sync for a caller that needs the tree to hold the event at
// index through: when another caller's sync has already brought it that
// far, it returns at once without reading the store. Concurrent appenders
// waiting for one another's sync so read the ledger once, not once each.
func (l *Log) SyncTo(ctx context.Context, through int64, apply func(*likeness.ConsentEvent) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	tree := l.tree.Load()
	next := int64(tree.Size())
	if through >= 0 && next > through {
		return nil
	}
	step := func(batch []stored) error {
		for _, it := range batch {
			// Leaves written before canonical (version 2) leaves keep
			// their version; the stored hash tells which one the event
			// was hashed as.
			h := ledger.ConsentLeafHash(it.ev, it.ev.LedgerIndex, it.leaf)
			if h != it.leaf {
				return fmt.Errorf("ledgerlog: stored leaf %d does not match its event: run `likeness ledger verify`", it.ev.LedgerIndex)
			}
			// Apply first: an event that could not be applied must be
			// read again by the next sync, so the tree may not move past
			// it.
			if err := apply(it.ev); err != nil {
				return err
			}
			tree.Append(h)
		}
		return nil
	}
	var p pipeline
	batch := make([]stored, 0, syncBatch)
	err := l.store.ForEachEvent(ctx, next, func(ev *likeness.ConsentEvent, leaf [32]byte) error {
		if ev.LedgerIndex != next {
			return fmt.Errorf("ledgerlog: ledger has a gap at index %d: run `likeness ledger verify`", next)
		}
		next++
		batch = append(batch, stored{ev, leaf})
		if len(batch) < syncBatch {
			return nil
		}
		if err := p.send(batch, step); err != nil {
			return err
		}
		batch = make([]stored, 0, syncBatch)
		return nil
	})
	if perr := p.close(); perr != nil {
		return perr // the events read after the failure are not applied
	}
	if err != nil {
		return err
	}
	return step(batch)
}

// syncBatch is how many events the reader hands over at a time; a sync of
// fewer runs in the calling goroutine alone.
const syncBatch = 1024

// stored is an event read back with the leaf hash stored beside it.
type stored struct {
	ev   *likeness.ConsentEvent
	leaf [32]byte
}

// pipeline runs step on batches in a goroutine of its own, in order,
// started with the first batch. After a failure it takes no more batches.
type pipeline struct {
	work   chan []stored
	done   chan error
	failed atomic.Bool
}

func (p *pipeline) send(batch []stored, step func([]stored) error) error {
	if p.work == nil {
		p.work, p.done = make(chan []stored, 4), make(chan error, 1)
		go func() {
			var err error
			for b := range p.work {
				if err == nil {
					if err = step(b); err != nil {
						p.failed.Store(true)
					}
				}
			}
			p.done <- err
		}()
	}
	if p.failed.Load() {
		return errStopped
	}
	p.work <- batch
	return nil
}

// close waits for the batches sent and returns the first step error.
func (p *pipeline) close() error {
	if p.work == nil {
		return nil
	}
	close(p.work)
	return <-p.done
}

var errStopped = errors.New("ledgerlog: sync stopped")

// Checkpoint signs a checkpoint for the current tree and stores it when the
// last stored one is older than checkpointEvery (or force is set).
func (l *Log) Checkpoint(ctx context.Context, force bool) (ledger.Checkpoint, []byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpointLocked(ctx, force)
}

func (l *Log) checkpointLocked(ctx context.Context, force bool) (ledger.Checkpoint, []byte, error) {
	size := l.tree.Load().Size()
	now := l.now()
	cp, signed := l.lastCP, l.lastSigned
	if force || signed == nil || cp.Size != size || now.Before(l.lastAt) || now.Sub(l.lastAt) >= reuseCheckpoint {
		root, err := l.tree.Load().Root(size)
		if err != nil {
			return ledger.Checkpoint{}, nil, err
		}
		cp = ledger.Checkpoint{Origin: l.signer.Name(), Size: size, Root: root, TimeMicros: likeness.Micros(now)}
		if signed, err = l.signer.SignCheckpoint(cp); err != nil {
			return cp, nil, err
		}
		l.lastCP, l.lastSigned, l.lastAt = cp, signed, now
	}
	if int64(size) > l.storedSize && (force || l.now().Sub(l.storedAt) >= checkpointEvery) {
		// The stored checkpoint is signed again under the database's
		// ledger lock, so stored sizes and times grow together whichever
		// replica stores; a replica behind another's stored size stores
		// nothing.
		if _, err := l.store.PutCheckpoint(ctx, int64(size), func() ([]byte, error) {
			at := cp
			at.TimeMicros = likeness.Micros(l.now())
			return l.signer.SignCheckpoint(at)
		}); err != nil {
			return cp, nil, err
		}
		l.storedSize, l.storedAt = int64(size), l.now()
	}
	return cp, signed, nil
}

// InclusionProof returns the proof of leaf index in the tree of size.
func (l *Log) InclusionProof(index, size uint64) ([][32]byte, error) {
	if size == 0 || size > l.tree.Load().Size() || index >= size {
		return nil, likeness.Errorf(likeness.EINVALID, "need index < size ≤ %d", l.tree.Load().Size())
	}
	return l.tree.Load().InclusionProof(index, size)
}

// ConsistencyProof returns the proof that the tree of size from is a prefix
// of the tree of size to.
func (l *Log) ConsistencyProof(from, to uint64) ([][32]byte, error) {
	if from == 0 || from > to || to > l.tree.Load().Size() {
		return nil, likeness.Errorf(likeness.EINVALID, "need 0 < from ≤ to ≤ %d", l.tree.Load().Size())
	}
	return l.tree.Load().ConsistencyProof(from, to)
}

// Receipts signs a receipt for each event, proving its inclusion in a fresh
// checkpoint.
func (l *Log) Receipts(ctx context.Context, p *policy.Policy, sub *likeness.Subject, evs []*likeness.ConsentEvent) ([]string, error) {
	// The tree is read under the lock; the receipts are signed after it,
	// so concurrent callers do not queue behind one another's signatures.
	l.mu.Lock()
	cp, signed, err := l.checkpointLocked(ctx, false)
	if err != nil {
		l.mu.Unlock()
		return nil, err
	}
	all := make([]ledger.ReceiptClaims, 0, len(evs))
	for _, ev := range evs {
		if uint64(ev.LedgerIndex) >= cp.Size {
			l.mu.Unlock()
			return nil, fmt.Errorf("ledgerlog: event %d is not in the tree yet", ev.LedgerIndex)
		}
		rl, err := ledger.NewReceiptLedger(l.Tree(), uint64(ev.LedgerIndex), signed)
		if err != nil {
			l.mu.Unlock()
			return nil, err
		}
		claims := ledger.ReceiptClaims{
			Version:   ledger.ReceiptVersion,
			ReceiptID: "rcpt_" + ev.ID,
			Controller: ledger.Controller{Name: p.Organization.Name, Contact: p.Organization.Contact,
				Country: p.Organization.Country, DPO: p.Organization.DPO},
			Jurisdiction:     sub.Jurisdiction,
			SubjectPseudonym: sub.ID,
			Type:             string(ev.Type),
			Method:           string(ev.Method),
			Language:         ev.Language,
			Collector:        ev.Collector,
			NoticeVersion:    ev.NoticeVersion,
			NoticeSHA256:     ev.NoticeSHA256,
			Validation:       ev.Validation,
			Refers:           ev.Refers,
			IssuedAt:         l.now().Unix(),
			EventTime:        ev.Time.Unix(),
			Imported:         ev.Imported,
			Event:            ledger.FromConsent(ev, ev.LedgerIndex),
			Ledger:           rl,
		}
		if pp, ok := p.Purpose(ev.Purpose); ok {
			claims.Purposes = []ledger.ReceiptPurpose{receiptPurpose(p, pp, ev.Language)}
		}
		all = append(all, claims)
	}
	l.mu.Unlock()
	out := make([]string, 0, len(all))
	for _, claims := range all {
		jws, err := l.signer.SignReceipt(claims)
		if err != nil {
			return nil, err
		}
		out = append(out, jws)
	}
	return out, nil
}

func receiptPurpose(p *policy.Policy, pp *policy.Purpose, lang string) ledger.ReceiptPurpose {
	title := pp.Title[lang]
	if title == "" {
		title = pp.Title[p.Languages[0]]
	}
	rp := ledger.ReceiptPurpose{ID: pp.ID, Title: title, DataCategories: pp.Data, Retention: pp.Retention.String()}
	if !pp.RenewEvery.IsZero() {
		rp.RenewEvery = pp.RenewEvery.String()
	}
	for _, id := range pp.Recipients {
		if r, ok := p.Recipient(id); ok {
			rp.Recipients = append(rp.Recipients, ledger.ReceiptRecipient{ID: r.ID, Name: r.Name, Country: r.Country, Transfer: r.Transfer})
		}
	}
	return rp
}

// storeSource adapts a Store to ledger.Source for verification.
type storeSource struct{ s Store }

// Source returns the stored history as a ledger.Source, for `ledger verify`.
func Source(s Store) ledger.Source { return storeSource{s} }

func (ss storeSource) Events(ctx context.Context, fn func(ledger.Event, [32]byte) error) error {
	return ss.s.ForEachEvent(ctx, 0, func(ev *likeness.ConsentEvent, h [32]byte) error {
		return fn(ledger.FromConsent(ev, ev.LedgerIndex), h)
	})
}

func (ss storeSource) Checkpoints(ctx context.Context) ([][]byte, error) {
	return ss.s.Checkpoints(ctx)
}

// StoredSigner returns the deployment's ledger signer from the store, for
// tools that verify without running the service.
func StoredSigner(ctx context.Context, store Store, kek keys.KEK) (*ledger.Signer, error) {
	seed, err := subjects.ReadDeploymentKey(ctx, store, kek, "ledger_signing_seed")
	if err != nil {
		return nil, err
	}
	name, err := store.Setting(ctx, "ledger_name")
	if err != nil {
		return nil, fmt.Errorf("ledgerlog: ledger name: %w", err)
	}
	return ledger.NewSigner(string(name), ed25519.NewKeyFromSeed(seed))
}
