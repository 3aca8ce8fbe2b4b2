package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"likeness"
	"likeness/internal/keys"
	"likeness/internal/operators"
	"likeness/internal/sqlstore"
)

// runOperator dispatches "likeness operator SUBCOMMAND".
func runOperator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: likeness operator create NAME --role ROLE | likeness operator disable NAME", errUsage)
	}
	switch args[0] {
	case "create":
		return runOperatorCreate(ctx, args[1:], stdout, stderr)
	case "disable":
		return runOperatorDisable(ctx, args[1:], stderr)
	}
	return fmt.Errorf("%w: unknown operator command %q (create, disable)", errUsage, args[0])
}

// operatorService opens the store and keyring an operator command needs.
func operatorService(ctx context.Context, c *config, stderr io.Writer) (*operators.Service, *sqlstore.DB, error) {
	c.resolve()
	store, err := c.openStore(ctx, warnings(stderr))
	if err != nil {
		return nil, nil, err
	}
	kek, _, err := keys.OpenLocal(c.keyFile, nil)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return operators.New(operators.Config{Store: store, Sealer: kek}), store, nil
}

// nameFirst takes a NAME given before the flags.
func nameFirst(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

func runOperatorCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("operator create NAME --role ROLE", "Creates a console operator and prints, once, a temporary password, the otpauth://\nURI for an authenticator app and ten recovery codes. The account works only after\nthe operator confirms a code at /console/enrol and chooses a password.\nRoles: admin, privacy_officer, reviewer, auditor.", stderr)
	var c config
	c.addStorageFlags(fs)
	role := fs.String("role", "", "admin, privacy_officer, reviewer or auditor")
	name, args := nameFirst(args)
	if err := parse(fs, args); err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	if name == "" || !likeness.ValidOperatorRole(likeness.OperatorRole(*role)) {
		return fmt.Errorf("%w: name one operator and --role admin, privacy_officer, reviewer or auditor", errUsage)
	}
	svc, store, err := operatorService(ctx, &c, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	e, err := svc.Create(likeness.WithActor(ctx, cliActor), name, likeness.OperatorRole(*role))
	if err != nil {
		return err
	}
	recordCLI(ctx, store, stderr, "operator create "+name+" --role "+*role, "")
	fmt.Fprintf(stderr, "Created operator %s (%s). Hand over what follows privately; it is shown only once.\n", name, *role)
	fmt.Fprintf(stdout, "temporary password: %s\notpauth uri: %s\nrecovery codes:\n", e.Password, e.URI)
	for _, rc := range e.RecoveryCodes {
		fmt.Fprintf(stdout, "  %s\n", rc)
	}
	fmt.Fprintln(stdout, "enrolment: open /console/enrol, enter the temporary password, a code from the app and a new password")
	return nil
}

func runOperatorDisable(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("operator disable NAME", "Disables a console operator; their sessions end at their next request.", stderr)
	var c config
	c.addStorageFlags(fs)
	name, args := nameFirst(args)
	if err := parse(fs, args); err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	if name == "" {
		return fmt.Errorf("%w: name one operator", errUsage)
	}
	svc, store, err := operatorService(ctx, &c, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := svc.Disable(likeness.WithActor(ctx, cliActor), name); err != nil {
		return err
	}
	recordCLI(ctx, store, stderr, "operator disable "+name, "")
	fmt.Fprintf(stderr, "Disabled operator %s.\n", name)
	return nil
}
