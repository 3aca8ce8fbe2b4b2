package dataset_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/dataset"
	"likeness/internal/likenesstest"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
	"likeness/internal/vault"
	"likeness/policy"
)

// bothStores names the databases a test runs on, each as the DSN it
// opens ("" for SQLite in the test's folder; PostgreSQL skips without
// LIKENESS_TEST_POSTGRES_URL).
var bothStores = map[string]func(t *testing.T) string{
	"sqlite":   func(*testing.T) string { return "" },
	"postgres": func(t *testing.T) string { return storetest.Postgres(t) },
}

// fixture is a deployment on a real database, vault and engine.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *sqlstore.DB
	d     *likenesstest.Deployment
	svc   *consent.Service
	vault *vault.Vault
	ds    *dataset.Service
	clock *likenesstest.Clock
	out   string
	// everything that identifies a person or a record inside the vault
	raw map[string][]string // subject id → its ids (subject, external, assets, events)
}

func newFixture(t *testing.T, dsn string, p *policy.Policy) *fixture {
	t.Helper()
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_test", Role: likeness.RoleAdmin})
	d := likenesstest.New(t, likenesstest.Options{DSN: dsn, Policy: p})
	f := &fixture{t: t, ctx: ctx, d: d, store: d.Store, clock: d.Clock, out: filepath.Join(d.Dir, "out"), raw: map[string][]string{},
		svc: d.Consent, vault: d.Vault, ds: d.Datasets}
	return f
}

// asRecorded is the example policy with ai-training declaring its media
// used as recorded (with a reason), for the tests of selection and lineage
// whose small synthetic images hold no face.
func asRecorded() *policy.Policy {
	p := policy.Example()
	p.Purposes["ai-training"].Anonymization = &policy.Anonymization{Faces: "none", Voice: "none", K: 5,
		Reason: "tests of selection and lineage"}
	return p
}

