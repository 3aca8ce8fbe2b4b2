package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"likeness"
	"likeness/internal/httpapi"
	"likeness/internal/sqlstore"
)

func runAPIKeyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("apikey create --role ROLE [--name NAME]", "Creates an API key and prints its secret once.\nRoles: admin (everything), collector (subjects, consent, uploads),\npipeline (decisions, content, datasets), auditor (read-only).", stderr)
	var c config
	c.addStorageFlags(fs)
	role := fs.String("role", "", "admin, collector, pipeline or auditor")
	name := fs.String("name", "", "a label to recognise the key by")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !likeness.ValidRole(likeness.Role(*role)) {
		return fmt.Errorf("%w: --role must be admin, collector, pipeline or auditor", errUsage)
	}
	c.resolve()
	store, err := sqlstore.Open(ctx, c.db)
	if err != nil {
		return err
	}
	defer store.Close()
	key, token, err := httpapi.CreateAPIKey(ctx, store, *name, likeness.Role(*role), time.Now())
	if err != nil {
		return err
	}
	recordCLI(ctx, store, stderr, "apikey create --role "+string(key.Role), "")
	fmt.Fprintf(stderr, "Created key %s with role %s. The secret below is shown only once.\n", key.ID, key.Role)
	fmt.Fprintln(stdout, token)
	return nil
}
