package dataset_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/anonymize"
	"likeness/internal/dataset"
	"likeness/policy"
)

func readCard(t *testing.T, dir string) *dataset.Card {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "card.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c dataset.Card
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if md, err := os.ReadFile(filepath.Join(dir, "card.md")); err != nil || !bytes.Contains(md, []byte("## Anonymization")) {
		t.Fatalf("card.md: %v\n%s", err, md)
	}
	return &c
}

func TestStrictBuildHoldsFacelessImagesForReviewAndApprovalIncludesThemInTheSuccessor(t *testing.T) {
	for name, dsn := range bothStores {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t), asRecorded())
			for i, ext := range []string{"ann", "ben"} {
				s := f.subject(ext, "ai-training")
				f.upload(s, "ai-training", "image", "image/jpeg", testJPEG(t, i))
			}
			v1 := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Profile: "strict"})
			if v1.ItemCount != 0 || v1.Skipped["sent_to_review"] != 2 || len(readManifest(t, v1.Path)) != 0 {
				t.Fatalf("strict build of faceless images shipped some: %+v", v1.Dataset)
			}
			if files, _ := os.ReadDir(filepath.Join(v1.Path, "data")); len(files) != 0 {
				t.Fatalf("held items were written: %v", files)
			}
			if !strings.Contains(v1.Summary, "2 sent to review: no face found for sure") {
				t.Errorf("summary = %q", v1.Summary)
			}
			rs, err := f.ds.Reviews(f.ctx, v1.ID)
			if err != nil || len(rs) != 2 || rs[0].State != likeness.ReviewPending || rs[0].Reason != "no face found" {
				t.Fatalf("reviews = %+v, %v", rs, err)
			}
			if _, err := f.ds.Decide(f.ctx, v1.ID, rs[0].ItemID, "approve", " "); likeness.ErrorCode(err) != likeness.EINVALID {
				t.Fatalf("approve without a reason: %v", err)
			}
			if _, err := f.ds.Decide(f.ctx, v1.ID, rs[0].ItemID, "approve", "a landscape: no person in it"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.ds.Decide(f.ctx, v1.ID, rs[1].ItemID, "exclude", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := f.ds.Decide(f.ctx, v1.ID, rs[1].ItemID, "approve", "changed my mind"); likeness.ErrorCode(err) != likeness.ECONFLICT {
				t.Fatalf("second decision: %v", err)
			}
			v2, err := f.ds.Rebuild(f.ctx, v1.ID, f.out)
			if err != nil {
				t.Fatal(err)
			}
			lines := readManifest(t, v2.Path)
			if v2.ItemCount != 1 || len(lines) != 1 || lines[0].Anonymization != "approved after review: no face found" ||
				v2.Skipped["excluded_by_review"] != 1 || v2.Skipped["sent_to_review"] != 0 {
				t.Fatalf("successor = %+v, manifest %+v", v2.Dataset, lines)
			}
			c := readCard(t, v2.Path)
			if c.Counts.Items != len(lines) || c.Reviews.IncludedApproved != 1 || c.Reviews.ExcludedByReview != 1 ||
				c.Lineage.PredecessorID != v1.ID || c.Lineage.ManifestSHA256 != v2.ManifestSHA256 {
				t.Errorf("card = %+v", c)
			}
			stored, err := f.ds.Card(f.ctx, v2.ID)
			if err != nil || stored.Counts.Items != c.Counts.Items {
				t.Errorf("stored card = %+v, %v", stored, err)
			}
		})
	}
}

