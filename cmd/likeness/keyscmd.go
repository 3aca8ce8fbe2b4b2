package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"time"

	"likeness/internal/dataset"
	"likeness/internal/keys"
	"likeness/internal/sqlstore"
	"likeness/internal/subjects"
)

// openKeys opens the key file and the database named by the storage flags.
func openKeys(ctx context.Context, fs *flag.FlagSet, c *config, args []string, stderr io.Writer) (*keys.Local, *sqlstore.DB, error) {
	c.addStorageFlags(fs)
	if err := parse(fs, args); err != nil {
		return nil, nil, err
	}
	c.resolve()
	kek, _, err := keys.OpenLocal(c.keyFile, nil)
	if err != nil {
		return nil, nil, err
	}
	store, err := c.openStore(ctx, warnings(stderr))
	return kek, store, err
}

func runKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys rotate", "Adds a new key-encryption key version, makes it primary, and rewraps every\n"+
		"key it wraps (subjects' and datasets' data keys, the deployment's shared secrets) with it.\n"+
		"Running replicas sharing the key file start using the new version within seconds.\n"+
		"Blobs are not touched. Retire the old version afterwards with `likeness keys retire`.", stderr)
	var c config
	wait := fs.Duration("replica-wait", 2*keys.FollowInterval, "how long running replicas may keep wrapping with the old version;\na second rewrap pass follows (0: the deployment is stopped)")
	kek, store, err := openKeys(ctx, fs, &c, args, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	id, err := kek.Rotate(rand.Reader)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "New key-encryption key %s is primary; rewrapping data keys…\n", id)
	n, err := rewrapEverything(ctx, store, kek)
	if err != nil {
		return err
	}
	// A replica that wrapped a key just before it noticed the new primary
	// wrapped it with the old one: a second pass, once every replica has
	// looked at the file, moves those too.
	m := 0
	if *wait > 0 {
		select {
		case <-time.After(*wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		if m, err = rewrapEverything(ctx, store, kek); err != nil {
			return err
		}
	}
	recordCLI(ctx, store, stderr, "keys rotate", "")
	fmt.Fprintf(stdout, "rotated to %s: rewrapped %d keys\n", id, n+m)
	return nil
}

func runKeysRewrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys rewrap", "Rewraps every key not yet wrapped by the primary key-encryption key version\n"+
		"(finishes an interrupted `keys rotate`). Safe to rerun.", stderr)
	var c config
	kek, store, err := openKeys(ctx, fs, &c, args, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := rewrapEverything(ctx, store, kek)
	if err != nil {
		return err
	}
	recordCLI(ctx, store, stderr, "keys rewrap", "")
	fmt.Fprintf(stdout, "rewrapped %d keys with %s\n", n, kek.Primary(ctx))
	return nil
}

// rewrapEverything moves every wrapped key in the database to the primary.
func rewrapEverything(ctx context.Context, store *sqlstore.DB, kek keys.KEK) (int, error) {
	n, err := subjects.RewrapAll(ctx, store, kek)
	if err != nil {
		return n, fmt.Errorf("rewrap stopped after %d keys (run `likeness keys rewrap` to finish): %w", n, err)
	}
	m, err := dataset.RewrapKeys(ctx, store, kek)
	if err != nil {
		return n, fmt.Errorf("rewrap of dataset keys failed (run `likeness keys rewrap` to finish): %w", err)
	}
	return n + m, nil
}

// keyVersions counts every wrapped key in the database by the KEK version
// that wrapped it.
func keyVersions(ctx context.Context, store *sqlstore.DB) (map[string]int, error) {
	counts, err := subjects.KeyVersions(ctx, store)
	if err != nil {
		return nil, err
	}
	ds, err := dataset.KeyVersions(ctx, store)
	if err != nil {
		return nil, err
	}
	for id, n := range ds {
		counts[id] += n
	}
	return counts, nil
}

func runKeysRetire(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys retire VERSION", "Removes a key-encryption key version from the key file, after checking (a full\n"+
		"scan) that no key in the database is still wrapped by it. Run `keys rotate` first.", stderr)
	var c config
	kek, store, err := openKeys(ctx, fs, &c, args, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: name one version to retire, e.g. likeness keys retire local-1", errUsage)
	}
	version := fs.Arg(0)
	if version == kek.Primary(ctx) {
		return fmt.Errorf("%s is the primary version; run `likeness keys rotate` first", version)
	}
	counts, err := keyVersions(ctx, store)
	if err != nil {
		return fmt.Errorf("scan wrapped keys: %w", err)
	}
	if n := counts[version]; n > 0 {
		return fmt.Errorf("%d keys in the database are still wrapped by %s; run `likeness keys rewrap` and try again", n, version)
	}
	if err := kek.Retire(version); err != nil {
		return err
	}
	recordCLI(ctx, store, stderr, "keys retire "+version, "")
	fmt.Fprintf(stdout, "retired %s: no stored key used it; versions left: %v\n", version, kek.Versions())
	return nil
}
