// Command likeness is the likeness service and its tools: serve the API and
// pages, check a policy, render a notice, create API keys, verify the ledger
// and receipts, rotate keys, and load-test a running server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `likeness keeps people's voices and images only with their consent.

Usage:
  likeness <command> [flags]

Commands:
  serve            run the HTTP API, pages and background workers
  demo             serve with the example policy and synthetic subjects loaded
  policy check     validate a policy file (likeness policy check FILE)
  policy notice    print the notice a person sees (--lang de)
  apikey create    create an API key (--role admin|collector|pipeline|auditor [--expires-in 90d])
  apikey revoke    revoke an API key by its id
  operator create  create a console operator (NAME --role admin|privacy_officer|reviewer|auditor)
  operator disable disable a console operator and end their sessions (NAME)
  migrate          apply pending database migrations (serve also does, under the same lock)
  ledger verify    re-check the whole stored consent ledger
  receipt verify   check a consent receipt offline (RECEIPT.json --key FILE)
  certificate verify  check an erasure certificate offline (CERT --key FILE)
  subject erase    erase a subject everywhere and print the signed certificate
  import           load existing people and consents from JSON Lines (FILE, or - for stdin)
  dataset build    build a consented, anonymized training set (--purpose P --category C --out DIR)
  dataset rebuild  build a dataset's successor without those who withdrew (DATASET_ID)
  dataset export   write the folder of a recorded version, as its build would have (DATASET_ID --out DIR)
  dataset audit    print a dataset's representation audit (DATASET_ID --target FILE)
  keys rotate      add a new key-encryption key and rewrap every data key
  keys rewrap      finish an interrupted rotation
  keys retire      remove an old key-encryption key no stored key uses (VERSION)
  bench            load-test a running server's decision endpoint
  bench-floor      serve the plain net/http decision server bench is compared against
  version          print the version

Every command takes --help. Flags can also be set with LIKENESS_* environment
variables (e.g. LIKENESS_DB, LIKENESS_ADDR, LIKENESS_POLICY, LIKENESS_DATA_DIR).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error caused by how the command was called (exit 2).
var errUsage = errors.New("usage")

// Run runs one command and returns the process exit code: 0 success, 1
// failure (including a verification that found a problem), 2 bad usage.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	if code, done := groupHelp(cmd, rest, stdout); done {
		return code
	}
	if len(rest) > 0 && cmd != "operator" && groupUsage(cmd) != "" {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, rest, stdout, stderr, false)
	case "demo":
		err = runServe(ctx, rest, stdout, stderr, true)
	case "policy check":
		err = runPolicyCheck(rest, stdout, stderr)
	case "policy notice":
		err = runPolicyNotice(rest, stdout, stderr)
	case "apikey create":
		err = runAPIKeyCreate(ctx, rest, stdout, stderr)
	case "apikey revoke":
		err = runAPIKeyRevoke(ctx, rest, stdout, stderr)
	case "operator":
		err = runOperator(ctx, rest, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr)
	case "ledger verify":
		err = runLedgerVerify(ctx, rest, stdout, stderr)
	case "receipt verify":
		err = runReceiptVerify(rest, stdout, stderr)
	case "certificate verify":
		err = runCertificateVerify(rest, stdout, stderr)
	case "subject erase":
		err = runSubjectErase(ctx, rest, stdout, stderr)
	case "import":
		err = runImport(ctx, rest, stdout, stderr)
	case "dataset build":
		err = runDatasetBuild(ctx, rest, stdout, stderr)
	case "dataset rebuild":
		err = runDatasetRebuild(ctx, rest, stdout, stderr)
	case "dataset export":
		err = runDatasetExport(ctx, rest, stdout, stderr)
	case "dataset audit":
		err = runDatasetAudit(ctx, rest, stdout, stderr)
	case "keys rotate":
		err = runKeysRotate(ctx, rest, stdout, stderr)
	case "keys rewrap":
		err = runKeysRewrap(ctx, rest, stdout, stderr)
	case "keys retire":
		err = runKeysRetire(ctx, rest, stdout, stderr)
	case "bench":
		err = runBench(ctx, rest, stdout, stderr)
	case "bench-floor":
		err = runBenchFloor(ctx, rest, stdout, stderr)
	case "version":
		if len(rest) > 0 && isHelp(rest[0]) {
			fmt.Fprint(stderr, "Usage: likeness version\n\nPrints the version of this binary.\n")
			return 0
		}
		fmt.Fprintln(stdout, "likeness", version)
	default:
		fmt.Fprintf(stderr, "likeness: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "likeness:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "likeness:", err)
		return 1
	}
}

// groupHelp prints a command group's sub-commands when the group is given
// alone (exit 2) or with --help (exit 0); done is false otherwise.
func groupHelp(cmd string, rest []string, stdout io.Writer) (code int, done bool) {
	lines := groupUsage(cmd)
	if lines == "" || len(rest) > 0 && !isHelp(rest[0]) {
		return 0, false
	}
	fmt.Fprintf(stdout, "Usage:\n  likeness %s <command> [flags]\n\nCommands:\n%s\nEach command takes --help.\n", cmd, lines)
	if len(rest) == 0 {
		return 2, true
	}
	return 0, true
}

// groupUsage returns the usage lines of the sub-commands of group, or ""
// when group is not a command group.
func groupUsage(group string) string {
	var b strings.Builder
	_, commands, _ := strings.Cut(usage, "Commands:")
	for line := range strings.Lines(commands) {
		if rest, ok := strings.CutPrefix(line, "  "+group+" "); ok && rest != "" && rest[0] != ' ' {
			b.WriteString(line)
		}
	}
	return b.String()
}

func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "help" }

// newFlags returns a flag set that prints its help to stderr.
func newFlags(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: likeness %s\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
