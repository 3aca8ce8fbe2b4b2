package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"likeness"
	"likeness/internal/dataset"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runDatasetBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dataset build --purpose P --category C[,C…] [--recipient R] [--profile NAME] [--out DIR]",
		"Builds a dataset from every asset whose subject consents now to the purpose, category and\n"+
			"recipient, anonymized under the purpose's profile, and writes DIR/<id>-v1/metadata.jsonl and\n"+
			"data/ (the Hugging Face imagefolder/audiofolder layout). Prints the dataset record.", stderr)
	var c config
	c.addStorageFlags(fs)
	purpose := fs.String("purpose", "", "purpose the dataset is used for (required)")
	category := fs.String("category", "", "comma-separated data categories, e.g. image,voice (required)")
	recipient := fs.String("recipient", "", "recipient the dataset is for (one the purpose declares)")
	profile := fs.String("profile", "", "anonymization profile: policy (default) or strict")
	out := fs.String("out", "datasets", "folder to write the dataset into")
	if err := parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *purpose == "" || *category == "" {
		return fmt.Errorf("%w: --purpose and --category are required", errUsage)
	}
	var cats []string
	for _, s := range strings.Split(*category, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cats = append(cats, s)
		}
	}
	d, err := c.open(ctx, stderr, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer d.Close()
	v, err := d.datasets.Build(likeness.WithActor(ctx, cliActor), &dataset.BuildRequest{Purpose: *purpose, Categories: cats,
		Recipient: *recipient, Profile: *profile, Out: *out})
	if err != nil {
		return err
	}
	recordCLI(ctx, d.store, stderr, "dataset build --purpose "+*purpose, "")
	fmt.Fprintf(stderr, "Built dataset %s version %d in %s: %s\n", v.ID, v.Version, v.Path, v.Summary)
	return printJSON(stdout, v)
}

func runDatasetRebuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dataset rebuild DATASET_ID [--out DIR]",
		"Builds the successor version of a dataset from the consents as they stand now (leaving out\n"+
			"everyone who withdrew or was erased) and writes it to DIR/<id>-v<version>/.", stderr)
	var c config
	c.addStorageFlags(fs)
	out := fs.String("out", "datasets", "folder to write the dataset into")
	if err := parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: dataset rebuild takes one DATASET_ID", errUsage)
	}
	d, err := c.open(ctx, stderr, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer d.Close()
	v, err := d.datasets.Rebuild(likeness.WithActor(ctx, cliActor), fs.Arg(0), *out)
	if err != nil {
		return err
	}
	recordCLI(ctx, d.store, stderr, "dataset rebuild "+fs.Arg(0), "")
	fmt.Fprintf(stderr, "Rebuilt %s as %s version %d in %s: %s\n", v.PredecessorID, v.ID, v.Version, v.Path, v.Summary)
	return printJSON(stdout, v)
}

func runDatasetAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dataset audit DATASET_ID [--target FILE]",
		"Prints the representation audit of a dataset: each group's share of the subjects who declared\n"+
			"attributes, against the target distribution in FILE (JSON: attribute → group → share), with\n"+
			"under-represented groups flagged and cells under k suppressed.", stderr)
	var c config
	c.addStorageFlags(fs)
	targetFile := fs.String("target", "", "JSON file with the target distribution")
	if err := parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: dataset audit takes one DATASET_ID", errUsage)
	}
	var target dataset.Target
	if *targetFile != "" {
		b, err := os.ReadFile(*targetFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &target); err != nil {
			return fmt.Errorf("%s: the target must be a JSON object of attribute → group → share: %w", *targetFile, err)
		}
	}
	d, err := c.open(ctx, stderr, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := d.datasets.Audit(ctx, fs.Arg(0), target)
	if err != nil {
		return err
	}
	return printJSON(stdout, rep)
}
