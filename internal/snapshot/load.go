package snapshot

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"likeness"
	"likeness/decision"
	"likeness/internal/follow"
	"likeness/ledger"
)

// Store is what loading reads. *sqlstore.DB implements it.
type Store interface {
	// CountSubjects counts every subject, erased ones included.
	CountSubjects(ctx likeness.Context) (int64, error)
	ForEachSubject(ctx likeness.Context, fn func(*likeness.Subject) error) error
	ForEachAsset(ctx likeness.Context, fn func(*likeness.Asset) error) error
	SubjectsUpdatedSince(ctx likeness.Context, since time.Time) ([]*likeness.Subject, error)
	SubjectsCreatedSince(ctx likeness.Context, since time.Time) ([]*likeness.Subject, error)
	AssetsChangedSince(ctx likeness.Context, since time.Time) ([]*likeness.Asset, error)
	LedgerSize(ctx likeness.Context) (int64, error)
	LeafHashes(ctx likeness.Context, from, to int64) ([][32]byte, error)
}

// Log is the ledger log whose tree a snapshot holds. *ledgerlog.Log
// implements it.
type Log interface {
	Tree() *ledger.Tree
	// ReadTreeState reads a tree a snapshot holds, without installing it.
	ReadTreeState(r io.Reader) (*ledger.Tree, error)
	// SetTree installs a tree; the next Sync continues from its size.
	SetTree(t *ledger.Tree)
}

// Events applies consent events committed since its last call to the
// index and the ledger tree. *consent.Service implements it.
type Events interface {
	Sync(ctx context.Context) error
}

// Config is what Load and NewWriter are built from. Store, Engine, Log and
// Events are required for Load; Engine, Log and CaughtUpAt for a Writer.
type Config struct {
	// Path is the snapshot file; "" loads from the database and writes
	// nothing.
	Path   string
	Store  Store
	Engine *decision.Engine
	Log    Log
	Events Events
	// Origin and Policy name the deployment (its ledger origin) and the
	// policy in force (PolicyDigest): a snapshot recording others is not
	// used.
	Origin string
	Policy [32]byte
	// CaughtUpAt is when this replica's last catch-up with the database
	// began (replica.Tracker.CaughtUpAt); a Writer records it, so a load
	// knows from when to read subject and asset changes again.
	CaughtUpAt func() time.Time
	// Progress, if set, is kept up to date while loading; LogEvery (0: 2 s)
	// is how often Load logs it.
	Progress *Progress
	LogEvery time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Progress == nil {
		c.Progress = &Progress{}
	}
	if c.LogEvery <= 0 {
		c.LogEvery = 2 * time.Second
	}
}

// Result says how a Load went.
type Result struct {
	FromSnapshot bool
	Revision     int64     // the snapshot's revision, when FromSnapshot
	Written      time.Time // when the snapshot was written, when FromSnapshot
	Tail         int64     // events applied after the snapshot (all of them in a full load)
	Size         int64     // the ledger size in memory after the load
	// CaughtUpAt is when the load's last read of the database began: the
	// replica holds everything committed before it (replica.Tracker.CaughtUp),
	// and the follower reads subject and asset changes from Since on.
	CaughtUpAt time.Time
	Since      time.Time
	Took       time.Duration
}

// Load fills the engine and the ledger tree, from the snapshot at
// cfg.Path when it verifies and matches, otherwise from the database, and
// then catches up with the database. It logs which, why, and its progress.
// The engine must not serve before Load returns; on error it may hold
// part of the state, and the process should stop.
func Load(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	began := cfg.Now()
	logCtx, stopLog := context.WithCancel(ctx)
	defer stopLog()
	go cfg.Progress.logEvery(logCtx, cfg.Logger, cfg.LogEvery)

	var res Result
	if cfg.Path != "" {
		h, err := fromSnapshot(ctx, &cfg)
		switch {
		case err == nil:
			res.FromSnapshot, res.Revision, res.Written = true, h.revision, h.written
			if err := tail(ctx, &cfg, h, &res); err != nil {
				return res, err
			}
		case errors.Is(err, fs.ErrNotExist):
			cfg.Logger.Info("no decision snapshot yet; loading everything from the database", "path", cfg.Path)
		case errors.Is(err, errFatal):
			return res, err
		default:
			cfg.Logger.Warn("not using the decision snapshot; loading everything from the database", "path", cfg.Path, "reason", err.Error())
		}
	}
	if !res.FromSnapshot {
		if err := full(ctx, &cfg, &res); err != nil {
			return res, err
		}
	}
	res.Size = int64(cfg.Log.Tree().Size())
	res.Since = res.CaughtUpAt.Add(-follow.Overlap)
	res.Took = cfg.Now().Sub(began)
	cfg.Progress.finish()
	subjects, grants := cfg.Engine.Stats()
	cfg.Logger.Info("loaded the decision index", "from_snapshot", res.FromSnapshot, "subjects", subjects, "grants", grants,
		"revision", res.Size, "tail_events", res.Tail, "seconds", res.Took.Seconds())
	return res, nil
}

// errFatal marks a failure a full load cannot repair: the engine holds a
// snapshot it should not.
var errFatal = errors.New("snapshot: cannot continue")

