package main

import (
	"encoding/json"
	"fmt"
	"io"

	"likeness/policy"
)

func runPolicyCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("policy check FILE", "Validates a policy file strictly and prints every problem with its line.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: policy check takes one FILE", errUsage)
	}
	p, err := policy.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok — %d purposes, %d recipients, languages %v\n", fs.Arg(0), len(p.PurposeIDs), len(p.RecipientIDs), p.Languages)
	return nil
}

func runPolicyNotice(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("policy notice [--policy FILE] [--lang LANG] [--json]", "Prints the notice a person is shown, with its SHA-256.", stderr)
	file := fs.String("policy", env("LIKENESS_POLICY", ""), "policy file (default: the built-in policy)")
	lang := fs.String("lang", "", "language (default: the policy's first)")
	asJSON := fs.Bool("json", false, "print the notice as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	c := config{policyFile: *file}
	if fs.NArg() == 1 && *file == "" {
		c.policyFile = fs.Arg(0)
	}
	p, err := c.loadPolicy()
	if err != nil {
		return err
	}
	n, err := p.Notice(*lang)
	if err != nil {
		return fmt.Errorf("%w (the policy offers %v)", err, p.Languages)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(n)
	}
	fmt.Fprint(stdout, n.Text)
	fmt.Fprintf(stdout, "\nsha256: %s\n", n.SHA256)
	return nil
}
