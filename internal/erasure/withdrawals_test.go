package erasure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
		cut := cutShort(t, d, sub, d.Clock.Now()) // the process stops right after recording it
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

// cutShort records a withdrawal as a process that stopped right after it
// would: in the ledger, nothing else. at is its time, as the replica that
// recorded it read its clock.
func cutShort(t *testing.T, d *likenesstest.Deployment, sub string, at time.Time) *likeness.ConsentEvent {
	t.Helper()
	ev := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub, Purpose: "ai-training", Type: likeness.Withdraw,
		Method: likeness.Checkbox, Collector: "test", Time: at.UTC()}
	if err := d.Ledger.Append(context.Background(), []*likeness.ConsentEvent{ev}); err != nil {
		t.Fatal(err)
	}
	return ev
}

// Replicas' clocks disagree: a withdrawal recorded on a replica whose clock
// is behind may carry a time before the grant it withdraws. The ledger's
// order decides, as it does for decisions: the asset is erased.
func TestAWithdrawalStampedBeforeItsGrantStillErases(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d *likenesstest.Deployment) {
		ctx := context.Background()
		sub := d.Subject(t, "skewed", "EU-DE")
		grant := d.Grant(t, sub, "ai-training")[0]
		a := upload(t, d, sub, "skew", "")
		cutShort(t, d, sub, grant.Time.Add(-5*time.Second))
		if _, err := d.Withdrawals.ResumeWithdrawals(ctx); err != nil {
			t.Fatal(err)
		}
		if !erased(t, d, a.ID) {
			t.Error("a withdrawal whose replica's clock is behind left the asset")
		}
	})
}

// What a withdrawal erased, and only that: an asset an operator erased
// before is not certified as the withdrawal's; an asset a lagging replica
// stored after the withdrawal was done, under the consent it withdrew, is
// found on the next round, erased, and the certificate is issued anew to
// list it.
func TestAWithdrawalCertifiesWhatItErasedAndCatchesALateUpload(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d *likenesstest.Deployment) {
		ctx := context.Background()
		sub := d.Subject(t, "late", "EU-DE")
		grant := d.Grant(t, sub, "ai-training")[0]
		kept, gone := upload(t, d, sub, "kept", ""), upload(t, d, sub, "gone", "")
		if _, err := d.Vault.EraseAsset(ctx, gone.ID, vault.ErasedOnRequest); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
			t.Fatal(err)
		}
		if certs := certified(t, d, sub); len(certs) != 1 || !slices.Equal(certs[0].Assets, []string{kept.ID}) {
			t.Fatalf("certificates %+v: want one listing %s alone (%s was erased on request before)", certs, kept.ID, gone.ID)
		}
		// A replica that had not applied the withdrawal stores an upload
		// under the grant it withdrew.
		late := &likeness.Asset{ID: likeness.NewID("ast"), SubjectID: sub, Purpose: "ai-training", Category: "voice",
			ContentType: "audio/wav", ConsentEventID: grant.ID, Region: "eu-test", CreatedAt: d.Clock.Now().UTC(),
			RetainUntil: d.Clock.Now().Add(time.Hour).UTC()}
		late.BlobKey = "subjects/" + sub + "/" + late.ID
		if err := d.Store.InsertAsset(ctx, late); err != nil {
			t.Fatal(err)
		}
		d.Clock.Add(time.Minute) // the next round
		if _, err := d.Withdrawals.ResumeWithdrawals(ctx); err != nil {
			t.Fatal(err)
		}
		if !erased(t, d, late.ID) {
			t.Fatal("the late upload under the withdrawn consent was not erased")
		}
		certs := certified(t, d, sub)
		if got, want := slices.Sorted(slices.Values(certs[0].Assets)), slices.Sorted(slices.Values([]string{kept.ID, late.ID})); len(certs) != 1 || !slices.Equal(got, want) {
			t.Fatalf("certificates %+v: want one listing %v", certs, want)
		}
	})
}

