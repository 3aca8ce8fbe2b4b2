package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"likeness/internal/erasure"
	"likeness/internal/keys"
	"likeness/internal/ledgerlog"
	"likeness/ledger"
)

func runLedgerVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ledger verify", "Re-reads the stored consent history, recomputes every leaf and the tree, checks\nevery stored checkpoint's signature and consistency, and names the first index\nwhere anything was edited, deleted, inserted or reordered. Exit status 1 if so.", stderr)
	var c config
	c.addStorageFlags(fs)
	keyFile := fs.String("ledger-key", "", "verifier key file (what GET /v1/ledger/key serves); default: derived from this deployment")
	if err := parse(fs, args); err != nil {
		return err
	}
	c.resolve()
	store, err := c.openStore(ctx, warnings(stderr))
	if err != nil {
		return err
	}
	defer store.Close()
	var v *ledger.Verifier
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		if v, err = ledger.NewVerifier(strings.TrimSpace(string(b))); err != nil {
			return err
		}
	} else {
		kek, _, err := keys.OpenLocal(c.keyFile, nil)
		if err != nil {
			return err
		}
		signer, err := ledgerlog.StoredSigner(ctx, store, kek)
		if err != nil {
			return err
		}
		v = signer.Verifier()
	}
	fmt.Fprintf(stderr, "Verifying the ledger in %s …\n", store.Dialect())
	rep, err := ledger.Verify(ctx, ledgerlog.Source(store), v)
	if err != nil {
		return err
	}
	if rep.OK() {
		fmt.Fprintf(stdout, "ledger ok: %d events, %d checkpoints, root %x\n", rep.Events, rep.Checkpoints, rep.Root)
		return nil
	}
	fmt.Fprintf(stdout, "ledger FAILED verification: %d events, %d checkpoints\n", rep.Events, rep.Checkpoints)
	if rep.FirstBadIndex >= 0 {
		fmt.Fprintf(stdout, "first bad index: %d\n", rep.FirstBadIndex)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "  index %d: %s: %s\n", p.Index, p.Kind, p.Detail)
	}
	return fmt.Errorf("the ledger was altered (%d problems)", len(rep.Problems))
}

func runReceiptVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("receipt verify RECEIPT.json --key PUBLIC_KEY_FILE [--checkpoint FILE]", "Checks a consent receipt offline: its signature, its checkpoint's signature, and\nthe inclusion proof of its ledger entry. With --checkpoint, also that a later\ncheckpoint extends the receipt's (give --consistency with the proof JSON from\nGET /v1/ledger/consistency).", stderr)
	keyFile := fs.String("key", "", "file holding the ledger key (GET /v1/ledger/key)")
	cpFile := fs.String("checkpoint", "", "a later signed checkpoint (GET /v1/ledger/checkpoint)")
	consFile := fs.String("consistency", "", "consistency proof JSON from the receipt's size to the checkpoint's")
	if err := parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || *keyFile == "" {
		return fmt.Errorf("%w: receipt verify takes RECEIPT.json and --key FILE", errUsage)
	}
	v, err := readVerifier(*keyFile)
	if err != nil {
		return err
	}
	jwss, err := readReceipts(fs.Arg(0))
	if err != nil {
		return err
	}
	var cp []byte
	var proof [][32]byte
	if *cpFile != "" {
		if cp, err = os.ReadFile(*cpFile); err != nil {
			return err
		}
		if *consFile != "" {
			if proof, err = readConsistency(*consFile); err != nil {
				return err
			}
		}
	}
	// Every receipt in the file is checked (a grant of several purposes
	// answers one per purpose): one that does not verify fails the whole.
	bad := 0
	for i, jws := range jwss {
		var claims *ledger.ReceiptClaims
		if cp == nil {
			claims, err = v.VerifyReceipt(jws)
		} else {
			claims, err = v.VerifyReceiptAgainst(jws, cp, proof)
		}
		which := "receipt"
		if len(jwss) > 1 {
			which = fmt.Sprintf("receipt %d of %d", i+1, len(jwss))
		}
		if err != nil && len(jwss) == 1 {
			return fmt.Errorf("receipt does NOT verify: %w", err)
		}
		if err != nil {
			bad++
			fmt.Fprintf(stdout, "%s does NOT verify: %v\n", which, err)
			continue
		}
		fmt.Fprintf(stdout, "%s ok: %s of %q by subject %s at ledger index %d (tree size %d), notice v%d\n",
			which, claims.Type, claims.Event.Purpose, claims.SubjectPseudonym, claims.Ledger.Index, claims.Ledger.Size, claims.NoticeVersion)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d receipts do NOT verify", bad, len(jwss))
	}
	return nil
}