// subject creates a subject who consents to purposes.
func (f *fixture) subject(ext string, purposes ...string) string {
	f.t.Helper()
	sub, _, err := f.d.Subjects.CreateSubject(f.ctx, ext, "en", "EU-DE")
	if err != nil {
		f.t.Fatal(err)
	}
	f.raw[sub.ID] = append(f.raw[sub.ID], sub.ID, ext, sub.ExternalHash)
	if len(purposes) > 0 {
		n, _ := f.d.Notices.Notice("en")
		evs, err := f.svc.Grant(f.ctx, &likeness.GrantRequest{SubjectID: sub.ID, Purposes: purposes, NoticeVersion: n.Version,
			NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"})
		if err != nil {
			f.t.Fatal(err)
		}
		for _, ev := range evs {
			f.raw[sub.ID] = append(f.raw[sub.ID], ev.ID)
		}
	}
	f.clock.Add(time.Second)
	return sub.ID
}

// twoPictures makes ann and ben, who consent to ai-training, each with a
// small faceless photograph collected for it, and returns them and ann's.
func (f *fixture) twoPictures() (ann, ben string, annPic *likeness.Asset) {
	f.t.Helper()
	ann, ben = f.subject("ann", "ai-training"), f.subject("ben", "ai-training")
	annPic = f.upload(ann, "ai-training", "image", "image/jpeg", testJPEG(f.t, 0))
	f.upload(ben, "ai-training", "image", "image/jpeg", testJPEG(f.t, 1))
	return ann, ben, annPic
}

func (f *fixture) upload(sub, purpose, category, ctype string, body []byte) *likeness.Asset {
	f.t.Helper()
	a, err := f.vault.Ingest(f.ctx, &vault.Upload{SubjectID: sub, Purpose: purpose, Category: category, ContentType: ctype,
		Body: bytes.NewReader(body)})
	if err != nil {
		f.t.Fatalf("ingest: %v", err)
	}
	f.raw[sub] = append(f.raw[sub], a.ID, a.ConsentEventID)
	return a
}

func (f *fixture) withdraw(sub, purpose string) *likeness.ConsentEvent {
	f.t.Helper()
	f.clock.Add(time.Minute)
	ev, err := f.svc.Withdraw(f.ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: purpose})
	if err != nil {
		f.t.Fatal(err)
	}
	f.raw[sub] = append(f.raw[sub], ev.ID)
	return ev
}

func (f *fixture) build(req *dataset.BuildRequest) *dataset.View {
	f.t.Helper()
	switch req.Out {
	case "":
		req.Out = f.out
	case "-":
		req.Out = "" // record only
	}
	v, err := f.ds.Build(f.ctx, req)
	if err != nil {
		f.t.Fatalf("build: %v", err)
	}
	return v
}

func (f *fixture) memberSubjects(id string) []string {
	f.t.Helper()
	ms, err := f.store.DatasetMembers(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	var subs []string
	for _, m := range ms {
		if !slices.Contains(subs, m.SubjectID) {
			subs = append(subs, m.SubjectID)
		}
	}
	slices.Sort(subs)
	return subs
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// testJPEG returns a small real JPEG whose colour depends on seed.
func testJPEG(t testing.TB, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 48, 40))
	for x := range 48 {
		for y := range 40 {
			img.Set(x, y, color.RGBA{uint8(x*5 + seed), uint8(y * 6), uint8(seed * 40), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readManifest(t *testing.T, dir string) []dataset.ManifestLine {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metadata.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dataset.ManifestLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l dataset.ManifestLine
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("manifest line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// noneOf fails if any file under dir contains any of the strings.
func noneOf(t *testing.T, dir string, ids []string) {
	t.Helper()
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id != "" && strings.Contains(path, id) {
				t.Errorf("file name %s contains the raw identifier %s", path, id)
			}
		}
		if info.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id != "" && bytes.Contains(b, []byte(id)) {
				t.Errorf("%s contains the raw identifier %s", path, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDatasetBuiltAfterWithdrawalNeverContainsThatSubject(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	a := f.subject("alice", "ai-training")
	b := f.subject("bob", "ai-training")
	c := f.subject("carol", "ai-training")
	for i, s := range []string{a, b, c} {
		f.upload(s, "ai-training", "image", "image/jpeg", testJPEG(t, i))
	}
	f.withdraw(b, "ai-training")
	v := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Recipient: "acme-ml"})
	if v.ItemCount != 2 || v.SubjectCount != 2 || v.Status != likeness.DatasetReady || v.Version != 1 {
		t.Fatalf("dataset = %+v", v.Dataset)
	}
	if got := f.memberSubjects(v.ID); !slices.Equal(got, sorted(a, c)) {
		t.Fatalf("members = %v, want %v", got, sorted(a, c))
	}
	noneOf(t, v.Path, f.raw[b])
	if lines := readManifest(t, v.Path); len(lines) != 2 {
		t.Fatalf("manifest has %d lines, want 2", len(lines))
	}
}

func TestDatasetBuiltBeforeWithdrawalIsTaintedAndItsSuccessorExcludesThem(t *testing.T) {
	for name, dsn := range bothStores {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t), asRecorded())
			a := f.subject("alice", "ai-training")
			b := f.subject("bob", "ai-training")
			for i, s := range []string{a, b} {
				f.upload(s, "ai-training", "image", "image/jpeg", testJPEG(t, i))
			}
			v1 := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}})
			if v1.ItemCount != 2 {
				t.Fatalf("v1 items = %d", v1.ItemCount)
			}
			m, err := f.ds.RegisterModel(f.ctx, "portrait-v1", v1.ID)
			if err != nil {
				t.Fatal(err)
			}
			ev := f.withdraw(b, "ai-training")
			got, err := f.ds.Get(f.ctx, v1.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != likeness.DatasetTainted || got.TaintReason != likeness.TaintConsentWithdrawn || !got.TaintedAt.Equal(ev.Time) {
				t.Fatalf("after withdrawal: status %q reason %q at %v; want tainted, consent_withdrawn, %v", got.Status, got.TaintReason, got.TaintedAt, ev.Time)
			}
			if len(got.ModelsToRetrain) != 1 || got.ModelsToRetrain[0].ID != m.ID {
				t.Fatalf("models to retrain = %+v, want %s", got.ModelsToRetrain, m.ID)
			}
			// dataset.tainted went to the outbox, naming items, not the person.
			dels, err := f.store.ClaimDeliveries(f.ctx, "test", f.clock.Now().Add(time.Hour), 100)
			if err != nil {
				t.Fatal(err)
			}
			var msg *likeness.OutboxMessage
			for _, d := range dels {
				if d.Message.Type == likeness.MsgDatasetTainted {
					msg = d.Message
				}
			}
			if msg == nil {
				t.Fatal("no dataset.tainted message in the outbox")
			}
			var data likeness.DatasetTaintedData
			json.Unmarshal(msg.Data, &data)
			if data.DatasetID != v1.ID || len(data.ItemIDs) != 1 || !slices.Equal(data.Models, []string{m.ID}) || bytes.Contains(msg.Data, []byte(b)) {
				t.Fatalf("dataset.tainted = %s", msg.Data)
			}

			v2, err := f.ds.Rebuild(f.ctx, v1.ID, f.out)
			if err != nil {
				t.Fatal(err)
			}
			if v2.Version != 2 || v2.PredecessorID != v1.ID || v2.ItemCount != 1 || v2.Status != likeness.DatasetReady {
				t.Fatalf("successor = %+v", v2.Dataset)
			}
			if got := f.memberSubjects(v2.ID); !slices.Equal(got, []string{a}) {
				t.Fatalf("successor members = %v, want only %s", got, a)
			}
			// The card read now says the version is tainted and names its
			// successor; the successor's does not.
			card, err := f.ds.Card(f.ctx, v1.ID)
			if err != nil {
				t.Fatal(err)
			}
			if card.Taint == nil || card.Taint.Reason != likeness.TaintConsentWithdrawn || !card.Taint.Since.Equal(ev.Time) || card.Taint.SuccessorID != v2.ID ||
				!strings.Contains(card.Markdown(), "**Tainted since") || !strings.Contains(card.Markdown(), "use its successor "+v2.ID) {
				t.Errorf("the tainted version's card: %+v\n%s", card.Taint, card.Markdown())
			}
			if card, err := f.ds.Card(f.ctx, v2.ID); err != nil || card.Taint != nil || strings.Contains(card.Markdown(), "Tainted") {
				t.Errorf("the successor's card says it is tainted: %+v, %v", card, err)
			}
			old, _ := f.ds.Get(f.ctx, v1.ID)
			if old.SuccessorID != v2.ID || old.Status != likeness.DatasetTainted {
				t.Fatalf("predecessor after rebuild = %+v", old.Dataset)
			}
			if _, err := f.ds.Rebuild(f.ctx, v1.ID, ""); likeness.ErrorCode(err) != likeness.ECONFLICT {
				t.Fatalf("second rebuild err = %v, want conflict", err)
			}
			noneOf(t, v2.Path, f.raw[b])
		})
	}
}

func TestErasureTaintsEveryDatasetHoldingTheSubject(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	a := f.subject("alice", "ai-training")
	b := f.subject("bob", "ai-training")
	for i, s := range []string{a, b} {
		f.upload(s, "ai-training", "image", "image/jpeg", testJPEG(t, i))
	}
	v := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}})
	f.clock.Add(time.Hour)
	if _, err := f.d.Erasure.EraseSubject(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	got, _ := f.ds.Get(f.ctx, v.ID)
	if got.Status != likeness.DatasetTainted || got.TaintReason != likeness.TaintSubjectErased || !got.TaintedAt.Equal(f.clock.Now()) {
		t.Fatalf("after erasure: %+v", got.Dataset)
	}
	v2, err := f.ds.Rebuild(f.ctx, v.ID, f.out)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.memberSubjects(v2.ID); !slices.Equal(got, []string{b}) {
		t.Fatalf("successor members = %v, want only %s", got, b)
	}
	// Like every API on an erased subject, the lineage answers gone.
	if _, err := f.ds.Lineage(f.ctx, a); likeness.ErrorCode(err) != likeness.EGONE {
		t.Fatalf("lineage of the erased subject: %v, want gone", err)
	}
}

