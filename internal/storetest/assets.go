package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
)

func init() {
	tests = append(tests,
		Test{"AssetsRoundTripAndList", testAssets},
		Test{"AssetErasureIsOnceClearsFingerprintsAndTellsTheOutbox", testAssetErasure},
		Test{"ExpiredAssetsAreFoundBeforeErasure", testExpiredAssets},
		Test{"AccessLogIsNewestFirst", testAccessLog},
		Test{"ErasureRecordsSurviveEveryStep", testErasureRecord},
		Test{"NoEventFollowsAnErasureThatHasBegun", testErasureFence},
	)
}

func newAsset(sub, purpose, parent string, created time.Time) *likeness.Asset {
	id := likeness.NewID("ast")
	return &likeness.Asset{ID: id, SubjectID: sub, Purpose: purpose, Category: "voice", ContentType: "audio/wav",
		Size: 10, SHA256: "aa", OriginalSHA256: "bb", DerivedFrom: parent, ConsentEventID: "evt_x", Region: "eu",
		BlobKey: "subjects/" + sub + "/" + id, CreatedAt: created, RetainUntil: created.Add(90 * 24 * time.Hour)}
}

func testAssets(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "a")
	parent := newAsset(sub.ID, "p", "", t0)
	child := newAsset(sub.ID, "p", parent.ID, t0.Add(time.Second))
	for _, a := range []*likeness.Asset{parent, child} {
		if err := s.InsertAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Asset(ctx, child.ID)
	if err != nil || got.DerivedFrom != parent.ID || got.BlobKey != child.BlobKey || !got.RetainUntil.Equal(child.RetainUntil) {
		t.Fatalf("Asset = %+v, %v", got, err)
	}
	all, err := s.SubjectAssets(ctx, sub.ID)
	if err != nil || len(all) != 2 || all[0].ID != parent.ID {
		t.Fatalf("SubjectAssets = %v, %v", all, err)
	}
	kids, err := s.DerivedAssets(ctx, parent.ID)
	if err != nil || len(kids) != 1 || kids[0].ID != child.ID {
		t.Fatalf("DerivedAssets = %v, %v", kids, err)
	}
	if _, err := s.Asset(ctx, "ast_nope"); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("absent asset: %v", err)
	}
	changed, err := s.AssetsChangedSince(ctx, t0.Add(time.Second))
	if err != nil || len(changed) != 1 || changed[0].ID != child.ID {
		t.Fatalf("AssetsChangedSince = %v, %v", changed, err)
	}
	n := 0
	s.ForEachAsset(ctx, func(*likeness.Asset) error { n++; return nil })
	if n != 2 {
		t.Fatalf("ForEachAsset saw %d", n)
	}
}

func testAssetErasure(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "a")
	a := newAsset(sub.ID, "p", "", t0)
	if err := s.InsertAsset(ctx, a); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	for range 2 {
		if err := s.MarkAssetErased(ctx, a.ID, at, "erased_on_request"); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Asset(ctx, a.ID)
	if !got.Erased() || !got.ErasedAt.Equal(at) || got.ErasedReason != "erased_on_request" || got.SHA256 != "" || got.OriginalSHA256 != "" {
		t.Fatalf("erased asset = %+v", got)
	}
	changed, _ := s.AssetsChangedSince(ctx, at)
	if len(changed) != 1 || !changed[0].Erased() {
		t.Fatalf("an erasure is a change replicas must see: %v", changed)
	}
	ds, err := s.ClaimDeliveries(ctx, "t", at.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Message.Type != likeness.MsgAssetErased {
		t.Fatalf("outbox after erasing twice: %d messages, want one asset.erased", len(ds))
	}
}

func testExpiredAssets(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "a")
	old, fresh := newAsset(sub.ID, "p", "", t0), newAsset(sub.ID, "p", "", t0.Add(60*24*time.Hour))
	for _, a := range []*likeness.Asset{old, fresh} {
		s.InsertAsset(ctx, a)
	}
	now := t0.Add(100 * 24 * time.Hour)
	exp, err := s.ExpiredAssets(ctx, now, 10)
	if err != nil || len(exp) != 1 || exp[0].ID != old.ID {
		t.Fatalf("ExpiredAssets = %v, %v", exp, err)
	}
	s.MarkAssetErased(ctx, old.ID, now, "retention_expired")
	if exp, _ := s.ExpiredAssets(ctx, now, 10); len(exp) != 0 {
		t.Fatalf("an erased asset is still listed as expired")
	}
	ds, _ := s.ClaimDeliveries(ctx, "t", now.Add(time.Hour), 10)
	if len(ds) != 1 || ds[0].Message.Type != likeness.MsgAssetExpired {
		t.Fatalf("retention erasure should enqueue asset.expired, got %v", ds)
	}
}

