package console_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"net/url"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/dataset"
	"likeness/internal/vault"
)

// The review page lets whoever may read content open the held picture, with
// a reason that goes into the person's access log, before deciding it.
func TestAReviewerOpensTheHeldItemWithAReason(t *testing.T) {
	f := newFixture(t)
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_pipe", Role: likeness.RolePipeline})
	sub, a, pic, v := f.heldItem(ctx)
	open := "/console/assets/" + a.ID + "/content"

	if p := f.client().signedIn(likeness.RoleAuditor).Get("/console/datasets/" + v.ID + "/reviews"); strings.Contains(p.Body, open) {
		t.Error("an auditor is offered to open the held item")
	}
	c := f.client().signedIn(likeness.RoleAdmin)
	p := c.Get("/console/datasets/" + v.ID + "/reviews")
	contains(t, p, `action="`+open+`"`, `placeholder="dataset review: no face was found"`)
	if strings.Contains(p.Body, `value="dataset review`) {
		t.Error("the reason for opening the item is filled in: whoever opens media must type why")
	}
	if got := c.Post(open, url.Values{"csrf": {csrfOf(t, p)}, "reason": {""}}); got.Status != 400 {
		t.Errorf("opening the held item without a reason: %d, want 400", got.Status)
	}
	got := c.Post(open, url.Values{"csrf": {csrfOf(t, p)}, "reason": {"dataset review: no face was found"}})
	if got.Status != 200 || !bytes.Equal(got.Raw, pic.Bytes()) {
		t.Fatalf("opening the held item: %d, %d bytes (want the %d uploaded)", got.Status, len(got.Raw), pic.Len())
	}
	log, err := f.d.Vault.AccessLog(ctx, sub, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range log {
		found = found || e.AssetID == a.ID && e.Allow && e.Reason == "dataset review: no face was found"
	}
	if !found {
		t.Errorf("the person's access log does not say the reviewer looked: %+v", log)
	}
}

// heldItem builds a strict dataset of one faceless photograph of a new
// person, which goes to review, and returns the person, the asset, its
// bytes and the dataset.
func (f *fixture) heldItem(ctx context.Context) (string, *likeness.Asset, bytes.Buffer, *dataset.View) {
	t := f.t
	t.Helper()
	sub := f.d.Subject(t, "faceless", "EU-DE")
	f.d.Grant(t, sub, "ai-training")
	grey := image.NewGray(image.Rect(0, 0, 64, 48))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i)
	}
	var pic bytes.Buffer
	if err := jpeg.Encode(&pic, grey, nil); err != nil {
		t.Fatal(err)
	}
	a, err := f.d.Vault.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "image", ContentType: "image/jpeg",
		Body: bytes.NewReader(pic.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.ds.Build(ctx, &dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Profile: "strict"})
	if err != nil || v.Skipped["sent_to_review"] != 1 {
		t.Fatalf("build: %+v, %v", v, err)
	}
	return sub, a, pic, v
}

// A named operator's decision on a held item says who decided, in the
// review and in the audit log: the console signs in people, not keys.
func TestAnOperatorsReviewDecisionNamesThem(t *testing.T) {
	f := newOperatorFixture(t, "")
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_pipe", Role: likeness.RolePipeline})
	_, _, _, v := f.fixture.heldItem(ctx)
	f.create("olga", likeness.OperatorAdmin, true)
	c := f.fixture.client()
	if p := c.operatorLogin("olga", operatorPassword, f.code("olga")); p.Status != 200 {
		t.Fatalf("sign-in: %d\n%s", p.Status, p.Body)
	}
	held, err := f.ds.Reviews(ctx, v.ID)
	if err != nil || len(held) != 1 {
		t.Fatalf("held items: %+v, %v", held, err)
	}
	page := c.Get("/console/datasets/" + v.ID + "/reviews")
	p := c.Post("/console/datasets/"+v.ID+"/reviews/"+held[0].ItemID, url.Values{"csrf": {csrfOf(t, page)},
		"decision": {"approve"}, "reason": {"a landscape: no person in it"}})
	if p.Status != 200 {
		t.Fatalf("decision: %d\n%s", p.Status, p.Body)
	}
	after, err := f.ds.Reviews(ctx, v.ID)
	if err != nil || len(after) != 1 || after[0].State != likeness.ReviewApproved || after[0].DecidedBy != "operator:olga" {
		t.Fatalf("after the decision: %+v, %v; want approved by operator:olga", after, err)
	}
	entries, err := f.d.Store.RecentAccess(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		found = found || strings.HasPrefix(e.Action, "console: dataset review ") && e.Operator == "olga"
	}
	if !found {
		t.Errorf("no audit entry of the decision names olga: %+v", entries)
	}
	// The console's audit log page says so too.
	if p := c.Get("/console/audit"); !strings.Contains(p.Body, "<td>olga <span") {
		t.Errorf("the audit log page does not name olga:\n%s", p.Body)
	}
}
