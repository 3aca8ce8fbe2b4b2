package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"likeness"
)

func init() {
	tests = append(tests,
		Test{"DatasetRoundTripWithMembers", testDatasetRoundTrip},
		Test{"DatasetTaintIsOnceAndEnqueuesMessage", testDatasetTaint},
		Test{"AnAssetErasedOnItsOwnTaintsWhatHeldIt", testDatasetTaintByAsset},
		Test{"DatasetSuccessorIsLinkedOnce", testDatasetSuccessor},
		Test{"ModelsNeedTheirDataset", testDatasetModels},
		Test{"SubjectAttributesReplace", testSubjectAttributes},
		Test{"DatasetKeysRewrap", testDatasetRewrap},
	)
}

func newDataset(purpose string, version int, pred string) *likeness.Dataset {
	return &likeness.Dataset{ID: likeness.NewID("dst"), Version: version, Status: likeness.DatasetReady, Purpose: purpose,
		Categories: []string{"image", "voice"}, Recipient: "acme-ml",
		Profile:   likeness.DatasetProfile{Name: "policy", Faces: "blur_all", Voice: "mcadams", K: 5},
		ItemCount: 2, SubjectCount: 2, Skipped: map[string]int{"not_anonymizable": 1}, ManifestSHA256: "ab12",
		CreatedAt: t0, CreatedBy: "key_x", PredecessorID: pred, WrappedKey: []byte("wrapped")}
}

func members(dsID string, subs ...string) []*likeness.DatasetMember {
	var out []*likeness.DatasetMember
	for i, s := range subs {
		out = append(out, &likeness.DatasetMember{DatasetID: dsID, ItemID: string(rune('a'+i)) + "0f", AssetID: likeness.NewID("ast"),
			SubjectID: s, Category: "image", ConsentEventID: likeness.NewID("evt")})
	}
	return out
}

func testDatasetRoundTrip(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	d := newDataset("ai-training", 1, "")
	ms := members(d.ID, "sub_a", "sub_b")
	if err := s.InsertDataset(ctx, d, ms); err != nil {
		t.Fatal(err)
	}
	got, err := s.Dataset(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(d)
	b, _ := json.Marshal(got)
	if string(a) != string(b) || string(got.WrappedKey) != "wrapped" {
		t.Fatalf("Dataset = %s\nwant %s", b, a)
	}
	gm, err := s.DatasetMembers(ctx, d.ID)
	if err != nil || len(gm) != 2 || *gm[0] != *ms[0] || *gm[1] != *ms[1] {
		t.Fatalf("DatasetMembers = %v, %v", gm, err)
	}
	if _, err := s.Dataset(ctx, likeness.NewID("dst")); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("Dataset(unknown) err = %v, want not_found", err)
	}
	sd, err := s.SubjectDatasets(ctx, "sub_b")
	if err != nil || len(sd) != 1 || sd[0].ID != d.ID {
		t.Fatalf("SubjectDatasets = %v, %v", sd, err)
	}
	if sd, _ := s.SubjectDatasets(ctx, "sub_c"); len(sd) != 0 {
		t.Fatalf("SubjectDatasets(non-member) = %v", sd)
	}
	all, err := s.Datasets(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("Datasets = %v, %v", all, err)
	}
}