func testAccessLog(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	for i, allow := range []bool{true, false, true} {
		if err := s.AppendAccess(ctx, &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: t0.Add(time.Duration(i) * time.Minute),
			Action: "content", KeyID: "key_p", Role: likeness.RolePipeline, SubjectID: "sub_a", AssetID: "ast_1",
			Purpose: "p", Allow: allow, Reasons: map[bool][]string{false: {"withdrawn", "expired"}}[allow]}); err != nil {
			t.Fatal(err)
		}
	}
	log, err := s.SubjectAccessLog(ctx, "sub_a", 2)
	if err != nil || len(log) != 2 || !log[0].Time.After(log[1].Time) || log[1].Allow || len(log[1].Reasons) != 2 {
		t.Fatalf("SubjectAccessLog = %+v, %v", log, err)
	}
	if other, _ := s.SubjectAccessLog(ctx, "sub_b", 10); len(other) != 0 {
		t.Fatal("another subject's log is not empty")
	}
	s.AppendAccess(ctx, &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: t0.Add(time.Hour), Action: "POST /v1/apikeys",
		KeyID: "key_admin", Role: likeness.RoleAdmin, Allow: true})
	recent, err := s.RecentAccess(ctx, 10)
	if err != nil || len(recent) != 4 || recent[0].Action != "POST /v1/apikeys" || recent[0].SubjectID != "" {
		t.Fatalf("RecentAccess = %+v, %v", recent, err)
	}
}

func testErasureRecord(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "a")
	rec, err := s.BeginErasure(ctx, sub.ID, t0)
	if err != nil || rec.LedgerIndex != -1 || !rec.CompletedAt.IsZero() {
		t.Fatalf("BeginErasure = %+v, %v", rec, err)
	}
	again, _ := s.BeginErasure(ctx, sub.ID, t0.Add(time.Hour))
	if !again.RequestedAt.Equal(t0) {
		t.Fatal("a second BeginErasure replaced the first request")
	}
	if err := s.SetErasureLedgerIndex(ctx, sub.ID, 7); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PendingErasures(ctx); len(p) != 1 || p[0].LedgerIndex != 7 {
		t.Fatalf("PendingErasures = %v", p)
	}
	for range 2 {
		if err := s.DestroySubjectKey(ctx, sub.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SubjectKey(ctx, sub.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("key after destruction: %v", err)
	}
	for range 2 {
		if err := s.FinishErasure(ctx, sub.ID, t0.Add(time.Minute), []byte("cert")); err != nil {
			t.Fatal(err)
		}
	}
	done, _ := s.Erasure(ctx, sub.ID)
	got, _ := s.Subject(ctx, sub.ID)
	if string(done.Certificate) != "cert" || done.CompletedAt.IsZero() || !got.Erased() || got.ExternalHash == "h-a" {
		t.Fatalf("after FinishErasure: %+v, subject %+v", done, got)
	}
	if p, _ := s.PendingErasures(ctx); len(p) != 0 {
		t.Fatal("a finished erasure is still pending")
	}
	ds, _ := s.ClaimDeliveries(ctx, "t", t0.Add(time.Hour), 10)
	if len(ds) != 1 || ds[0].Message.Type != likeness.MsgSubjectErased {
		t.Fatalf("finishing twice should enqueue one subject.erased, got %d", len(ds))
	}
}

// testErasureFence: once a subject's erasure has begun, AppendEvents refuses
// every event about them (410) except the erasure's own, alone or inside a
// group commit, and other subjects' appends in the same group still land.
func testErasureFence(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	gone, other := NewSubject(t, s, "gone"), NewSubject(t, s, "other")
	grant := func(sub string) *likeness.ConsentEvent {
		return &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub, Purpose: "p", Type: likeness.Grant, Method: likeness.Checkbox, Time: t0}
	}
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{grant(gone.ID)}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginErasure(ctx, gone.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{grant(gone.ID)}, ledgerlog.LeafHash); likeness.ErrorCode(err) != likeness.EGONE {
		t.Fatalf("grant after the erasure began: %v, want gone", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			sub := other.ID
			if i%2 == 0 {
				sub = gone.ID
			}
			errs[i] = s.AppendEvents(ctx, []*likeness.ConsentEvent{grant(sub)}, ledgerlog.LeafHash)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := map[bool]string{true: likeness.EGONE, false: ""}[i%2 == 0]; likeness.ErrorCode(err) != want {
			t.Fatalf("concurrent append %d: %v, want %q", i, err, want)
		}
	}
	erasure := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: gone.ID, Type: likeness.Erasure, Time: t0}
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{erasure}, ledgerlog.LeafHash); err != nil {
		t.Fatalf("the erasure's own event was refused: %v", err)
	}
	evs, _ := s.SubjectEvents(ctx, gone.ID)
	if len(evs) != 2 || evs[len(evs)-1].Type != likeness.Erasure {
		t.Fatalf("ledger of the erased subject: %d events, last %v; want the grant then the erasure", len(evs), evs[len(evs)-1].Type)
	}
}