func TestManifestHoldsNoRawIdentifierAndPseudonymsDoNotJoin(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	var subs []string
	for i, ext := range []string{"u-1", "u-2", "u-3"} {
		s := f.subject(ext, "ai-training")
		subs = append(subs, s)
		f.upload(s, "ai-training", "image", "image/jpeg", testJPEG(t, i))
		f.upload(s, "ai-training", "voice", "audio/wav", speech(t))
	}
	v1 := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image", "voice"}, Recipient: "gpu-cloud-us"})
	v2 := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image", "voice"}, Recipient: "gpu-cloud-us"})
	var all []string
	for _, s := range subs {
		all = append(all, f.raw[s]...)
	}
	ms, _ := f.store.DatasetMembers(f.ctx, v1.ID)
	for _, m := range ms {
		all = append(all, m.AssetID, m.SubjectID, m.ConsentEventID)
	}
	for _, v := range []*dataset.View{v1, v2} {
		noneOf(t, v.Path, all)
	}
	l1, l2 := readManifest(t, v1.Path), readManifest(t, v2.Path)
	if len(l1) != 6 || len(l2) != 6 {
		t.Fatalf("manifests hold %d and %d items, want 6", len(l1), len(l2))
	}
	for _, a := range l1 {
		for _, b := range l2 {
			if a.ItemID == b.ItemID || a.ConsentRef == b.ConsentRef {
				t.Fatalf("two datasets share pseudonym %s / %s", a.ItemID, a.ConsentRef)
			}
		}
		if len(a.ItemID) != 32 || a.FileName != "data/"+a.ItemID+map[string]string{"image": ".jpg", "voice": ".wav"}[a.Category] {
			t.Fatalf("manifest line %+v", a)
		}
		b, err := os.ReadFile(filepath.Join(v1.Path, a.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if sha(b) != a.SHA256 {
			t.Fatalf("%s: sha256 in manifest does not match the file", a.FileName)
		}
	}
	mb, _ := os.ReadFile(filepath.Join(v1.Path, "metadata.jsonl"))
	if sha(mb) != v1.ManifestSHA256 {
		t.Fatal("recorded manifest_sha256 does not match metadata.jsonl")
	}
	// Every read went through the vault, logged with the dataset's purpose and recipient.
	log, err := f.store.SubjectAccessLog(f.ctx, subs[0], 100)
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	for _, e := range log {
		if e.Action == "content" && e.Allow && e.Purpose == "ai-training" && e.Recipient == "gpu-cloud-us" {
			reads++
		}
	}
	if reads != 4 {
		t.Fatalf("access log holds %d dataset reads of the subject, want 4 (2 assets × 2 builds)", reads)
	}
}

func TestLineageListsDatasetsAndModels(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	a := f.subject("alice", "ai-training")
	outsider := f.subject("olga", "ai-training")
	f.upload(a, "ai-training", "image", "image/jpeg", testJPEG(t, 1))
	v := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Out: "-"})
	m, err := f.ds.RegisterModel(f.ctx, "headshots-2026", v.ID)
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.ds.Lineage(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Datasets) != 1 || l.Datasets[0].ID != v.ID || l.Datasets[0].Purpose != "ai-training" || len(l.Models) != 1 || l.Models[0].ID != m.ID {
		t.Fatalf("lineage = %+v", l)
	}
	if l, _ := f.ds.Lineage(f.ctx, outsider); len(l.Datasets) != 0 || len(l.Models) != 0 {
		t.Fatalf("lineage of a non-member = %+v", l)
	}
	if _, err := f.ds.Lineage(f.ctx, likeness.NewID("sub")); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("lineage of unknown subject err = %v", err)
	}
	if _, err := f.ds.RegisterModel(f.ctx, "x", likeness.NewID("dst")); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("model on unknown dataset err = %v", err)
	}
}