func TestUndeclaredAnonymizationBlursFacesAndTransformsVoice(t *testing.T) {
	for name, dsn := range bothStores {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t), policy.Example()) // ai-training declares no anonymization
			s := f.subject("portrait", "ai-training")
			face, err := os.ReadFile("../anonymize/testdata/face.jpg")
			if err != nil {
				t.Fatal(err)
			}
			img := f.upload(s, "ai-training", "image", "image/jpeg", face)
			voice := f.upload(s, "ai-training", "voice", "audio/wav", speech(t))
			v := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image", "voice"}})
			if v.Profile.Faces != "blur_all" || v.Profile.Voice != "mcadams" || v.ItemCount != 2 {
				t.Fatalf("default dataset = %+v", v.Dataset)
			}
			lines := readManifest(t, v.Path)
			for _, l := range lines {
				b, _ := os.ReadFile(filepath.Join(v.Path, l.FileName))
				switch l.Category {
				case "image":
					if !strings.HasPrefix(l.Anonymization, "blurred ") || l.Anonymization == "blurred 0 faces" {
						t.Errorf("image note = %q", l.Anonymization)
					}
					if d := faceChange(t, face, b); d < 8 {
						t.Errorf("pixels around the face changed by %.1f on average; want blurred", d)
					}
					if l.SHA256 == img.SHA256 {
						t.Error("image shipped byte-identical")
					}
				case "voice":
					if bytes.Equal(b, speech(t)) || l.SHA256 == voice.SHA256 || l.Anonymization != "voice transformed" {
						t.Errorf("voice item %+v shipped as recorded", l)
					}
				}
			}
			c := readCard(t, v.Path)
			if c.Counts.Items != len(lines) || c.Anonymization.ImagesSearched != 1 || c.Anonymization.FacesCovered < 1 ||
				c.Anonymization.VoicesTransformed != 1 || !c.Anonymization.MetadataStripped || c.Anonymization.Reason != "" {
				t.Errorf("card anonymization = %+v, counts %+v", c.Anonymization, c.Counts)
			}
		})
	}
}

// faceChange is the mean absolute difference of the grey level inside the
// first face found in the original.
func faceChange(t *testing.T, orig, out []byte) float64 {
	t.Helper()
	a, _, err := image.Decode(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := image.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	faces, err := anonymize.DetectFaces(a)
	if err != nil || len(faces) == 0 {
		t.Fatalf("no face in the original: %v", err)
	}
	var sum float64
	var n int
	r := faces[0].Box.Intersect(a.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			ar, _, _, _ := a.At(x, y).RGBA()
			br, _, _, _ := b.At(x, y).RGBA()
			d := float64(ar>>8) - float64(br>>8)
			if d < 0 {
				d = -d
			}
			sum += d
			n++
		}
	}
	return sum / float64(n)
}

func TestAuditReportsCoverageEvenWhenNobodyDeclared(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	for i, ext := range []string{"a", "b", "c"} {
		s := f.subject(ext, "ai-training")
		f.upload(s, "ai-training", "image", "image/jpeg", testJPEG(t, i))
	}
	v := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}})
	rep, err := f.ds.Audit(f.ctx, v.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Subjects != 3 || rep.Declared != 0 || len(rep.Attributes) != len(dataset.Attributes) {
		t.Fatalf("report = %+v", rep)
	}
	for _, ar := range rep.Attributes {
		if ar.Total != 3 || ar.Declared != 0 || ar.CoverageText("en") != "0 of 3 declared" || ar.CoverageText("de") != "0 von 3 angegeben" {
			t.Errorf("%s coverage: %+v %q", ar.Attribute, ar, ar.CoverageText("en"))
		}
	}
	if md := readCard(t, v.Path); md.Audit == nil || md.Audit.Subjects != 3 {
		t.Errorf("card audit = %+v", md.Audit)
	}
}

func TestNumbersFollowTheLocale(t *testing.T) {
	for _, c := range []struct {
		lang              string
		declared, total   int
		wantPct, wantCovr string
	}{
		{"de", 50, 120, "41,7 %", "50 von 120 angegeben (41,7 %)"},
		{"en", 50, 120, "41.7 %", "50 of 120 declared (41.7 %)"},
		{"de", 1200, 1500, "80,0 %", "1.200 von 1.500 angegeben (80,0 %)"},
	} {
		if got := dataset.Percent(c.lang, float64(c.declared)/float64(c.total)); got != c.wantPct {
			t.Errorf("Percent(%s) = %q, want %q", c.lang, got, c.wantPct)
		}
		if got := dataset.Coverage(c.lang, c.declared, c.total); got != c.wantCovr {
			t.Errorf("Coverage(%s) = %q, want %q", c.lang, got, c.wantCovr)
		}
	}
}

