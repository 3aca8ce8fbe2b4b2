package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"likeness"
)

func init() {
	tests = append(tests,
		Test{"DatasetReviewsRoundTripInItemOrder", testReviewRoundTrip},
		Test{"DatasetReviewIsDecidedOnce", testReviewDecidedOnce},
		Test{"AnAssetIsReviewedOncePerPurpose", testReviewLatestDecision},
		Test{"DatasetCardIsWrittenOnce", testDatasetCardOnce},
	)
}

func reviewStore(t *testing.T, s likeness.Store) (likeness.DatasetStore, likeness.DatasetReviewStore) {
	t.Helper()
	return s, s
}

// reviewed stores a dataset with pending reviews of the given assets.
func reviewed(t *testing.T, ds likeness.DatasetStore, rs likeness.DatasetReviewStore, assets ...string) (*likeness.Dataset, []*likeness.DatasetReview) {
	t.Helper()
	ctx := context.Background()
	d := newDataset("ai-training", 1, "")
	if err := ds.InsertDataset(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	var out []*likeness.DatasetReview
	for i, a := range assets {
		out = append(out, &likeness.DatasetReview{DatasetID: d.ID, ItemID: string(rune('f'-i)) + "0", AssetID: a, Purpose: d.Purpose,
			Category: "image", Reason: "no face found", State: likeness.ReviewPending, CreatedAt: t0})
	}
	if err := rs.InsertDatasetReviews(ctx, out); err != nil {
		t.Fatal(err)
	}
	return d, out
}

func testReviewRoundTrip(t *testing.T, s likeness.Store) {
	ds, rs := reviewStore(t, s)
	ctx := context.Background()
	d, in := reviewed(t, ds, rs, "ast_1", "ast_2")
	got, err := rs.DatasetReviews(ctx, d.ID)
	if err != nil || len(got) != 2 {
		t.Fatalf("DatasetReviews = %v, %v", got, err)
	}
	if *got[0] != *in[1] || *got[1] != *in[0] {
		t.Errorf("DatasetReviews = %+v %+v, want item order of %+v %+v", got[0], got[1], in[1], in[0])
	}
	if none, err := rs.DatasetReviews(ctx, likeness.NewID("dst")); err != nil || none == nil || len(none) != 0 {
		t.Errorf("DatasetReviews(unknown) = %v, %v; want an empty list", none, err)
	}
	if err := rs.InsertDatasetReviews(ctx, nil); err != nil {
		t.Errorf("InsertDatasetReviews(nil) = %v", err)
	}
}

func testReviewDecidedOnce(t *testing.T, s likeness.Store) {
	ds, rs := reviewStore(t, s)
	ctx := context.Background()
	d, in := reviewed(t, ds, rs, "ast_1")
	at := t0.Add(time.Hour)
	r, err := rs.DecideDatasetReview(ctx, d.ID, in[0].ItemID, likeness.ReviewApproved, "key_admin", "a landscape, no one in it", at)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != likeness.ReviewApproved || r.DecidedBy != "key_admin" || !r.DecidedAt.Equal(at) || r.Note != "a landscape, no one in it" {
		t.Errorf("decided review = %+v", r)
	}
	_, err = rs.DecideDatasetReview(ctx, d.ID, in[0].ItemID, likeness.ReviewExcluded, "key_other", "", at)
	if likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Errorf("second decision err = %v, want conflict", err)
	}
	if got, _ := rs.DatasetReviews(ctx, d.ID); got[0].State != likeness.ReviewApproved {
		t.Errorf("the second decision changed the first: %+v", got[0])
	}
	_, err = rs.DecideDatasetReview(ctx, d.ID, "ffff", likeness.ReviewExcluded, "key_admin", "", at)
	if likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Errorf("unknown item err = %v, want not_found", err)
	}
}

func testReviewLatestDecision(t *testing.T, s likeness.Store) {
	ds, rs := reviewStore(t, s)
	ctx := context.Background()
	d1, r1 := reviewed(t, ds, rs, "ast_1", "ast_2")
	d2, r2 := reviewed(t, ds, rs, "ast_1")
	if _, err := rs.DecideDatasetReview(ctx, d2.ID, r2[0].ItemID, likeness.ReviewExcluded, "key_admin", "a child's face", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The same asset held by the other dataset is decided with it: a
	// later decision there cannot overturn the exclusion.
	_, err := rs.DecideDatasetReview(ctx, d1.ID, r1[0].ItemID, likeness.ReviewApproved, "key_other", "looks fine", t0.Add(3*time.Hour))
	if likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Errorf("approving the asset in another dataset after its exclusion: err = %v, want conflict", err)
	}
	held, _ := rs.DatasetReviews(ctx, d1.ID)
	for _, r := range held {
		switch r.AssetID {
		case "ast_1":
			if r.State != likeness.ReviewExcluded || r.DecidedBy != "key_admin" || !strings.Contains(r.Note, d2.ID) || !strings.Contains(r.Note, "a child's face") {
				t.Errorf("the other dataset's review of the same asset = %+v; want excluded with it, saying where", r)
			}
		case "ast_2":
			if r.State != likeness.ReviewPending {
				t.Errorf("another asset's review was decided too: %+v", r)
			}
		}
	}
	got, err := rs.AssetReviewDecisions(ctx, "ai-training")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["ast_1"] == nil || got["ast_1"].State != likeness.ReviewExcluded {
		t.Errorf("decisions = %v; want ast_1 excluded and pending ast_2 absent", got)
	}
	if other, err := rs.AssetReviewDecisions(ctx, "marketing"); err != nil || len(other) != 0 {
		t.Errorf("decisions of another purpose = %v, %v", other, err)
	}
}

func testDatasetCardOnce(t *testing.T, s likeness.Store) {
	ds, rs := reviewStore(t, s)
	ctx := context.Background()
	d, _ := reviewed(t, ds, rs)
	if _, err := rs.DatasetCard(ctx, d.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("DatasetCard before Put err = %v, want not_found", err)
	}
	if err := rs.PutDatasetCard(ctx, d.ID, []byte(`{"items":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := rs.PutDatasetCard(ctx, d.ID, []byte(`{"items":3}`)); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Errorf("second PutDatasetCard err = %v, want conflict", err)
	}
	if got, err := rs.DatasetCard(ctx, d.ID); err != nil || string(got) != `{"items":2}` {
		t.Errorf("DatasetCard = %s, %v", got, err)
	}
}