func TestBadBuildRequestsAreRefusedAndWriteNothing(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	a := f.subject("alice", "ai-training")
	f.upload(a, "ai-training", "image", "image/jpeg", testJPEG(t, 1))
	for _, c := range []struct {
		name string
		req  dataset.BuildRequest
	}{
		{"unknown purpose", dataset.BuildRequest{Purpose: "mind-reading", Categories: []string{"image"}}},
		{"category not in purpose", dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"video"}}},
		{"unknown category", dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"smell"}}},
		{"no category", dataset.BuildRequest{Purpose: "ai-training"}},
		{"undeclared recipient", dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Recipient: "adpartner-us"}},
		{"unknown profile", dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Profile: "lenient"}},
		{"template under strict", dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"biometric_template"}, Profile: "strict"}},
	} {
		c.req.Out = f.out
		if _, err := f.ds.Build(f.ctx, &c.req); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("%s: err = %v, want invalid", c.name, err)
		}
	}
	if _, err := f.ds.Get(f.ctx, likeness.NewID("dst")); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Errorf("unknown dataset err = %v", err)
	}
	if _, err := f.ds.Rebuild(f.ctx, "dst_nope", f.out); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Errorf("rebuild of unknown dataset err = %v", err)
	}
	all, _ := f.store.Datasets(f.ctx)
	if len(all) != 0 {
		t.Errorf("refused builds stored %d datasets", len(all))
	}
	if entries, err := os.ReadDir(f.out); err == nil && len(entries) > 0 {
		t.Errorf("refused builds wrote %d entries into the output folder", len(entries))
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func speech(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../anonymize/testdata/speech.wav")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDatasetMediaAreAnonymizedUnderThePurposeProfile(t *testing.T) {
	f := newFixture(t, "", policy.Default()) // ai-training: faces blur_bystanders, voice mcadams, k 5
	s := f.subject("portrait", "ai-training")
	face, err := os.ReadFile("../anonymize/testdata/face.jpg")
	if err != nil {
		t.Fatal(err)
	}
	// A photograph of a group (see internal/anonymize/NOTICE), where the
	// search's second look finds faces: it must ship blurred too, not be
	// held for review.
	group, err := os.ReadFile("../anonymize/testdata/groups/sample3.jpg")
	if err != nil {
		t.Fatal(err)
	}
	img := f.upload(s, "ai-training", "image", "image/jpeg", face)
	groupImg := f.upload(s, "ai-training", "image", "image/jpeg", group)
	voice := f.upload(s, "ai-training", "voice", "audio/wav", speech(t))
	v := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image", "voice"}, Profile: "strict"})
	if v.Profile.Faces != "blur_all" || v.Profile.Voice != "mcadams" || v.ItemCount != 3 {
		t.Fatalf("dataset = %+v", v.Dataset)
	}
	for _, l := range readManifest(t, v.Path) {
		b, _ := os.ReadFile(filepath.Join(v.Path, l.FileName))
		switch l.Category {
		case "image":
			if l.SHA256 == img.SHA256 || l.SHA256 == groupImg.SHA256 || l.MediaType != "image/jpeg" ||
				!strings.HasPrefix(l.Anonymization, "blurred ") {
				t.Errorf("image item %+v was not re-encoded with blurred faces", l)
			}
		case "voice":
			if l.SHA256 == voice.SHA256 || len(b) != int(voice.Size) {
				t.Errorf("voice item %+v: %d bytes, stored %d; want anonymized with the same duration", l, len(b), voice.Size)
			}
		}
	}
}

// A photo erased on its own, on request or past its retention, taints every
// dataset that holds it, as a withdrawal does, and the successor leaves it
// out.
func TestAnAssetErasedOnItsOwnTaintsTheDatasetsHoldingIt(t *testing.T) {
	for name, dsn := range bothStores {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t), asRecorded())
			ann, _, annPic := f.twoPictures()
			v1 := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}})
			if v1.ItemCount != 2 {
				t.Fatalf("built %d items, want 2", v1.ItemCount)
			}
			if _, err := f.vault.EraseAsset(f.ctx, annPic.ID, vault.ErasedOnRequest); err != nil {
				t.Fatal(err)
			}
			got, err := f.ds.Get(f.ctx, v1.ID)
			if err != nil || got.Status != likeness.DatasetTainted || got.TaintReason != likeness.TaintAssetErased {
				t.Fatalf("after the photo's erasure: %+v, %v; want tainted, asset_erased", got.Dataset, err)
			}
			v2, err := f.ds.Rebuild(f.ctx, v1.ID, f.out)
			if err != nil {
				t.Fatal(err)
			}
			if v2.ItemCount != 1 || slices.Contains(f.memberSubjects(v2.ID), ann) {
				t.Errorf("the successor holds %d items (ann among them: %v), want ben's alone", v2.ItemCount, slices.Contains(f.memberSubjects(v2.ID), ann))
			}
			// Past its retention: the sweep erases ben's photo, and the
			// successor holding it is tainted in turn.
			f.clock.Add(20 * 365 * 24 * time.Hour)
			if n, err := f.vault.SweepExpired(f.ctx, 100); err != nil || n == 0 {
				t.Fatalf("retention sweep erased %d, %v", n, err)
			}
			if got, _ := f.ds.Get(f.ctx, v2.ID); got.Status != likeness.DatasetTainted || got.TaintReason != likeness.TaintAssetExpired {
				t.Errorf("after the retention sweep: %+v; want tainted, asset_expired", got.Dataset)
			}
		})
	}
}