// fromSnapshot checks the snapshot at cfg.Path and, when it belongs here,
// loads the index and installs the tree. On an error the engine and the
// log are as they were, except for errFatal.
func fromSnapshot(ctx context.Context, cfg *Config) (header, error) {
	f, err := os.Open(cfg.Path)
	if err != nil {
		return header{}, err
	}
	defer f.Close()
	var total int64
	if st, err := f.Stat(); err == nil {
		total = st.Size()
	}
	cfg.Progress.start("snapshot", "bytes", total, nil)
	br := bufio.NewReaderSize(counted{f, cfg.Progress.add}, 1<<20)
	crc := crc32.New(castagnoli)
	tr := io.TeeReader(br, crc)
	h, err := readHeader(tr)
	if err != nil {
		return h, err
	}
	tree, err := cfg.Log.ReadTreeState(tr)
	if err != nil {
		return h, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return h, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if binary.LittleEndian.Uint32(sum[:]) != crc.Sum32() {
		return h, fmt.Errorf("%w: header checksum mismatch", errCorrupt)
	}
	if h.origin != cfg.Origin {
		return h, fmt.Errorf("%w: it was written by another deployment (ledger %q)", ErrMismatch, h.origin)
	}
	if h.policy != cfg.Policy {
		return h, fmt.Errorf("%w: it was written under another policy", ErrMismatch)
	}
	size, err := cfg.Store.LedgerSize(ctx)
	if err != nil {
		return h, err
	}
	if h.revision > size {
		return h, fmt.Errorf("%w: it is at ledger revision %d but the database holds %d events (restored from a backup?)", ErrMismatch, h.revision, size)
	}
	if root, err := tree.Root(tree.Size()); err != nil || int64(tree.Size()) != h.revision || root != h.root {
		return h, fmt.Errorf("%w: its ledger tree does not hash to its root", errCorrupt)
	}
	if err := sameLedger(ctx, cfg.Store, tree, h.revision); err != nil {
		return h, err
	}
	rev, err := cfg.Engine.LoadSnapshot(br)
	if err != nil {
		return h, err
	}
	if rev != h.revision {
		return h, fmt.Errorf("%w: the index in %s is at revision %d, its header says %d: delete the file and start again", errFatal, cfg.Path, rev, h.revision)
	}
	cfg.Log.SetTree(tree)
	return h, nil
}

// sameLedger checks that the stored leaves of the block ending at revision
// are the snapshot tree's: a database restored from a backup and written
// to since holds other events there.
func sameLedger(ctx context.Context, store Store, tree *ledger.Tree, revision int64) error {
	if revision == 0 {
		return nil
	}
	from := (revision - 1) &^ 255
	stored, err := store.LeafHashes(ctx, from, revision)
	if err != nil {
		return err
	}
	for i := from; i < revision; i++ {
		h, err := tree.LeafHash(uint64(i))
		if err != nil || i-from >= int64(len(stored)) || stored[i-from] != h {
			return fmt.Errorf("%w: the stored ledger differs from the snapshot's at index %d (restored from a backup?)", ErrMismatch, i)
		}
	}
	return nil
}

// tail applies what the database holds beyond the snapshot: consent events
// from its revision on, subject and asset changes since its time.
func tail(ctx context.Context, cfg *Config, h header, res *Result) error {
	res.CaughtUpAt = cfg.Now()
	size, err := cfg.Store.LedgerSize(ctx)
	if err != nil {
		return err
	}
	cfg.Progress.start("tail", "events after the snapshot", size-h.revision, func() int64 {
		return int64(cfg.Log.Tree().Size()) - h.revision
	})
	since := h.since.Add(-follow.Overlap)
	// Subjects created since, consent or not, as a full load has them;
	// the follower learns of the rest.
	created, err := cfg.Store.SubjectsCreatedSince(ctx, since)
	if err != nil {
		return fmt.Errorf("snapshot: read subjects created after the snapshot: %w", err)
	}
	for _, sub := range created {
		cfg.Engine.PutSubject(sub.ID, sub.Jurisdiction)
		if sub.Erased() {
			cfg.Engine.EraseSubject(sub.ID)
		}
	}
	f := follow.New(follow.Config{Store: cfg.Store, Events: cfg.Events, Index: cfg.Engine})
	if err := f.CatchUp(ctx, since); err != nil {
		return fmt.Errorf("snapshot: apply what changed after the snapshot: %w", err)
	}
	res.Tail = int64(cfg.Log.Tree().Size()) - h.revision
	return nil
}

// full loads every subject, asset and consent event from the database.
func full(ctx context.Context, cfg *Config, res *Result) error {
	res.CaughtUpAt = cfg.Now()
	n, err := cfg.Store.CountSubjects(ctx)
	if err != nil {
		return err
	}
	cfg.Progress.start("subjects", "subjects", n, nil)
	if err := cfg.Store.ForEachSubject(ctx, func(sub *likeness.Subject) error {
		cfg.Engine.PutSubject(sub.ID, sub.Jurisdiction)
		if sub.Erased() {
			cfg.Engine.EraseSubject(sub.ID)
		}
		cfg.Progress.add(1)
		return nil
	}); err != nil {
		return fmt.Errorf("snapshot: load subjects: %w", err)
	}
	cfg.Progress.start("assets", "assets", 0, nil)
	if err := cfg.Store.ForEachAsset(ctx, func(a *likeness.Asset) error {
		cfg.Engine.PutAsset(a)
		cfg.Progress.add(1)
		return nil
	}); err != nil {
		return fmt.Errorf("snapshot: load assets: %w", err)
	}
	size, err := cfg.Store.LedgerSize(ctx)
	if err != nil {
		return err
	}
	cfg.Progress.start("events", "consent events", size, func() int64 { return int64(cfg.Log.Tree().Size()) })
	if err := cfg.Events.Sync(ctx); err != nil {
		return fmt.Errorf("snapshot: load consent events: %w", err)
	}
	res.Tail = int64(cfg.Log.Tree().Size())
	return nil
}
