package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

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
			"recipient, anonymized under the purpose's profile, and writes DIR/<id>-v1/: metadata.jsonl and\n"+
			"data/ (the Hugging Face imagefolder/audiofolder layout), and the dataset card (card.md, card.json).\n"+
			"Pictures with no face found for sure are held for review, not written. Prints the dataset record.", stderr)
	var c config
	c.addStorageFlags(fs)
	purpose := fs.String("purpose", "", "purpose the dataset is used for (required)")
	category := fs.String("category", "", "comma-separated data categories, e.g. image,voice (required)")
	recipient := fs.String("recipient", "", "recipient the dataset is for (one the purpose declares)")
	profile := fs.String("profile", "", "anonymization profile: policy (default) or strict")
	out := fs.String("out", "datasets", "folder to write the dataset into")
	every := fs.Duration("progress", time.Second, "print a progress line to stderr this often (0: never)")
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
	req := &dataset.BuildRequest{Purpose: *purpose, Categories: cats, Recipient: *recipient, Profile: *profile, Out: *out}
	reportTo(req, *every, "dataset build", stderr)
	v, err := d.datasets.Build(likeness.WithActor(ctx, cliActor), req)
	if err != nil {
		return err
	}
	recordCLI(ctx, d.store, stderr, "dataset build --purpose "+*purpose, "")
	fmt.Fprintf(stderr, "Built dataset %s version %d in %s: %s\n", v.ID, v.Version, v.Path, v.Summary)
	return printJSON(stdout, v)
}

// reportTo makes req print a progress line to w every interval (none for
// 0), and one when every item is done.
func reportTo(req *dataset.BuildRequest, every time.Duration, what string, w io.Writer) {
	if every <= 0 {
		return
	}
	req.ProgressEvery = every
	req.Progress = func(p dataset.BuildProgress) { fmt.Fprintln(w, buildProgressLine(what, p)) }
}

// buildProgressLine is a line such as "dataset build: 120 of 1,000 items
// (12%), 8.1 items/s, 3 held for review, 1 skipped, about 1m49s left", and,
// while one item takes long, "; item 121 at work for 14s".
func buildProgressLine(what string, p dataset.BuildProgress) string {
	s := fmt.Sprintf("%s: %s of %s items", what, thousands(int64(p.Done)), thousands(int64(p.Items)))
	if p.Items > 0 {
		s += fmt.Sprintf(" (%d%%)", p.Done*100/p.Items)
	}
	if p.Done > 0 && p.Elapsed > 0 {
		s += fmt.Sprintf(", %.1f items/s", float64(p.Done)/p.Elapsed.Seconds())
	}
	if p.Held > 0 {
		s += ", " + thousands(int64(p.Held)) + " held for review"
	}
	if p.Skipped > 0 {
		s += ", " + thousands(int64(p.Skipped)) + " skipped"
	}
	if p.Done > 0 && p.Done < p.Items {
		left := time.Duration(float64(p.Elapsed) / float64(p.Done) * float64(p.Items-p.Done))
		s += ", about " + left.Round(time.Second).String() + " left"
	} else if p.Done == p.Items {
		s += " in " + p.Elapsed.Round(time.Millisecond).String()
	}
	if p.Current > 0 {
		s += fmt.Sprintf("; item %s at work for %s", thousands(int64(p.Done+1)), p.Current.Round(time.Second))
	}
	return s
}

func runDatasetRebuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnVersion(ctx, args, stdout, stderr, "rebuild",
		"Builds the successor version of a dataset from the consents as they stand now (leaving out\n"+
			"everyone who withdrew or was erased) and writes it to DIR/<id>-v<version>/.",
		func(ctx context.Context, d *deployment, id string, req *dataset.BuildRequest) (*dataset.View, string, error) {
			v, err := d.datasets.RebuildWith(ctx, id, req)
			if err != nil {
				return nil, "", err
			}
			return v, fmt.Sprintf("Rebuilt %s as %s version %d in %s: %s", v.PredecessorID, v.ID, v.Version, v.Path, v.Summary), nil
		})
}

func runDatasetExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnVersion(ctx, args, stdout, stderr, "export",
		"Writes the folder of a recorded dataset version to DIR/<id>-v<version>/ as its build would\n"+
			"have (a version built over HTTP is recorded without one): every member read through the\n"+
			"vault and anonymized again, items and manifest byte for byte (checked against the SHA-256\n"+
			"recorded at the build), and its stored card. A tainted version is refused, naming the newest version of its line.",
		func(ctx context.Context, d *deployment, id string, req *dataset.BuildRequest) (*dataset.View, string, error) {
			v, err := d.datasets.Export(ctx, id, req)
			if err != nil {
				return nil, "", err
			}
			return v, fmt.Sprintf("Exported %s version %d to %s (manifest SHA-256 as recorded): %s", v.ID, v.Version, v.Path, v.Summary), nil
		})
}

// runOnVersion is a dataset command on one version that writes a folder
// ("dataset rebuild", "dataset export"): the flags, the deployment, the
// progress lines, the audit entry, the closing line fn returns and the
// record on stdout.
func runOnVersion(ctx context.Context, args []string, stdout, stderr io.Writer, verb, summary string,
	fn func(context.Context, *deployment, string, *dataset.BuildRequest) (*dataset.View, string, error)) error {
	name := "dataset " + verb
	fs := newFlags(name+" DATASET_ID [--out DIR]", summary, stderr)
	var c config
	c.addStorageFlags(fs)
	out := fs.String("out", "datasets", "folder to write the dataset into")
	every := fs.Duration("progress", time.Second, "print a progress line to stderr this often (0: never)")
	if err := parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: %s takes one DATASET_ID", errUsage, name)
	}
	d, err := c.open(ctx, stderr, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer d.Close()
	req := &dataset.BuildRequest{Out: *out}
	reportTo(req, *every, name, stderr)
	v, done, err := fn(likeness.WithActor(ctx, cliActor), d, fs.Arg(0), req)
	if err != nil {
		return err
	}
	recordCLI(ctx, d.store, stderr, name+" "+fs.Arg(0), "")
	fmt.Fprintln(stderr, done)
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