// A first build that selects nothing records nothing and says why; an
// empty successor (everyone withdrew) is still recorded, and says it is
// empty.
func TestABuildOfNothingRecordsNothingAndSaysWhy(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	ann := f.subject("ann", "marketing-personalization") // consents, but not to ai-training
	_, err := f.ds.Build(f.ctx, &dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Recipient: "acme-ml", Out: f.out})
	if likeness.ErrorCode(err) != likeness.EUNPROCESSABLE || !strings.Contains(err.Error(), "no live image asset was collected for purpose ai-training") {
		t.Fatalf("a build of nothing: %v; want unprocessable, saying no asset was collected", err)
	}
	// Ann's picture for marketing may not go to a recipient the policy
	// allows no transfer to: the error says so, not that she gave no consent.
	f.upload(ann, "marketing-personalization", "image", "image/jpeg", testJPEG(t, 1))
	_, err = f.ds.Build(f.ctx, &dataset.BuildRequest{Purpose: "marketing-personalization", Categories: []string{"image"}, Recipient: "adpartner-us", Out: f.out})
	if likeness.ErrorCode(err) != likeness.EUNPROCESSABLE || !strings.Contains(err.Error(), "for recipient adpartner-us") ||
		!strings.Contains(err.Error(), "transfer_not_permitted (1)") {
		t.Fatalf("a build refused by transfer rules: %v; want unprocessable, saying the transfer is not permitted", err)
	}
	if all, err := f.store.Datasets(f.ctx); err != nil || len(all) != 0 {
		t.Errorf("a build of nothing recorded %d datasets (%v)", len(all), err)
	}
	if entries, _ := os.ReadDir(f.out); len(entries) != 0 {
		t.Errorf("a build of nothing wrote %d entries", len(entries))
	}
	ben := f.subject("ben", "ai-training")
	f.upload(ben, "ai-training", "image", "image/jpeg", testJPEG(t, 0))
	v1 := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}})
	f.withdraw(ben, "ai-training")
	v2, err := f.ds.Rebuild(f.ctx, v1.ID, f.out)
	if err != nil || v2.ItemCount != 0 || v2.PredecessorID != v1.ID {
		t.Fatalf("the empty successor: %+v, %v; want it recorded with no item", v2, err)
	}
	// It says it is empty, and why, where a reader looks.
	if !strings.Contains(v2.Summary, "this version is empty: no asset of its line may be used") {
		t.Errorf("the empty successor's summary: %q", v2.Summary)
	}
	if card, err := f.ds.Card(f.ctx, v2.ID); err != nil || !strings.Contains(card.Markdown(), "**this version is empty") {
		t.Errorf("the empty successor's card: %v\n%s", err, card.Markdown())
	}
}

