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
	open := "/console/assets/" + a.ID + "/content"

	if p := f.client().signedIn(likeness.RoleAuditor).Get("/console/datasets/" + v.ID + "/reviews"); strings.Contains(p.Body, open) {
		t.Error("an auditor is offered to open the held item")
	}
	c := f.client().signedIn(likeness.RoleAdmin)
	p := c.Get("/console/datasets/" + v.ID + "/reviews")
	contains(t, p, `action="`+open+`"`, "dataset review: no face was found")
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
