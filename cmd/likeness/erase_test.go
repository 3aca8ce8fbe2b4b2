package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/erasure"
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
	"likeness/ledger"
)

// erasePolicy is the example policy shipped with the policy package.
const erasePolicy = "../../policy/example.yaml"

// likenessProcess runs `likeness args…` as a separate process, built with
// the crash-test hook (tag likeness_crashtest), so it can stop between
// erasure steps when LIKENESS_CRASH_AFTER_STEP is set.
func likenessProcess(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(buildLikeness(t, "likeness_crashtest"), args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

func testWAV(marker string) []byte { return likenesstest.WAV(marker, 500) }

// seedSubject makes a deployment in dir with one subject who consented,
// with written evidence, a voice asset and a transcript derived from it.
func seedSubject(t *testing.T, dir string) (subjectID string, wrappedKey []byte) {
	t.Helper()
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "test", Role: likeness.RoleAdmin})
	c := config{dataDir: dir, policyFile: erasePolicy}
	d, err := c.open(ctx, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sub, _, err := d.subjects.CreateSubject(ctx, "erase-me", "en", "US-IL")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := d.notices.Notice("en")
	if _, err := d.consent.Grant(ctx, &likeness.GrantRequest{SubjectID: sub.ID, Purposes: []string{"voice-transcription"},
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Written, Language: "en",
		Evidence: map[string]string{"signature": "Erin Example"}}); err != nil {
		t.Fatal(err)
	}
	parent, err := d.vault.Ingest(ctx, &vault.Upload{SubjectID: sub.ID, Purpose: "voice-transcription", Category: "voice",
		ContentType: "audio/wav", Body: bytes.NewReader(testWAV("erase-marker"))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.vault.Ingest(ctx, &vault.Upload{SubjectID: sub.ID, Purpose: "voice-transcription", Category: "transcript",
		ContentType: "text/plain", DerivedFrom: parent.ID, Body: strings.NewReader("derived transcript")})
	if err != nil {
		t.Fatal(err)
	}
	w, err := d.store.SubjectKey(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	return sub.ID, w
}

func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// checkErased opens the deployment (which, as at every start, finishes
// interrupted erasures) and asserts that nothing decryptable of the subject
// is left: no blob, no copy of the wrapped data key in any file.
func checkErased(t *testing.T, dir, subjectID string, wrappedKey []byte) {
	t.Helper()
	c := config{dataDir: dir, policyFile: erasePolicy}
	d, err := c.open(context.Background(), io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.subjects.Subject(context.Background(), subjectID); likeness.ErrorCode(err) != likeness.EGONE {
		t.Fatalf("subject after erasure: %v, want gone", err)
	}
	dec, _ := d.consent.Decide(&likeness.DecisionRequest{SubjectID: subjectID, Purpose: "voice-transcription", Category: "voice"})
	if dec.Allow || !dec.Reasons.Has(likeness.ReasonSubjectErased) {
		t.Fatalf("decision after erasure: %+v", dec)
	}
	rec, err := d.store.Erasure(context.Background(), subjectID)
	if err != nil || rec.CompletedAt.IsZero() {
		t.Fatalf("erasure record: %+v %v", rec, err)
	}
	claims, err := d.erasure.VerifyCertificate(rec.Certificate)
	if err != nil || claims.Subject != subjectID || len(claims.Destroyed.Assets) != 2 || !claims.Destroyed.DataKey {
		t.Fatalf("certificate: %+v %v", claims, err)
	}
	d.Close()
	if blobs := filesUnder(t, filepath.Join(dir, "blobs")); len(blobs) != 0 {
		t.Fatalf("blobs left after erasure: %v", blobs)
	}
	for _, f := range filesUnder(t, dir) {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, wrappedKey) {
			t.Fatalf("%s still holds the subject's wrapped data key", f)
		}
	}
}

func TestErasureInterruptedAtAnyStepCompletesOnNextRun(t *testing.T) {
	for _, step := range []string{"ledger", "key", "data"} {
		t.Run("killed after "+step, func(t *testing.T) {
			dir := t.TempDir()
			sub, wrapped := seedSubject(t, dir)
			code, out := likenessProcess(t, []string{"LIKENESS_CRASH_AFTER_STEP=" + step}, "subject", "erase", sub, "--data-dir", dir, "--policy", erasePolicy)
			if code != 3 {
				t.Fatalf("the erasing process was not killed after %s: exit %d\n%s", step, code, out)
			}
			code, out = likenessProcess(t, nil, "subject", "erase", sub, "--data-dir", dir, "--policy", erasePolicy)
			if code != 0 || !strings.Contains(out, `"certificate"`) {
				t.Fatalf("second run: exit %d\n%s", code, out)
			}
			checkErased(t, dir, sub, wrapped)
		})
	}
}

func TestStartingTheServiceFinishesAnInterruptedErasure(t *testing.T) {
	dir := t.TempDir()
	sub, wrapped := seedSubject(t, dir)
	if code, out := likenessProcess(t, []string{"LIKENESS_CRASH_AFTER_STEP=key"}, "subject", "erase", sub, "--data-dir", dir, "--policy", erasePolicy); code != 3 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// Opening the deployment, as serve does at start, resumes the erasure.
	checkErased(t, dir, sub, wrapped)
}

func TestEraseIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	sub, _ := seedSubject(t, dir)
	_, first := likenessProcess(t, nil, "subject", "erase", sub, "--data-dir", dir, "--policy", erasePolicy)
	code, second := likenessProcess(t, nil, "subject", "erase", sub, "--data-dir", dir, "--policy", erasePolicy)
	cert := func(s string) string {
		_, after, _ := strings.Cut(s, `"jws": "`)
		jws, _, _ := strings.Cut(after, `"`)
		return jws
	}
	if code != 0 || cert(first) == "" || cert(first) != cert(second) {
		t.Fatalf("second erase: exit %d, certificates differ or missing\n%s\n%s", code, first, second)
	}
}

// The certificate an erasure answers with checks offline with the
// ledger's public key alone, as the JSON the command prints or as the bare
// JWS; an altered one does not.
func TestAnErasureCertificateVerifiesOffline(t *testing.T) {
	dir := t.TempDir()
	sub, _ := seedSubject(t, dir)
	code, out, errOut := runCLI(t, "subject", "erase", sub, "--data-dir", dir, "--policy", erasePolicy)
	if code != 0 {
		t.Fatalf("subject erase: exit %d\n%s", code, errOut)
	}
	var key string
	withDeployment(t, dir, func(ctx context.Context, d *deployment) { key = d.ledger.Signer().VerifierKey() })
	files := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := write("ledger.key", key)
	var printed struct {
		Certificate struct{ JWS string } `json:"certificate"`
	}
	if err := json.Unmarshal([]byte(out), &printed); err != nil || printed.Certificate.JWS == "" {
		t.Fatalf("subject erase printed %q: %v", out, err)
	}
	for name, body := range map[string]string{"erase.json": out, "cert.jws": printed.Certificate.JWS + "\n"} {
		code, got, errOut := runCLI(t, "certificate", "verify", write(name, body), "--key", keyFile)
		if code != 0 || !strings.HasPrefix(got, "certificate ok: subject "+sub) || !strings.Contains(got, "data key destroyed: true") {
			t.Errorf("certificate verify %s: exit %d\n%s%s", name, code, got, errOut)
		}
	}
	parts := strings.Split(printed.Certificate.JWS, ".")
	p := []byte(parts[1])
	p[len(p)/2] ^= 1
	forged := write("forged.jws", parts[0]+"."+string(p)+"."+parts[2])
	if code, _, errOut := runCLI(t, "certificate", "verify", forged, "--key", keyFile); code != 1 || !strings.Contains(errOut, "certificate does NOT verify") {
		t.Errorf("an altered certificate: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "certificate", "verify", forged); code != 2 {
		t.Errorf("without --key: exit %d, %s", code, errOut)
	}
}

// A withdrawal whose erasure a stop cut short (the withdrawal recorded, its
// erasure begun, nothing erased: here an imported withdrawal, in a process
// killed at that point) is completed by the round serve runs from its start
// (erasure.Withdrawals.Run): the purpose's blobs go, and the certificate
// lists both the recording and the transcript derived from it.
func TestServeFinishesAnInterruptedWithdrawalErasure(t *testing.T) {
	dir := t.TempDir()
	sub, _ := seedSubject(t, dir)
	line := fmt.Sprintf(`{"external_id":"erase-me","jurisdiction":"US-IL","consents":[{"purpose":"voice-transcription","state":"withdrawn","time":%q,"method":"checkbox"}]}`,
		time.Now().UTC().Format(time.RFC3339Nano))
	file := filepath.Join(t.TempDir(), "withdraw.jsonl")
	if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := likenessProcess(t, []string{"LIKENESS_CRASH_AFTER_STEP=withdrawal"}, "import", "--progress", "0", "--data-dir", dir, "--policy", erasePolicy, file); code != 3 {
		t.Fatalf("import: exit %d, want the crash hook's 3\n%s", code, out)
	}
	if blobs := filesUnder(t, filepath.Join(dir, "blobs")); len(blobs) != 2 {
		t.Fatalf("%d blobs after the stop, want the 2 the erasure had not reached: the test checks nothing", len(blobs))
	}
	withDeployment(t, dir, func(ctx context.Context, d *deployment) {
		if n, err := d.withdrawals.ResumeWithdrawals(ctx); err != nil || n != 1 {
			t.Fatalf("the round serve runs: looked at %d withdrawals, %v; want the 1", n, err)
		}
		recs, err := d.store.SubjectWithdrawalErasures(ctx, sub)
		if err != nil || len(recs) != 1 || recs[0].CompletedAt.IsZero() {
			t.Fatalf("withdrawal erasures after the start: %+v %v", recs, err)
		}
		payload, err := d.ledger.Signer().Verifier().VerifyStatement(ledger.CertificateType, string(recs[0].Certificate))
		if err != nil {
			t.Fatal(err)
		}
		var c erasure.WithdrawalCertificate
		if err := json.Unmarshal(payload, &c); err != nil || len(c.Assets) != 2 || c.Purpose != "voice-transcription" {
			t.Fatalf("certificate %+v %v, want the recording and its transcript", c, err)
		}
	})
	if blobs := filesUnder(t, filepath.Join(dir, "blobs")); len(blobs) != 0 {
		t.Fatalf("blobs left after the start: %v", blobs)
	}
}

// A withdrawal's erasure certificate checks offline as a person's does,
// and says what it certifies.
func TestAWithdrawalsCertificateVerifiesOffline(t *testing.T) {
	dir := t.TempDir()
	sub, _ := seedSubject(t, dir)
	var key, jws string
	withDeployment(t, dir, func(ctx context.Context, d *deployment) {
		if _, err := d.consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "voice-transcription"}); err != nil {
			t.Fatal(err)
		}
		recs, err := d.store.SubjectWithdrawalErasures(ctx, sub)
		if err != nil || len(recs) != 1 {
			t.Fatalf("withdrawal erasures: %+v %v", recs, err)
		}
		key, jws = d.ledger.Signer().VerifierKey(), string(recs[0].Certificate)
	})
	files := t.TempDir()
	keyFile, certFile := filepath.Join(files, "ledger.key"), filepath.Join(files, "withdrawal.jws")
	os.WriteFile(keyFile, []byte(key), 0o600)
	os.WriteFile(certFile, []byte(jws), 0o600)
	code, got, errOut := runCLI(t, "certificate", "verify", certFile, "--key", keyFile)
	if want := "certificate ok: 2 assets of subject " + sub; code != 0 || !strings.HasPrefix(got, want) || !strings.Contains(got, "withdrawal of voice-transcription") {
		t.Errorf("certificate verify: exit %d\n%s%s\nwant it to start %q", code, got, errOut, want)
	}
}
