package erasure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"likeness"
	"likeness/internal/erasure"
	"likeness/internal/likenesstest"
	"likeness/internal/storetest"
	"likeness/internal/vault"
	"likeness/ledger"
)

// eachDatabase runs fn on a deployment on SQLite and on PostgreSQL
// (skipped without LIKENESS_TEST_POSTGRES_URL).
func eachDatabase(t *testing.T, fn func(t *testing.T, d *likenesstest.Deployment)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, likenesstest.New(t, likenesstest.Options{})) })
	t.Run("postgres", func(t *testing.T) { fn(t, likenesstest.New(t, likenesstest.Options{DSN: storetest.Postgres(t)})) })
}

func upload(t *testing.T, d *likenesstest.Deployment, sub, marker, derivedFrom string) *likeness.Asset {
	t.Helper()
	u := &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav",
		DerivedFrom: derivedFrom, Body: bytes.NewReader(likenesstest.WAV(marker, 500))}
	a, err := d.Vault.Ingest(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// certified reads the subject's withdrawal erasures and checks each one's
// certificate with the ledger's public key, returning the claims.
func certified(t *testing.T, d *likenesstest.Deployment, sub string) []erasure.WithdrawalCertificate {
	t.Helper()
	recs, err := d.Store.SubjectWithdrawalErasures(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	var out []erasure.WithdrawalCertificate
	for _, r := range recs {
		if r.CompletedAt.IsZero() || len(r.Certificate) == 0 {
			t.Fatalf("withdrawal %s: erasure not completed: %+v", r.EventID, r)
		}
		payload, err := d.Ledger.Signer().Verifier().VerifyStatement(ledger.CertificateType, string(r.Certificate))
		if err != nil {
			t.Fatalf("withdrawal %s: certificate does not verify: %v", r.EventID, err)
		}
		var c erasure.WithdrawalCertificate
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		if c.Version != erasure.WithdrawalVersion || c.Subject != sub || c.Withdrawal.Event != r.EventID || c.Purpose != r.Purpose {
			t.Fatalf("certificate claims %+v for record %+v", c, r)
		}
		out = append(out, c)
	}
	return out
}

func erased(t *testing.T, d *likenesstest.Deployment, id string) bool {
	t.Helper()
	a, err := d.Store.Asset(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Erased()
}

// A withdrawal of a purpose that does not keep its data erases what was
// collected for it and what was derived from it, and leaves a certificate,
// signed with the ledger's key, that lists exactly those assets; the
// person's assets of other purposes stay.
func TestAWithdrawalsErasureIsCertified(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d *likenesstest.Deployment) {
		ctx := context.Background()
		sub := d.Subject(t, "certified", "EU-DE")
		d.Grant(t, sub, "ai-training")
		voice := upload(t, d, sub, "cert", "")
		text := upload(t, d, sub, "trimmed", voice.ID) // derived from the recording
		if _, err := d.Consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{voice.ID, text.ID} {
			if !erased(t, d, id) {
				t.Errorf("asset %s not erased by the withdrawal", id)
			}
		}
		certs := certified(t, d, sub)
		if len(certs) != 1 {
			t.Fatalf("%d certificates, want 1", len(certs))
		}
		if got, want := slices.Sorted(slices.Values(certs[0].Assets)), slices.Sorted(slices.Values([]string{voice.ID, text.ID})); !slices.Equal(got, want) {
			t.Errorf("certificate lists %v, want %v", got, want)
		}
		if n, err := d.Withdrawals.ResumeWithdrawals(ctx); err != nil || n != 1 {
			t.Fatalf("resume after a completed erasure: %d, %v; want it to look at the one withdrawal", n, err)
		}
		if again := certified(t, d, sub); len(again) != 1 || !again[0].CompletedAt.Equal(certs[0].CompletedAt) {
			t.Errorf("a second look at the withdrawal changed its certificate: %+v", again)
		}
	})
}

// A withdrawal recorded when the process stopped before erasing anything
// (the event is in the ledger, nothing else happened) is completed by
// ResumeWithdrawals, which also leaves alone what the person gave after a
// later grant, and what a withdrawal before it already erased.
func TestAWithdrawalsErasureThatAStopCutShortIsCompleted(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d *likenesstest.Deployment) {
		ctx := context.Background()
		sub := d.Subject(t, "cut-short", "EU-DE")
		d.Grant(t, sub, "ai-training")
		first := upload(t, d, sub, "one", "")
		if _, err := d.Consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
			t.Fatal(err)
		}
		d.Clock.Add(time.Minute)
		d.Grant(t, sub, "ai-training")
		second := upload(t, d, sub, "two", "")
		d.Clock.Add(time.Minute)
		// The process stops right after recording this withdrawal.
		cut := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub, Purpose: "ai-training", Type: likeness.Withdraw,
			Method: likeness.Checkbox, Collector: "test", Time: d.Clock.Now().UTC()}
		if err := d.Ledger.Append(ctx, []*likeness.ConsentEvent{cut}); err != nil {
			t.Fatal(err)
		}
		d.Clock.Add(time.Minute)
		d.Grant(t, sub, "ai-training")
		third := upload(t, d, sub, "three", "")
		if erased(t, d, second.ID) {
			t.Fatal("the asset was erased before the erasure was resumed: the test checks nothing")
		}

		if _, err := d.Withdrawals.ResumeWithdrawals(ctx); err != nil {
			t.Fatal(err)
		}
		if !erased(t, d, second.ID) {
			t.Error("the withdrawal a stop cut short left the asset collected before it")
		}
		if erased(t, d, third.ID) {
			t.Error("resuming an old withdrawal erased an asset given after a later grant")
		}
		certs := certified(t, d, sub)
		if len(certs) != 2 || !slices.Equal(certs[0].Assets, []string{first.ID}) || !slices.Equal(certs[1].Assets, []string{second.ID}) {
			t.Fatalf("certificates %+v: want the first withdrawal's listing %s and the resumed one's listing %s", certs, first.ID, second.ID)
		}
		if certs[1].Withdrawal.Event != cut.ID {
			t.Errorf("the resumed certificate names withdrawal %s, want %s", certs[1].Withdrawal.Event, cut.ID)
		}
	})
}