func testDatasetTaint(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	d1 := newDataset("ai-training", 1, "")
	d2 := newDataset("marketing", 1, "")
	if err := s.InsertDataset(ctx, d1, members(d1.ID, "sub_a", "sub_b")); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertDataset(ctx, d2, members(d2.ID, "sub_a")); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	got, err := s.TaintSubjectDatasets(ctx, "sub_a", "ai-training", likeness.TaintConsentWithdrawn, at)
	if err != nil || len(got) != 1 || got[0].ID != d1.ID {
		t.Fatalf("taint by purpose = %v, %v; want only %s", got, err, d1.ID)
	}
	r, _ := s.Dataset(ctx, d1.ID)
	if r.Status != likeness.DatasetTainted || r.TaintReason != likeness.TaintConsentWithdrawn || !r.TaintedAt.Equal(at) {
		t.Fatalf("after taint: %+v", r)
	}
	if r, _ := s.Dataset(ctx, d2.ID); r.Tainted() {
		t.Fatal("a dataset of another purpose was tainted")
	}
	// Erasure taints every purpose; the first taint stands.
	got, err = s.TaintSubjectDatasets(ctx, "sub_a", "", likeness.TaintSubjectErased, at.Add(time.Hour))
	if err != nil || len(got) != 1 || got[0].ID != d2.ID {
		t.Fatalf("taint on erasure = %v, %v; want only %s", got, err, d2.ID)
	}
	if r, _ := s.Dataset(ctx, d1.ID); r.TaintReason != likeness.TaintConsentWithdrawn || !r.TaintedAt.Equal(at) {
		t.Fatalf("first taint overwritten: %+v", r)
	}
	msgs, tainted := claimTainted(t, s, at.Add(24*time.Hour))
	for i, m := range msgs {
		if m.SubjectID != "" || slices.Contains(tainted[i].ItemIDs, "sub_a") {
			t.Fatalf("dataset.tainted names the subject: %+v", m)
		}
	}
	if len(tainted) != 2 || tainted[0].DatasetID != d1.ID || len(tainted[0].ItemIDs) != 1 || tainted[1].Reason != likeness.TaintSubjectErased {
		t.Fatalf("dataset.tainted messages = %+v", tainted)
	}
	// A second member leaving a dataset that is already tainted is still
	// reported downstream, with that member's items.
	got, err = s.TaintSubjectDatasets(ctx, "sub_b", "ai-training", likeness.TaintConsentWithdrawn, at.Add(2*time.Hour))
	if err != nil || len(got) != 0 {
		t.Fatalf("second member's taint changed %v datasets (%v); the dataset was already tainted", got, err)
	}
	more, err := s.ClaimDeliveries(ctx, "test", at.Add(24*time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(more) != 1 || more[0].Message.Type != likeness.MsgDatasetTainted {
		t.Fatalf("after the second member's withdrawal: %d new messages, want one dataset.tainted", len(more))
	}
	var second likeness.DatasetTaintedData
	json.Unmarshal(more[0].Message.Data, &second)
	if second.DatasetID != d1.ID || len(second.ItemIDs) != 1 || second.ItemIDs[0] == tainted[0].ItemIDs[0] {
		t.Fatalf("second member's message = %+v", second)
	}
}

func testDatasetSuccessor(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	d1 := newDataset("ai-training", 1, "")
	if err := s.InsertDataset(ctx, d1, nil); err != nil {
		t.Fatal(err)
	}
	d2 := newDataset("ai-training", 2, d1.ID)
	if err := s.InsertDataset(ctx, d2, members(d2.ID, "sub_x")); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Dataset(ctx, d1.ID); r.SuccessorID != d2.ID {
		t.Fatalf("predecessor's successor_id = %q, want %s", r.SuccessorID, d2.ID)
	}
	d3 := newDataset("ai-training", 2, d1.ID)
	if err := s.InsertDataset(ctx, d3, members(d3.ID, "sub_y")); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("second successor err = %v, want conflict", err)
	}
	if _, err := s.Dataset(ctx, d3.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("refused successor was stored: %v", err)
	}
	if sd, _ := s.SubjectDatasets(ctx, "sub_y"); len(sd) != 0 {
		t.Fatalf("members of a refused successor were stored: %v", sd)
	}
}

func testDatasetModels(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	d := newDataset("ai-training", 1, "")
	if err := s.InsertDataset(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	m := &likeness.Model{ID: likeness.NewID("mdl"), Name: "voice-v1", DatasetID: d.ID, CreatedAt: t0, CreatedBy: "key_x"}
	if err := s.InsertModel(ctx, m); err != nil {
		t.Fatal(err)
	}
	bad := &likeness.Model{ID: likeness.NewID("mdl"), Name: "x", DatasetID: likeness.NewID("dst"), CreatedAt: t0}
	if err := s.InsertModel(ctx, bad); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("model on unknown dataset err = %v, want not_found", err)
	}
	ms, err := s.DatasetModels(ctx, d.ID)
	if err != nil || len(ms) != 1 || *ms[0] != *m {
		t.Fatalf("DatasetModels = %v, %v", ms, err)
	}
}

func testSubjectAttributes(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	if _, err := s.SubjectAttributes(ctx, "sub_a", "ai-training"); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("absent attributes err = %v", err)
	}
	for _, v := range []string{"one", "two"} {
		if err := s.PutSubjectAttributes(ctx, "sub_a", "ai-training", []byte(v), t0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.SubjectAttributes(ctx, "sub_a", "ai-training")
	if err != nil || string(got) != "two" {
		t.Fatalf("SubjectAttributes = %q, %v", got, err)
	}
}

func testDatasetRewrap(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	d := newDataset("ai-training", 1, "")
	if err := s.InsertDataset(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	n, err := s.RewrapDatasetKeys(ctx, func(id string, w []byte) ([]byte, error) {
		if id != d.ID {
			t.Fatalf("rewrap called for %s", id)
		}
		return append([]byte("v2:"), w...), nil
	})
	if err != nil || n != 1 {
		t.Fatalf("RewrapDatasetKeys = %d, %v", n, err)
	}
	got, err := s.Dataset(ctx, d.ID)
	if err != nil || string(got.WrappedKey) != "v2:wrapped" {
		t.Fatalf("wrapped key after rewrap: %q %v", got.WrappedKey, err)
	}
}

func testDatasetTaintByAsset(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	d1, d2, d3 := newDataset("ai-training", 1, ""), newDataset("marketing", 1, ""), newDataset("ai-training", 1, "")
	m1 := members(d1.ID, "sub_a", "sub_b")
	m2 := members(d2.ID, "sub_a")
	m2[0].AssetID = m1[0].AssetID // the same photo, in a dataset of another purpose
	for _, c := range []struct {
		d  *likeness.Dataset
		ms []*likeness.DatasetMember
	}{{d1, m1}, {d2, m2}, {d3, members(d3.ID, "sub_a")}} {
		if err := s.InsertDataset(ctx, c.d, c.ms); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(time.Hour)
	got, err := s.TaintAssetDatasets(ctx, m1[0].AssetID, likeness.TaintAssetErased, at)
	if err != nil || len(got) != 2 {
		t.Fatalf("TaintAssetDatasets = %v, %v; want the two datasets holding the asset", got, err)
	}
	for _, id := range []string{d1.ID, d2.ID} {
		if r, _ := s.Dataset(ctx, id); r.Status != likeness.DatasetTainted || r.TaintReason != likeness.TaintAssetErased || !r.TaintedAt.Equal(at) {
			t.Errorf("a dataset holding the asset after its erasure: %+v", r)
		}
	}
	if r, _ := s.Dataset(ctx, d3.ID); r.Tainted() {
		t.Error("a dataset holding another asset of the same person was tainted")
	}
	msgs, tainted := claimTainted(t, s, at.Add(24*time.Hour))
	for i, data := range tainted {
		if data.DatasetID == d1.ID && (len(data.ItemIDs) != 1 || data.ItemIDs[0] != m1[0].ItemID) {
			t.Errorf("the message lists items %v, want only the erased asset's %s", data.ItemIDs, m1[0].ItemID)
		}
		if msgs[i].SubjectID != "" || strings.Contains(string(msgs[i].Data), m1[0].AssetID) {
			t.Errorf("dataset.tainted names the subject or the asset: %+v", msgs[i])
		}
	}
	if len(tainted) != 2 {
		t.Errorf("%d dataset.tainted messages, want 2", len(tainted))
	}
	if again, err := s.TaintAssetDatasets(ctx, m1[0].AssetID, likeness.TaintAssetErased, at.Add(time.Hour)); err != nil || len(again) != 0 {
		t.Errorf("tainting again = %v, %v; want nothing newly tainted", again, err)
	}
}

// claimTainted claims the outbox's deliveries due by at and returns its
// dataset.tainted messages, with their data decoded.
func claimTainted(t *testing.T, s likeness.Store, at time.Time) ([]*likeness.OutboxMessage, []likeness.DatasetTaintedData) {
	t.Helper()
	ds, err := s.ClaimDeliveries(context.Background(), "test", at, 100)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*likeness.OutboxMessage
	var data []likeness.DatasetTaintedData
	for _, d := range ds {
		if d.Message.Type != likeness.MsgDatasetTainted {
			continue
		}
		var v likeness.DatasetTaintedData
		if err := json.Unmarshal(d.Message.Data, &v); err != nil {
			t.Fatal(err)
		}
		msgs, data = append(msgs, d.Message), append(data, v)
	}
	return msgs, data
}
