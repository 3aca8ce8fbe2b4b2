package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"likeness/internal/dataset"
	"likeness/internal/keys"
	"likeness/internal/sqlstore"
	"likeness/internal/subjects"
)

func runKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys rotate", "Adds a new key-encryption key version, makes it primary, and rewraps every\nsubject's data key and the deployment keys with it. Blobs are not touched.", stderr)
	var c config
	c.addStorageFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	c.resolve()
	kek, _, err := keys.OpenLocal(c.keyFile, nil)
	if err != nil {
		return err
	}
	store, err := sqlstore.Open(ctx, c.db)
	if err != nil {
		return err
	}
	defer store.Close()
	id, err := kek.Rotate(rand.Reader)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "New key-encryption key %s is primary; rewrapping data keys…\n", id)
	n, err := subjects.RewrapAll(ctx, store, kek)
	if err != nil {
		return fmt.Errorf("rewrap stopped after %d keys (run again to finish): %w", n, err)
	}
	m, err := dataset.RewrapKeys(ctx, store, kek)
	if err != nil {
		return fmt.Errorf("rewrap of dataset keys failed (run again to finish): %w", err)
	}
	n += m
	recordCLI(ctx, store, stderr, "keys rotate", "")
	fmt.Fprintf(stdout, "rotated to %s: rewrapped %d keys\n", id, n)
	return nil
}
