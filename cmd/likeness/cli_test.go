package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/keys"
	"likeness/internal/snapshot"
	"likeness/internal/sqlstore"
	"likeness/policy"
)

const examplePolicy = "../../policy/example.yaml"

func TestPolicyCheckAcceptsTheExample(t *testing.T) {
	code, out, errOut := run(t, "policy", "check", examplePolicy)
	if code != 0 || !strings.Contains(out, examplePolicy+": ok — 3 purposes, 5 recipients, languages [en de]") {
		t.Fatalf("policy check = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestPolicyCheckReportsEveryProblemWithFileAndLine(t *testing.T) {
	src, err := os.ReadFile(examplePolicy)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	if lines[7] != "  dpo: dpo@acme.example" || lines[21] != "    retention: 3y            # how long an asset collected for this purpose may be kept" {
		t.Fatalf("the example policy changed; update this test:\n%s\n%s", lines[7], lines[21])
	}
	lines[21] = "    retention: 3yrs"
	// An unknown field as line 9; the retention moves to line 23.
	lines = append(lines[:8], append([]string{"  phone: '+49 30 1234'"}, lines[8:]...)...)
	broken := filepath.Join(t.TempDir(), "likeness.yaml")
	writeFile(t, broken, strings.Join(lines, "\n"))

	code, out, errOut := run(t, "policy", "check", broken)
	if code != 1 || out != "" {
		t.Fatalf("policy check of a broken file = %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, want := range []string{
		broken + ":9: organization.phone: unknown field",
		broken + `:23: purposes.ai-training.retention: "3yrs" is not a duration (use 90d, 12mo or 3y)`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	if code, _, errOut := run(t, "policy", "check"); code != 2 {
		t.Errorf("policy check without FILE = %d, want 2: %s", code, errOut)
	}
	if code, _, _ := run(t, "policy", "check", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 {
		t.Errorf("policy check of a missing file = %d, want 1", code)
	}
}

func TestPolicyNoticeInGerman(t *testing.T) {
	want, err := policy.Default().Notice("de")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "policy", "notice", "--lang", "de")
	if code != 0 {
		t.Fatalf("policy notice --lang de = %d\nstderr: %s", code, errOut)
	}
	if !strings.Contains(out, "Verbesserung unserer Sprach- und Bildmodelle") || strings.Contains(out, "Improve our voice and image models") {
		t.Errorf("the notice is not the German one:\n%s", out)
	}
	if !strings.HasSuffix(out, "\nsha256: "+want.SHA256+"\n") || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(want.SHA256) {
		t.Errorf("the notice does not end with its sha256 line %s:\n%s", want.SHA256, out)
	}
	if !strings.HasPrefix(out, want.Text) {
		t.Errorf("printed text differs from the notice whose hash it prints")
	}

	code, out, _ = run(t, "policy", "notice", "--policy", examplePolicy, "--lang", "de")
	if code != 0 || !strings.Contains(out, "Training unserer Porträt- und Stimm-KI-Modelle") {
		t.Errorf("policy notice --policy example --lang de = %d:\n%s", code, out)
	}
	if code, _, errOut := run(t, "policy", "notice", "--lang", "fr"); code != 1 || !strings.Contains(errOut, "[en de]") {
		t.Errorf("policy notice --lang fr = %d, want 1 naming the offered languages: %s", code, errOut)
	}
}

// TestEveryCommandAndGroupTakesHelp runs --help on every command the usage
// lists, and on every command group alone: each answers 0 with its own
// usage, never "unknown command".
func TestEveryCommandAndGroupTakesHelp(t *testing.T) {
	commands := regexp.MustCompile(`(?m)^  ([a-z]+(?: [a-z]+)?) +\S`).FindAllStringSubmatch(usage[strings.Index(usage, "Commands:"):], -1)
	if len(commands) < 20 {
		t.Fatalf("found %d commands in the usage text", len(commands))
	}
	groups := map[string]bool{}
	for _, c := range commands {
		words := strings.Fields(c[1])
		code, out, errOut := run(t, append(words, "--help")...)
		if code != 0 || !strings.Contains(out+errOut, "Usage: likeness "+c[1]) {
			t.Errorf("likeness %s --help = %d\nstdout: %s\nstderr: %s", c[1], code, out, errOut)
		}
		if len(words) == 2 {
			groups[words[0]] = true
		}
	}
	for g := range groups {
		code, out, errOut := run(t, g, "--help")
		if code != 0 || !strings.Contains(out, "likeness "+g+" <command>") {
			t.Errorf("likeness %s --help = %d\nstdout: %s\nstderr: %s", g, code, out, errOut)
		}
		for _, c := range commands {
			if strings.HasPrefix(c[1], g+" ") && !strings.Contains(out, c[1]) {
				t.Errorf("likeness %s --help does not list %s", g, c[1])
			}
		}
		if code, _, _ := run(t, g); code != 2 {
			t.Errorf("likeness %s alone = %d, want 2 (usage)", g, code)
		}
	}
}

func TestVersionHelpAndUnknownCommand(t *testing.T) {
	if code, out, _ := run(t, "version"); code != 0 || out != "likeness "+version+"\n" {
		t.Errorf("version = %d %q", code, out)
	}
	if code, out, _ := run(t, "help"); code != 0 || !strings.Contains(out, "ledger verify") {
		t.Errorf("help = %d %q", code, out)
	}
	if code, _, _ := run(t); code != 2 {
		t.Errorf("no command = %d, want 2", code)
	}
	code, out, errOut := run(t, "frobnicate")
	if code != 2 || out != "" || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if code, _, errOut := run(t, "ledger", "verify", "--no-such-flag"); code != 2 {
		t.Errorf("unknown flag = %d, want 2: %s", code, errOut)
	}
}

func TestAPIKeyCreate(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "apikey", "create", "--role", "pipeline", "--name", "etl", "--data-dir", dir)
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, "lk_") || strings.Contains(token, "\n") {
		t.Fatalf("apikey create = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if strings.Contains(errOut, token) {
		t.Errorf("the secret was also printed to stderr")
	}
	store, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "likeness.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ks, err := store.APIKeys(context.Background())
	if err != nil || len(ks) != 1 || ks[0].Role != likeness.RolePipeline || ks[0].Name != "etl" {
		t.Fatalf("stored keys: %+v, %v", ks, err)
	}
	if bytes.Contains(ks[0].Hash, []byte(token)) {
		t.Errorf("the secret is stored in clear")
	}

	for _, args := range [][]string{
		{"apikey", "create", "--role", "root", "--data-dir", dir},
		{"apikey", "create", "--data-dir", dir},
	} {
		if code, out, errOut := run(t, args...); code != 2 || out != "" || !strings.Contains(errOut, "--role must be") {
			t.Errorf("%v = %d, want 2\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
}

func TestKeysRotateRewrapsAndTheDeploymentStillOpens(t *testing.T) {
	ctx := context.Background()
	f := buildHistory(t, "sqlite")
	store := openTamper(t, f)
	wrapped := func() map[string]string {
		rows, err := store.db.Query(`SELECT subject_id, wrapped FROM subject_keys UNION ALL SELECT name, value FROM settings WHERE name IN ('lookup_key', 'ledger_signing_seed', 'mail_key')`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var id string
			var w []byte
			if err := rows.Scan(&id, &w); err != nil {
				t.Fatal(err)
			}
			out[id] = string(w)
		}
		return out
	}
	before := wrapped()
	if len(before) != 6 {
		t.Fatalf("wrapped keys before: %d, want 3 subjects and 3 deployment keys", len(before))
	}

	code, out, errOut := run(t, append([]string{"keys", "rotate"}, f.flags()...)...)
	if code != 0 || !regexp.MustCompile(`^rotated to \S+: rewrapped 6 keys\n$`).MatchString(out) {
		t.Fatalf("keys rotate = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	after := wrapped()
	for id, w := range before {
		if after[id] == "" || after[id] == w {
			t.Errorf("key of %s was not rewrapped", id)
		}
	}
	store.store.Close()

	// The deployment opens with the rotated key file and opens evidence
	// sealed before the rotation.
	db, err := sqlstore.Open(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kek, created, err := keys.OpenLocal(filepath.Join(f.dir, "kek.json"), nil)
	if err != nil || created {
		t.Fatalf("open key file: created %v, %v", created, err)
	}
	d := &deployment{store: db, kek: kek, policy: policy.Default()}
	c := &config{dataDir: f.dir}
	if err := d.build(ctx, c, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("deployment does not open after rotation: %v", err)
	}
	if _, err := snapshot.Load(ctx, d.snapshotConfig(c, nil, nil)); err != nil {
		t.Fatalf("the index does not load after rotation: %v", err)
	}
	sub, err := d.subjects.SubjectByExternalID(ctx, "user-1")
	if err != nil {
		t.Fatalf("look-up key no longer finds the subject: %v", err)
	}
	states, hist, err := d.consent.Consents(ctx, sub.ID)
	if err != nil {
		t.Fatalf("consents after rotation: %v", err)
	}
	var evidence map[string]string
	for _, ev := range hist {
		if ev.Purpose == "profile-photo" {
			evidence = ev.Evidence
		}
	}
	if evidence["signature"] != "sig-0001" || evidence["name"] != "Erika Mustermann" {
		t.Errorf("evidence after rotation = %v", evidence)
	}
	for _, st := range states {
		if st.Purpose == "profile-photo" && st.State != likeness.StateActive {
			t.Errorf("profile-photo is %s after rotation", st.State)
		}
	}
	// The ledger signing key survived too: checkpoints still verify.
	if code, out, errOut := run(t, append([]string{"ledger", "verify"}, f.flags()...)...); code != 0 {
		t.Errorf("ledger verify after rotation = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// Commands an operator runs on the server are in the audit log too.
func TestCLIOperatorCommandsAreAudited(t *testing.T) {
	dir := t.TempDir()
	var out, errOut strings.Builder
	if code := Run(context.Background(), []string{"apikey", "create", "--role", "auditor", "--data-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("apikey create: %d %s", code, errOut.String())
	}
	if code := Run(context.Background(), []string{"keys", "rotate", "--data-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("keys rotate: %d %s", code, errOut.String())
	}
	store, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "likeness.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	log, err := store.RecentAccess(context.Background(), 10)
	if err != nil || len(log) != 2 || log[0].Action != "cli: likeness keys rotate" || log[1].Action != "cli: likeness apikey create --role auditor" {
		t.Fatalf("audit log after two commands: %+v %v", log, err)
	}
}

func TestMigrateAppliesOnceAndSaysTheVersion(t *testing.T) {
	dir := t.TempDir()
	var want string
	for i := range 2 {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), []string{"migrate", "--data-dir", dir}, &out, &errb); code != 0 {
			t.Fatalf("migrate run %d: exit %d: %s", i+1, code, errb.String())
		}
		if !strings.Contains(out.String(), "sqlite database is at schema version ") {
			t.Fatalf("migrate said %q", out.String())
		}
		if i == 0 {
			want = out.String()
		} else if out.String() != want {
			t.Fatalf("a second migrate changed the version: %q then %q", want, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"migrate", "extra"}, &out, &errb); code != 2 {
		t.Fatalf("migrate with an argument: exit %d, want 2", code)
	}
}
