package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness/policy"
)

// writeImportFile writes n import lines, one person and one consent each:
// nine in ten grants (with evidence, under the built-in policy's English
// notice), one in ten withdrawals, all dated in 2024.
func writeImportFile(t testing.TB, path string, n int) {
	t.Helper()
	notice, err := policy.Default().Notice("en")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	purposes := policy.Default().PurposeIDs
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		purpose := purposes[i%len(purposes)]
		consent := fmt.Sprintf(`{"purpose":%q,"state":"granted","time":%q,"method":"checkbox","language":"en","notice_sha256":%q,"evidence":{"form":"signup-v2","ip_hash":"%08x"}}`,
			purpose, at, notice.SHA256, i)
		if i%10 == 9 {
			consent = fmt.Sprintf(`{"purpose":%q,"state":"withdrawn","time":%q,"method":"checkbox"}`, purpose, at)
		}
		fmt.Fprintf(w, `{"import_id":"crm-%d","external_id":"person-%d","jurisdiction":"EU-DE","locale":"de","consents":[%s]}`+"\n", i, i, consent)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// benchmarkImport times `likeness import` of a file of lines lines (one
// consent each) into a fresh SQLite deployment, b.N times, and checks that
// `likeness ledger verify` passes after each. Writing the file, creating the
// deployment and verifying are not timed.
func benchmarkImport(b *testing.B, lines int) {
	file := filepath.Join(b.TempDir(), "consents.jsonl")
	writeImportFile(b, file, lines)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		if code := Run(ctx, []string{"migrate", "--data-dir", dir}, io.Discard, io.Discard); code != 0 {
			b.Fatalf("migrate: exit %d", code)
		}
		b.StartTimer()
		var out, errb strings.Builder
		code := Run(ctx, []string{"import", "--data-dir", dir, "--progress", "0", file}, &out, &errb)
		if code != 0 || !strings.Contains(out.String(), fmt.Sprintf("%s recorded", thousands(int64(lines)))) {
			b.Fatalf("import: exit %d\n%s\n%s", code, out.String(), errb.String())
		}
		b.StopTimer()
		out.Reset()
		if code := Run(ctx, []string{"ledger", "verify", "--data-dir", dir}, &out, io.Discard); code != 0 ||
			!strings.HasPrefix(out.String(), fmt.Sprintf("ledger ok: %d events", lines)) {
			b.Fatalf("ledger verify after the import: exit %d: %s", code, out.String())
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "consents/s")
}

// BenchmarkImportSQLite100k imports 100,000 consents (100,000 people).
//
//	go test -run x -bench ImportSQLite100k -benchtime 3x ./cmd/likeness
func BenchmarkImportSQLite100k(b *testing.B) { benchmarkImport(b, 100_000) }

// BenchmarkImportSQLite1M imports 1,000,000 consents (1,000,000 people): the
// figure in docs/BENCHMARKS.md.
//
//	go test -run x -bench ImportSQLite1M -benchtime 1x -timeout 60m ./cmd/likeness
func BenchmarkImportSQLite1M(b *testing.B) { benchmarkImport(b, 1_000_000) }