// A person erased after a withdrawal cut short gets no withdrawal record
// from it: their erasure destroyed everything, and certifies it; a record
// the withdrawal had begun is completed with a certificate that lists
// nothing, since the withdrawal itself erased nothing.
func TestAWithdrawalOfAnErasedPersonLeavesNoRecord(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d *likenesstest.Deployment) {
		ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "test", Role: likeness.RoleAdmin})
		sub := d.Subject(t, "gone", "EU-DE")
		d.Grant(t, sub, "ai-training")
		upload(t, d, sub, "gone", "")
		cutShort(t, d, sub, d.Clock.Now())
		begun := cutShort(t, d, sub, d.Clock.Now())
		if _, err := d.Store.BeginWithdrawalErasure(ctx, &likeness.WithdrawalErasure{EventID: begun.ID, SubjectID: sub,
			Purpose: begun.Purpose, LedgerIndex: begun.LedgerIndex, RequestedAt: d.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Erasure.EraseSubject(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Withdrawals.ResumeWithdrawals(ctx); err != nil {
			t.Fatal(err)
		}
		certs := certified(t, d, sub)
		if len(certs) != 1 || certs[0].Withdrawal.Event != begun.ID || len(certs[0].Assets) != 0 {
			t.Fatalf("certificates of an erased person: %+v; want the begun one's alone, listing nothing", certs)
		}
	})
}

// failing fails to erase one person's assets, as a blob store might.
type failing struct {
	erasure.AssetEraser
	sub string
}

func (f failing) EraseWithdrawn(ctx context.Context, sub, purpose string, ids []string) ([]string, error) {
	if sub == f.sub {
		return nil, errors.New("blob store unreachable")
	}
	return f.AssetEraser.EraseWithdrawn(ctx, sub, purpose, ids)
}

// One withdrawal whose erasure fails does not hold up the others, and is
// tried again on the next round, however old it is by then.
func TestAFailingWithdrawalErasureHoldsUpNoOther(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d *likenesstest.Deployment) {
		ctx := context.Background()
		subA, subB := d.Subject(t, "a", "EU-DE"), d.Subject(t, "b", "EU-DE")
		d.Grant(t, subA, "ai-training")
		d.Grant(t, subB, "ai-training")
		a, b := upload(t, d, subA, "a", ""), upload(t, d, subB, "b", "")
		cutShort(t, d, subA, d.Clock.Now())
		cutShort(t, d, subB, d.Clock.Now())
		d.Clock.Add(time.Hour) // past the window in which recent withdrawals are looked at again
		broken := erasure.NewWithdrawals(erasure.WithdrawalsConfig{Store: d.Store, Assets: failing{d.Vault, subA},
			Signer: d.Ledger.Signer, Policy: d.Notices.Policy, Now: d.Clock.Now})
		if _, err := broken.ResumeWithdrawals(ctx); err == nil {
			t.Fatal("a failed erasure was not reported")
		}
		if !erased(t, d, b.ID) {
			t.Error("the second person's withdrawal waited on the first's failure")
		}
		if erased(t, d, a.ID) {
			t.Fatal("the failing eraser erased: the test checks nothing")
		}
		if _, err := d.Withdrawals.ResumeWithdrawals(ctx); err != nil {
			t.Fatal(err)
		}
		if !erased(t, d, a.ID) {
			t.Error("the failed withdrawal's erasure was not tried again")
		}
	})
}

// A withdrawal after an operator erased a derived copy logs and certifies
// the recording alone: the copy is not erased twice.
func TestAWithdrawalPassesOverADerivedCopyErasedBefore(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d *likenesstest.Deployment) {
		ctx := context.Background()
		sub := d.Subject(t, "copy", "EU-DE")
		d.Grant(t, sub, "ai-training")
		voice := upload(t, d, sub, "voice", "")
		copied := upload(t, d, sub, "copy", voice.ID)
		if _, err := d.Vault.EraseAsset(ctx, copied.ID, vault.ErasedOnRequest); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
			t.Fatal(err)
		}
		log, err := d.Store.SubjectAccessLog(ctx, sub, 100)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, e := range log {
			if e.Action == vault.ActionErasedOnWithdrawal {
				lines = append(lines, e.AssetID)
			}
		}
		if !slices.Equal(lines, []string{voice.ID}) {
			t.Errorf("erased_on_withdrawal lines for %v, want the recording %s alone", lines, voice.ID)
		}
		if certs := certified(t, d, sub); len(certs) != 1 || !slices.Equal(certs[0].Assets, []string{voice.ID}) {
			t.Errorf("certificates %+v, want one listing the recording alone", certs)
		}
	})
}