// A tainted version's card points past a successor that was tainted in
// its turn: at the newest version of the line, saying whether it is
// usable or must itself be rebuilt.
func TestATaintedCardPointsAtTheNewestVersionOfItsLine(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	subs := []string{f.subject("ann", "ai-training"), f.subject("ben", "ai-training"), f.subject("cat", "ai-training")}
	for i, s := range subs {
		f.upload(s, "ai-training", "image", "image/jpeg", testJPEG(t, i))
	}
	v1 := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}})
	f.withdraw(subs[2], "ai-training")
	v2, err := f.ds.Rebuild(f.ctx, v1.ID, f.out)
	if err != nil {
		t.Fatal(err)
	}
	f.withdraw(subs[1], "ai-training")
	card := func(id string) *dataset.Card {
		t.Helper()
		c, err := f.ds.Card(f.ctx, id)
		if err != nil || c.Taint == nil {
			t.Fatalf("card of %s: %+v, %v; want it tainted", id, c, err)
		}
		return c
	}
	c := card(v1.ID)
	if c.Taint.SuccessorID != v2.ID || c.Taint.NewestID != v2.ID || !c.Taint.NewestTainted ||
		!strings.Contains(c.Markdown(), "are tainted too: rebuild that one (`likeness dataset rebuild "+v2.ID+"`)") {
		t.Fatalf("v1's card with v2 tainted: %+v\n%s", c.Taint, c.Markdown())
	}
	v3, err := f.ds.Rebuild(f.ctx, v2.ID, f.out)
	if err != nil {
		t.Fatal(err)
	}
	c = card(v1.ID)
	if c.Taint.NewestID != v3.ID || c.Taint.NewestTainted || !strings.Contains(c.Markdown(), "use the newest of its successors, "+v3.ID) {
		t.Fatalf("v1's card with v3 ready: %+v\n%s", c.Taint, c.Markdown())
	}
	if c := card(v2.ID); c.Taint.SuccessorID != v3.ID || !strings.Contains(c.Markdown(), "use its successor "+v3.ID) {
		t.Fatalf("v2's card: %+v\n%s", c.Taint, c.Markdown())
	}
}