// reorder moves flags before positional arguments so "FILE --key K" works.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && a != "-" { // "-" alone names standard input
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func runCertificateVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("certificate verify CERT --key PUBLIC_KEY_FILE", "Checks an erasure certificate offline: its signature by the deployment's ledger key,\nand prints what it certifies. CERT is the compact JWS (the portal's download), or the JSON\n`likeness subject erase` and DELETE /v1/subjects/{id} answer with; a withdrawal's erasure\ncertificate (GET /v1/subjects/{id}/withdrawal-erasures) is checked the same way.", stderr)
	keyFile := fs.String("key", "", "file holding the ledger key (GET /v1/ledger/key)")
	if err := parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || *keyFile == "" {
		return fmt.Errorf("%w: certificate verify takes CERT and --key FILE", errUsage)
	}
	v, err := readVerifier(*keyFile)
	if err != nil {
		return err
	}
	jws, err := readCertificate(fs.Arg(0))
	if err != nil {
		return err
	}
	payload, err := v.VerifyStatement(ledger.CertificateType, jws)
	if err != nil {
		return fmt.Errorf("certificate does NOT verify: %w", err)
	}
	var version struct{ Version string }
	if err := json.Unmarshal(payload, &version); err != nil {
		return fmt.Errorf("certificate does NOT verify: its claims do not decode: %w", err)
	}
	if version.Version == erasure.WithdrawalVersion {
		var w erasure.WithdrawalCertificate
		if err := json.Unmarshal(payload, &w); err != nil {
			return fmt.Errorf("certificate does NOT verify: its claims do not decode: %w", err)
		}
		fmt.Fprintf(stdout, "certificate ok: %d assets of subject %s erased by %s after the withdrawal of %s (ledger index %d, %s), completed %s\n",
			len(w.Assets), w.Subject, w.Controller, w.Purpose, w.Withdrawal.LedgerIndex, w.Withdrawal.Time.Format(time.RFC3339), w.CompletedAt.Format(time.RFC3339))
		return nil
	}
	var c erasure.Certificate
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("certificate does NOT verify: its claims do not decode: %w", err)
	}
	fmt.Fprintf(stdout, "certificate ok: subject %s erased by %s, requested %s, completed %s, ledger index %d; data key destroyed: %t, %d assets deleted\n",
		c.Subject, c.Controller, c.RequestedAt.Format(time.RFC3339), c.CompletedAt.Format(time.RFC3339), c.LedgerIndex, c.Destroyed.DataKey, len(c.Destroyed.Assets))
	return nil
}

// readVerifier reads the ledger's public key (GET /v1/ledger/key) from path.
func readVerifier(path string) (*ledger.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ledger.NewVerifier(strings.TrimSpace(string(b)))
}

// readCertificate accepts a file holding the compact JWS, a JSON string of
// it, or the JSON an erasure answers with ({"certificate": {"jws": …}}).
func readCertificate(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	switch {
	case strings.HasPrefix(s, "{"):
		var obj struct {
			Certificate json.RawMessage `json:"certificate"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		var inner struct {
			JWS string `json:"jws"`
		}
		var str string
		switch {
		case json.Unmarshal(obj.Certificate, &inner) == nil && inner.JWS != "":
			return inner.JWS, nil
		case json.Unmarshal(obj.Certificate, &str) == nil && str != "":
			return str, nil
		}
		return "", fmt.Errorf("%s holds no \"certificate\"", path)
	case strings.HasPrefix(s, `"`):
		var out string
		err := json.Unmarshal(b, &out)
		return out, err
	}
	return s, nil
}

// readReceipts accepts a file holding the compact JWS, a JSON string of
// it, or a JSON object with a "receipt" field or a "receipts" list (a
// grant's response: one per purpose), and returns every receipt in it.
func readReceipts(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	switch {
	case strings.HasPrefix(s, "{"):
		var obj struct {
			Receipt  string   `json:"receipt"`
			Receipts []string `json:"receipts"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out := obj.Receipts
		if obj.Receipt != "" {
			out = append([]string{obj.Receipt}, out...)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s holds no \"receipt\" or \"receipts\"", path)
		}
		return out, nil
	case strings.HasPrefix(s, `"`):
		var out string
		err := json.Unmarshal(b, &out)
		return []string{out}, err
	}
	return []string{s}, nil
}

func readConsistency(path string) ([][32]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var in struct {
		Proof []string `json:"proof"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ledger.DecodeHashes(in.Proof)
}