// TestAnImageTooLargeToAnonymizeIsLeftOutNotShippedOrFatal: an upload whose
// header declares more pixels than the face search takes (65000×65000) is
// left out of a strict build as too large to anonymize: not shipped, not
// held for review, and not failing the build.
func TestAnImageTooLargeToAnonymizeIsLeftOutNotShippedOrFatal(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	data := testJPEG(t, 0)
	sof := bytes.Index(data, []byte{0xff, 0xc0})
	if sof < 0 {
		t.Fatal("no baseline frame header in the test JPEG")
	}
	binary.BigEndian.PutUint16(data[sof+5:], 65000) // height
	binary.BigEndian.PutUint16(data[sof+7:], 65000) // width
	f.upload(f.subject("ann", "ai-training"), "ai-training", "image", "image/jpeg", data)
	f.upload(f.subject("ben", "ai-training"), "ai-training", "image", "image/jpeg", testJPEG(t, 1))
	v := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Profile: "strict"})
	if v.Skipped["too_large_to_anonymize"] != 1 || v.Skipped["sent_to_review"] != 1 || v.ItemCount != 0 {
		t.Fatalf("build = %+v; want one item too large to anonymize and one (faceless) sent to review", v.Dataset)
	}
}

// An item is decided once for its purpose, whichever build held it: two
// builds hold the same faceless picture, an exclusion in one settles the
// other, and no approval there lets it ship. A held item of a person who
// then withdraws reads as erased and cannot be decided.
func TestAHeldItemIsDecidedOnceAndErasedWithItsPerson(t *testing.T) {
	for name, dsn := range bothStores {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t), asRecorded())
			_, ben, annPic := f.twoPictures()
			req := func() *dataset.BuildRequest {
				return &dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Profile: "strict", Out: "-"}
			}
			d1, d2 := f.build(req()), f.build(req())
			held := func(id string) map[string]*likeness.DatasetReview {
				rs, err := f.ds.Reviews(f.ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]*likeness.DatasetReview{}
				for _, r := range rs {
					out[r.AssetID] = r
				}
				return out
			}
			h1, h2 := held(d1.ID), held(d2.ID)
			if len(h1) != 2 || len(h2) != 2 || h1[annPic.ID] == nil {
				t.Fatalf("held: %v and %v, want both pictures in each", h1, h2)
			}
			if _, err := f.ds.Decide(f.ctx, d1.ID, h1[annPic.ID].ItemID, "exclude", "a child in the background"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.ds.Decide(f.ctx, d2.ID, h2[annPic.ID].ItemID, "approve", "looks fine"); likeness.ErrorCode(err) != likeness.ECONFLICT {
				t.Errorf("approving in another build what one excluded: %v, want a conflict", err)
			}
			if r := held(d2.ID)[annPic.ID]; r.State != likeness.ReviewExcluded || !strings.Contains(r.Note, d1.ID) {
				t.Errorf("the other build's review = %+v, want excluded with the first, saying where", r)
			}
			d3 := f.build(req())
			if d3.ItemCount != 0 || d3.Skipped["excluded_by_review"] != 1 || d3.Skipped["sent_to_review"] != 1 {
				t.Errorf("a later build: %d items, skipped %v; want the excluded one left out, the other held", d3.ItemCount, d3.Skipped)
			}

			f.withdraw(ben, "ai-training")
			for _, d := range []*dataset.View{d1, d2, d3} {
				for _, r := range held(d.ID) {
					if r.AssetID == annPic.ID {
						continue
					}
					if r.State != likeness.ReviewErased {
						t.Errorf("%s: the withdrawn person's held item reads %s, want erased", d.ID, r.State)
					}
					if _, err := f.ds.Decide(f.ctx, d.ID, r.ItemID, "approve", "looks fine"); likeness.ErrorCode(err) != likeness.EGONE {
						t.Errorf("%s: deciding the withdrawn person's item: %v, want gone", d.ID, err)
					}
				}
			}
		})
	}
}
