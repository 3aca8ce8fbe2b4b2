package snapshot

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Writer writes snapshots of a running replica's state. Its methods are
// safe for concurrent use; one snapshot is written at a time.
type Writer struct {
	cfg Config

	mu     sync.Mutex
	last   int64     // revision of the newest snapshot written or loaded; -1 for none
	lastAt time.Time // when it was written
}

// NewWriter returns a Writer for cfg.Path. Call Loaded with the result of
// the start-up load, so it knows how old the snapshot on disk is.
func NewWriter(cfg Config) *Writer {
	cfg.defaults()
	return &Writer{cfg: cfg, last: -1}
}

// Loaded tells the writer what the start-up load used.
func (w *Writer) Loaded(res Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if res.FromSnapshot {
		w.last, w.lastAt = res.Revision, res.Written
	}
}

// Written is what one Write wrote.
type Written struct {
	Revision int64
	Bytes    int64
	Took     time.Duration
}

// Write writes a snapshot of the current state now, replacing the file at
// cfg.Path atomically (temporary file, fsync, rename, fsync of the
// folder). It holds the index's read lock while it writes the index, so
// decisions go on while writes to the index wait (about a second at a
// million subjects).
func (w *Writer) Write() (Written, error) {
	if w.cfg.Path == "" {
		return Written{}, fmt.Errorf("snapshot: no snapshot path")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	start := w.cfg.Now()
	// Everything committed before since is in memory; the tree is read
	// before the index, so the index holds every event below revision
	// (events are applied before the tree takes their leaf).
	since := w.cfg.CaughtUpAt()
	tree := w.cfg.Log.Tree()
	revision := int64(tree.Size())
	root, err := tree.Root(uint64(revision))
	if err != nil {
		return Written{}, fmt.Errorf("snapshot: %w", err)
	}
	h := header{revision: revision, root: root, since: since, written: start, policy: w.cfg.Policy, origin: w.cfg.Origin}
	dir := filepath.Dir(w.cfg.Path)
	f, err := os.CreateTemp(dir, filepath.Base(w.cfg.Path)+".tmp-*")
	if err != nil {
		return Written{}, fmt.Errorf("snapshot: %w", err)
	}
	n, err := write(f, &h, w.cfg, tree.WriteState)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), w.cfg.Path)
	}
	if err != nil {
		os.Remove(f.Name())
		return Written{}, fmt.Errorf("snapshot: write %s: %w", w.cfg.Path, err)
	}
	if err := syncDir(dir); err != nil {
		return Written{}, fmt.Errorf("snapshot: sync %s: %w", dir, err)
	}
	w.last, w.lastAt = revision, start
	return Written{Revision: revision, Bytes: n, Took: w.cfg.Now().Sub(start)}, nil
}

// write writes the whole snapshot to f and returns its length.
func write(f *os.File, h *header, cfg Config, treeState func(io.Writer, uint64) error) (int64, error) {
	cw := &countWriter{w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	crc := crc32.New(castagnoli)
	mw := io.MultiWriter(bw, crc)
	if _, err := mw.Write(h.encode()); err != nil {
		return 0, err
	}
	if err := treeState(mw, uint64(h.revision)); err != nil {
		return 0, err
	}
	if _, err := bw.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return 0, err
	}
	if err := cfg.Engine.WriteSnapshot(bw, h.revision); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Policy says when Run writes: once the ledger has grown by Events since
// the last snapshot, or Every has passed since it and the ledger grew at
// all. Run looks every Check (0: min(Every, 30 s)).
type Policy struct {
	Every  time.Duration
	Events int64
	Check  time.Duration
}

// Grown reports whether the ledger has grown since the last snapshot
// written or loaded.
func (w *Writer) Grown() bool {
	revision := int64(w.cfg.Log.Tree().Size())
	w.mu.Lock()
	defer w.mu.Unlock()
	return revision != w.last
}

// due reports whether a snapshot is due now under p.
func (w *Writer) due(p Policy) bool {
	revision := int64(w.cfg.Log.Tree().Size())
	w.mu.Lock()
	defer w.mu.Unlock()
	if revision == w.last {
		return false
	}
	return revision-w.last >= p.Events || w.cfg.Now().Sub(w.lastAt) >= p.Every
}

// Run writes snapshots as p says until ctx ends, logging each one and
// every failure (a failed snapshot costs only a slower next start).
func (w *Writer) Run(ctx context.Context, p Policy) {
	if w.cfg.Path == "" {
		return
	}
	if p.Check <= 0 {
		p.Check = min(p.Every, 30*time.Second)
	}
	if p.Check <= 0 {
		p.Check = 30 * time.Second
	}
	t := time.NewTicker(p.Check)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !w.due(p) {
			continue
		}
		wr, err := w.Write()
		if err != nil {
			w.cfg.Logger.Warn("could not write the decision snapshot; the next start will read more from the database", "err", err)
			continue
		}
		w.cfg.Logger.Info("wrote the decision snapshot", "path", w.cfg.Path, "revision", wr.Revision,
			"mib", float64(wr.Bytes)/(1<<20), "seconds", wr.Took.Seconds())
	}
}
