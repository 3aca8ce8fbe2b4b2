package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"likeness"
)

func runSubjectErase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("subject erase SUBJECT_ID", "Erases a subject: records the request in the ledger, destroys the subject's data\nkey (every copy of their data becomes unreadable), deletes their blobs and derived\nassets, and prints the signed erasure certificate. Safe to run again.", stderr)
	var c config
	c.addStorageFlags(fs)
	if err := parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: subject erase takes one SUBJECT_ID", errUsage)
	}
	d, err := c.open(ctx, stderr, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	defer d.Close()
	ctx = likeness.WithActor(ctx, cliActor)
	cert, err := d.erasure.EraseSubject(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	recordCLI(ctx, d.store, stderr, "subject erase", fs.Arg(0))
	claims, err := d.erasure.VerifyCertificate(cert)
	if err != nil {
		return fmt.Errorf("certificate does not verify: %w", err)
	}
	fmt.Fprintf(stderr, "Erased %s: data key destroyed, %d assets deleted, ledger index %d.\n", claims.Subject, len(claims.Destroyed.Assets), claims.LedgerIndex)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"certificate": map[string]any{"jws": string(cert), "claims": claims}})
}
