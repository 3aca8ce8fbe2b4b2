package follow_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"likeness"
	"likeness/internal/follow"
	"likeness/internal/likenesstest"
	"likeness/internal/storetest"
	"likeness/internal/vault"
)

// replicas opens two deployments on one PostgreSQL database, sharing the
// key file and clock as replicas behind a load balancer share their KEK.
func replicas(t testing.TB) (a, b *likenesstest.Deployment) {
	t.Helper()
	dsn, dir := storetest.Postgres(t), t.TempDir()
	a = likenesstest.New(t, likenesstest.Options{DSN: dsn, Dir: dir})
	b = likenesstest.New(t, likenesstest.Options{DSN: dsn, Dir: dir, Clock: a.Clock})
	return a, b
}

// follower follows the database for d, as `serve` does.
func follower(d *likenesstest.Deployment) *follow.Follower {
	return follow.New(follow.Config{Store: d.Store, Events: d.Consent, Index: d.Engine, Now: d.Clock.Now})
}

func grantOn(t testing.TB, d *likenesstest.Deployment, sub string) {
	t.Helper()
	n, _ := d.Notices.Notice("en")
	if _, err := d.Consent.Grant(context.Background(), &likeness.GrantRequest{SubjectID: sub, Purposes: []string{"ai-training"},
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"}); err != nil {
		t.Fatal(err)
	}
}

func TestWithdrawalOnOneReplicaDeniesOnTheOther(t *testing.T) {
	a, b := replicas(t)
	fb := follower(b)
	ctx := context.Background()
	sub, _, err := a.Subjects.CreateSubject(ctx, "replicated", "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	grantOn(t, a, sub.ID)
	q := &likeness.DecisionRequest{SubjectID: sub.ID, Purpose: "ai-training", Category: "image"}
	if err := fb.CatchUp(ctx, a.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if d, _ := b.Consent.Decide(q); !d.Allow {
		t.Fatalf("replica B after A's grant: %+v", d)
	}
	if _, err := a.Consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub.ID, Purpose: "ai-training"}); err != nil {
		t.Fatal(err)
	}
	if err := fb.CatchUp(ctx, a.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if d, _ := b.Consent.Decide(q); d.Allow || !d.Reasons.Has(likeness.ReasonWithdrawn) {
		t.Fatalf("replica B after A's withdrawal: %+v", d)
	}
	// Both replicas' ledger trees agree.
	ra, _ := a.Ledger.Tree().Root(a.Ledger.Tree().Size())
	rb, _ := b.Ledger.Tree().Root(b.Ledger.Tree().Size())
	if a.Ledger.Tree().Size() != b.Ledger.Tree().Size() || ra != rb {
		t.Fatal("the replicas' ledger trees differ")
	}
}

// A jurisdiction corrected on one replica governs transfers on the other.
func TestRectificationReachesAnotherReplica(t *testing.T) {
	a, b := replicas(t)
	fb := follower(b)
	ctx := context.Background()
	sub, _, err := a.Subjects.CreateSubject(ctx, "moved", "en", "US-CA")
	if err != nil {
		t.Fatal(err)
	}
	grantOn(t, a, sub.ID)
	var before time.Time // everything changed so far
	if err := fb.CatchUp(ctx, before); err != nil {
		t.Fatal(err)
	}
	q := &likeness.DecisionRequest{SubjectID: sub.ID, Purpose: "ai-training", Category: "image", Country: "CN"}
	if d, _ := b.Consent.Decide(q); !d.Allow {
		t.Fatalf("US subject, no transfer rule: %+v", d)
	}
	if _, err := a.Subjects.Rectify(ctx, sub.ID, "", "EU-DE"); err != nil {
		t.Fatal(err)
	}
	if err := fb.CatchUp(ctx, before); err != nil {
		t.Fatal(err)
	}
	if d, _ := b.Consent.Decide(q); d.Allow || !d.Reasons.Has(likeness.ReasonTransferNotPermitted) {
		t.Fatalf("replica B after the correction to EU-DE: %+v", d)
	}
}

// An asset erased on one replica is denied by the other's decisions after
// it catches up.
func TestAssetErasureReachesAnotherReplica(t *testing.T) {
	ctx := context.Background()
	a, b := replicas(t)
	fb := follower(b)
	sub := a.Subject(t, "two-replicas", "EU-DE")
	a.Grant(t, sub, "ai-training")
	asset, err := a.Vault.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav",
		Body: bytes.NewReader(likenesstest.WAV("ab", 1000))})
	if err != nil {
		t.Fatal(err)
	}
	since := a.Clock.Now().Add(-time.Minute)
	if err := fb.CatchUp(ctx, since); err != nil {
		t.Fatal(err)
	}
	q := &likeness.DecisionRequest{AssetID: asset.ID, Purpose: "ai-training"}
	if d, err := b.Consent.Decide(q); err != nil || !d.Allow {
		t.Fatalf("replica B on A's new asset: %+v", d)
	}
	if _, err := a.Vault.EraseAsset(ctx, asset.ID, "erased_on_request"); err != nil {
		t.Fatal(err)
	}
	if err := fb.CatchUp(ctx, since); err != nil {
		t.Fatal(err)
	}
	if d, err := b.Consent.Decide(q); err != nil || d.Allow || !d.Reasons.Has(likeness.ReasonAssetErased) {
		t.Fatalf("replica B after A erased the asset: %+v", d)
	}
}