// An item whose format cannot be anonymized is left out, and the card and
// summary say why, in words: what the collector should send instead.
func TestAnItemThatCannotBeAnonymizedIsLeftOutSayingWhy(t *testing.T) {
	f := newFixture(t, "", policy.Default()) // ai-training: voice mcadams
	s := f.subject("ann", "ai-training")
	f.upload(s, "ai-training", "voice", "audio/wav", speech(t))
	f.upload(s, "ai-training", "voice", "audio/wav", pcm8(t))
	v := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"voice"}})
	if v.ItemCount != 1 || v.Skipped["not_anonymizable"] != 1 || !strings.Contains(v.Summary, "1 left out (in a format that cannot be anonymized)") {
		t.Fatalf("build: %d items, skipped %v, summary %q", v.ItemCount, v.Skipped, v.Summary)
	}
	card, err := f.ds.Card(f.ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	const why = "only 16-bit PCM WAV can be anonymized (this is 8-bit PCM)"
	var found bool
	for w, n := range card.NotAnonymizable {
		found = found || strings.Contains(w, why) && n == 1
	}
	if !found || !strings.Contains(card.Markdown(), why) {
		t.Fatalf("card: not anonymizable %v\n%s", card.NotAnonymizable, card.Markdown())
	}
}

// pcm8 is a second of 8-bit PCM WAV: a format ingest takes and the voice
// transform does not.
func pcm8(t *testing.T) []byte {
	t.Helper()
	const rate, n = 16000, 16000
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1)) // PCM
	le(uint16(1)) // mono
	le(uint32(rate))
	le(uint32(rate)) // bytes per second
	le(uint16(1))    // block align
	le(uint16(8))    // bits per sample
	b.WriteString("data")
	le(uint32(n))
	for i := range n {
		b.WriteByte(byte(128 + 60*math.Sin(float64(i)*2*math.Pi*220/rate)))
	}
	return b.Bytes()
}
