package consent_test

import (
	"context"
	"testing"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/likenesstest"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
)

// replicas opens two services on one PostgreSQL database, sharing the key
// file as replicas behind a load balancer share their KEK.
func replicas(t testing.TB) (a, b *consent.Service) {
	t.Helper()
	dsn, dir := storetest.Postgres(t), t.TempDir()
	a = likenesstest.New(t, likenesstest.Options{DSN: dsn, Dir: dir}).Consent
	b = likenesstest.New(t, likenesstest.Options{DSN: dsn, Dir: dir}).Consent
	return a, b
}

func grantOn(t testing.TB, s *consent.Service, sub string) {
	t.Helper()
	n, _ := s.Notice("en")
	if _, err := s.Grant(context.Background(), &likeness.GrantRequest{SubjectID: sub, Purposes: []string{"ai-training"},
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"}); err != nil {
		t.Fatal(err)
	}
}

func TestWithdrawalOnOneReplicaDeniesOnTheOther(t *testing.T) {
	a, b := replicas(t)
	ctx := context.Background()
	sub, _, err := a.CreateSubject(ctx, "replicated", "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	grantOn(t, a, sub.ID)
	q := &likeness.DecisionRequest{SubjectID: sub.ID, Purpose: "ai-training", Category: "image"}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := b.Decide(q); !d.Allow {
		t.Fatalf("replica B after A's grant: %+v", d)
	}
	if _, err := a.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub.ID, Purpose: "ai-training"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := b.Decide(q); d.Allow || !d.Reasons.Has(likeness.ReasonWithdrawn) {
		t.Fatalf("replica B after A's withdrawal: %+v", d)
	}
	// Both replicas' ledger trees agree.
	ra, _ := a.Ledger.Tree().Root(a.Ledger.Tree().Size())
	rb, _ := b.Ledger.Tree().Root(b.Ledger.Tree().Size())
	if a.Ledger.Tree().Size() != b.Ledger.Tree().Size() || ra != rb {
		t.Fatal("the replicas' ledger trees differ")
	}
}

// BenchmarkWithdrawalVisibleOnReplica measures, with replica B following the
// database as `serve` does (every 250 ms), how long after A's withdrawal
// returns B's decisions deny. Reported as ms per withdrawal.
func BenchmarkWithdrawalVisibleOnReplica(b *testing.B) {
	ra, rb := replicas(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rb.Follow(ctx, 250*time.Millisecond)
	sub, _, err := ra.CreateSubject(ctx, "bench-replica", "en", "EU-DE")
	if err != nil {
		b.Fatal(err)
	}
	q := &likeness.DecisionRequest{SubjectID: sub.ID, Purpose: "ai-training", Category: "image"}
	var worst time.Duration
	var total time.Duration
	for range b.N {
		grantOn(b, ra, sub.ID)
		for d, _ := rb.Decide(q); !d.Allow; d, _ = rb.Decide(q) {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		if _, err := ra.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: sub.ID, Purpose: "ai-training"}); err != nil {
			b.Fatal(err)
		}
		for d, _ := rb.Decide(q); d.Allow; d, _ = rb.Decide(q) {
			time.Sleep(time.Millisecond)
		}
		lag := time.Since(start)
		total += lag
		worst = max(worst, lag)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-mean-lag")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-max-lag")
}

// A request without a time is decided now, every time it is asked: the
// service must not pin the first call's time into the caller's request.
func TestDecideLeavesTheRequestUnchanged(t *testing.T) {
	a, _ := sqliteService(t)
	q := &likeness.DecisionRequest{SubjectID: "sub_x", Purpose: "ai-training", Category: "image"}
	if _, err := a.Decide(q); err != nil {
		t.Fatal(err)
	}
	if !q.At.IsZero() {
		t.Fatalf("Decide wrote %v into the caller's request", q.At)
	}
}

func sqliteService(t *testing.T) (*consent.Service, *sqlstore.DB) {
	t.Helper()
	d := likenesstest.New(t, likenesstest.Options{})
	return d.Consent, d.Store
}

// A jurisdiction corrected on one replica governs transfers on the other.
func TestRectificationReachesAnotherReplica(t *testing.T) {
	a, b := replicas(t)
	ctx := context.Background()
	sub, _, err := a.CreateSubject(ctx, "moved", "en", "US-CA")
	if err != nil {
		t.Fatal(err)
	}
	grantOn(t, a, sub.ID)
	b.Sync(ctx)
	q := &likeness.DecisionRequest{SubjectID: sub.ID, Purpose: "ai-training", Category: "image", Country: "CN"}
	if d, _ := b.Decide(q); !d.Allow {
		t.Fatalf("US subject, no transfer rule: %+v", d)
	}
	var before time.Time // everything rectified so far
	if _, err := a.Rectify(ctx, sub.ID, "", "EU-DE"); err != nil {
		t.Fatal(err)
	}
	if err := b.SyncSubjects(ctx, before); err != nil {
		t.Fatal(err)
	}
	if d, _ := b.Decide(q); d.Allow || !d.Reasons.Has(likeness.ReasonTransferNotPermitted) {
		t.Fatalf("replica B after the correction to EU-DE: %+v", d)
	}
}