// Wake runs a catch-up without waiting for the timer.
func TestWakeCatchesUpAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev := &countingEvents{synced: make(chan struct{}, 4)}
	f := follow.New(follow.Config{Store: emptyStore{}, Events: ev, Index: nopIndex{}})
	go f.Run(ctx, time.Hour)
	f.Wake()
	f.Wake() // a second wake-up while one is pending never blocks
	select {
	case <-ev.synced:
	case <-time.After(10 * time.Second):
		t.Fatal("Wake did not run a catch-up")
	}
}

type countingEvents struct{ synced chan struct{} }

func (c *countingEvents) Sync(context.Context) error {
	c.synced <- struct{}{}
	return nil
}

type emptyStore struct{}

func (emptyStore) SubjectsUpdatedSince(likeness.Context, time.Time) ([]*likeness.Subject, error) {
	return nil, nil
}
func (emptyStore) AssetsChangedSince(likeness.Context, time.Time) ([]*likeness.Asset, error) {
	return nil, nil
}

type nopIndex struct{}

func (nopIndex) PutSubject(string, string) {}
func (nopIndex) PutAsset(*likeness.Asset)  {}

// BenchmarkWithdrawalVisibleOnReplica measures, with replica B following the
// database as `serve` does (every 250 ms), how long after A's withdrawal
// returns B's decisions deny. Reported as ms per withdrawal.
func BenchmarkWithdrawalVisibleOnReplica(b *testing.B) {
	ra, rb := replicas(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go follower(rb).Run(ctx, 250*time.Millisecond)
	sub, _, err := ra.Subjects.CreateSubject(ctx, "bench-replica", "en", "EU-DE")
	if err != nil {
		b.Fatal(err)
	}
	q := &likeness.DecisionRequest{SubjectID: sub.ID, Purpose: "ai-training", Category: "image"}
	var worst time.Duration
	var total time.Duration
	for range b.N {
		grantOn(b, ra, sub.ID)
		for d, _ := rb.Consent.Decide(q); !d.Allow; d, _ = rb.Consent.Decide(q) {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		if _, err := ra.Consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub.ID, Purpose: "ai-training"}); err != nil {
			b.Fatal(err)
		}
		for d, _ := rb.Consent.Decide(q); d.Allow; d, _ = rb.Consent.Decide(q) {
			time.Sleep(time.Millisecond)
		}
		lag := time.Since(start)
		total += lag
		worst = max(worst, lag)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-mean-lag")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-max-lag")
}
