package main

import (
	"context"
	"fmt"
	"io"
)

// runMigrate applies pending migrations and exits: run it once before a
// rolling upgrade. `serve` migrates too, under the same database lock, so
// replicas that start while it runs wait for it rather than race it.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", "Applies the database migrations this version needs, under a lock that every\n"+
		"replica's start-up also takes, then prints the schema version. Safe to rerun.", stderr)
	var c config
	c.addStorageFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	c.resolve()
	store, err := c.openStore(ctx, warnings(stderr))
	if err != nil {
		return err
	}
	defer store.Close()
	v, err := store.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the %s database is at schema version %d\n", store.Dialect(), v)
	return nil
}
