package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"likeness"
	"likeness/internal/httpapi"
	"likeness/policy"
)

func runAPIKeyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("apikey create --role ROLE [--name NAME] [--expires-in PERIOD]", "Creates an API key and prints its secret once.\nRoles: admin (everything), collector (subjects, consent, uploads),\npipeline (decisions, content, datasets), auditor (read-only).", stderr)
	var c config
	c.addStorageFlags(fs)
	role := fs.String("role", "", "admin, collector, pipeline or auditor")
	name := fs.String("name", "", "a label to recognise the key by")
	expiresIn := fs.String("expires-in", "", "the key expires this long after now, e.g. 90d, 12mo, 1y (default: never)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !likeness.ValidRole(likeness.Role(*role)) {
		return fmt.Errorf("%w: --role must be admin, collector, pipeline or auditor", errUsage)
	}
	now := time.Now()
	spec := httpapi.KeySpec{Name: *name, Role: likeness.Role(*role)}
	if *expiresIn != "" {
		d, err := policy.ParseDuration(*expiresIn)
		if err != nil || d.IsZero() {
			return fmt.Errorf("%w: --expires-in must be a period such as 90d, 12mo or 1y", errUsage)
		}
		spec.ExpiresAt = d.AddTo(now)
	}
	c.resolve()
	store, err := c.openStore(ctx, warnings(stderr))
	if err != nil {
		return err
	}
	defer store.Close()
	key, token, err := httpapi.IssueAPIKey(ctx, store, spec, now)
	if err != nil {
		return err
	}
	recordCLI(ctx, store, stderr, "apikey create --role "+string(key.Role), "")
	expiry := ""
	if !key.ExpiresAt.IsZero() {
		expiry = ", expiring " + key.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(stderr, "Created key %s with role %s%s. The secret below is shown only once.\n", key.ID, key.Role, expiry)
	fmt.Fprintln(stdout, token)
	return nil
}

func runAPIKeyRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("apikey revoke ID", "Revokes an API key: servers refuse it within a second.", stderr)
	var c config
	c.addStorageFlags(fs)
	var id string // before the flags or after them
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	} else if fs.NArg() > 0 {
		id = ""
	}
	if !likeness.ValidID("key", id) {
		return fmt.Errorf("%w: name one key id (key_…), as GET /v1/apikeys lists them", errUsage)
	}
	c.resolve()
	store, err := c.openStore(ctx, warnings(stderr))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.RevokeAPIKey(ctx, id, time.Now()); err != nil {
		return err
	}
	recordCLI(ctx, store, stderr, "apikey revoke "+id, "")
	fmt.Fprintf(stdout, "Revoked key %s.\n", id)
	return nil
}
