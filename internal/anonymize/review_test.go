package anonymize_test

import (
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"

	"likeness/internal/anonymize"
)

// groupPhotos are the six photographs of people in testdata/groups (see
// NOTICE), scaled to width pixels wide (for width 0, as they are).
func groupPhotos(t testing.TB, width int) map[string]image.Image {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("testdata", "groups", "sample*.jpg"))
	if len(paths) != 6 {
		t.Fatalf("found %d group photographs in testdata/groups, want 6", len(paths))
	}
	out := map[string]image.Image{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if width > 0 {
			img = imaging.Resize(img, width, 0, imaging.Lanczos)
		}
		out[filepath.Base(p)] = img
	}
	return out
}

// TestPicturesOfPeopleShipBlurredNotHeldForReview is the false-review rate
// on the repository's pictures: every one shows at least one person's face,
// so every one, uploaded upright, turned, tilted or stored sideways, must
// come out of a strict (blur every face) and a bystander build blurred and
// shipped, not held for review. The second look (refine) adds faces; it
// must not add reviews.
func TestPicturesOfPeopleShipBlurredNotHeldForReview(t *testing.T) {
	type upload struct {
		name  string
		data  []byte
		faces string
	}
	var ups []upload
	for _, v := range variants(t) {
		ups = append(ups, upload{"portrait " + v.name, v.data, "blur_all"})
	}
	for name, img := range groupPhotos(t, 768) {
		up := encodeJPEG(t, img)
		ups = append(ups, upload{name + " upright", up, "blur_all"}, upload{name + " upright", up, "blur_bystanders"})
	}
	// Orientation tags are the portrait's variants' part; the photographs
	// tilted by 25° go through the same check in
	// TestEveryFaceAnIndependentDetectorFindsIsCoveredOrTheImageGoesToReview,
	// which logs its count of reviews too. (The race detector makes each
	// search here cost seconds: the package's run under -race stays well
	// inside the CI's limit.)
	held := 0
	for _, u := range ups {
		out, err := anonymize.Apply("image", "image/jpeg", u.data, anonymize.Options{Faces: u.faces})
		var review *anonymize.ReviewError
		switch {
		case errors.As(err, &review):
			held++
			t.Errorf("%s, %s: held for review (%s); the picture shows faces", u.name, u.faces, review.Report.Reason)
		case err != nil:
			t.Fatalf("%s, %s: %v", u.name, u.faces, err)
		case len(out.Faces.Blurred) == 0:
			t.Errorf("%s, %s: shipped with nothing blurred", u.name, u.faces)
		}
	}
	t.Logf("false reviews: %d of %d builds of pictures of people", held, len(ups))
}

// TestTheSecondLookOnlyAddsFaces checks that the dense second look leaves
// the first pass's faces exactly as they were (box, turn and score) and
// only adds faces, marked Refined, on the repository's pictures (the group
// photographs where the first pass missed faces, and three of the
// portrait's variants).
func TestTheSecondLookOnlyAddsFaces(t *testing.T) {
	imgs := map[string]image.Image{}
	for name, img := range groupPhotos(t, 768) {
		switch name {
		case "sample2.jpg", "sample4.jpg", "sample5.jpg": // where the first pass missed faces
			imgs[name] = img
		}
	}
	for _, v := range variants(t) {
		switch v.name {
		case "turned 90°", "tilted +25°", "group of seven from 200 to 26 px":
			imgs["portrait "+v.name] = v.displayed
		}
	}
	for name, img := range imgs {
		first, err := anonymize.Search{NoRefine: true}.Faces(img)
		if err != nil {
			t.Fatal(err)
		}
		all, err := anonymize.DetectFaces(img)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, f := range all {
			if !f.Refined {
				seen[fmt.Sprint(f)] = true
			}
		}
		for _, f := range first {
			if f.Refined {
				t.Errorf("%s: the first pass marks %v refined", name, f)
			}
			if !seen[fmt.Sprint(f)] {
				t.Errorf("%s: the first pass's face %v is not in the result", name, f)
			}
		}
		if len(seen) != len(first) {
			t.Errorf("%s: %d unrefined faces in the result, the first pass found %d", name, len(seen), len(first))
		}
		t.Logf("%s: %d faces from the first pass, %d added by the second look", name, len(first), len(all)-len(first))
	}
}

// TestTheVectorAndGoSearchesFindTheSameFaces: on the six group
// photographs, the search with each vector walk this processor runs
// (AVX-512, where the second look runs windows of every size in a turn
// together, and AVX2) finds exactly the faces, boxes, turns and scores,
// that the Go walk finds window by window.
func TestTheVectorAndGoSearchesFindTheSameFaces(t *testing.T) {
	walks := anonymize.Walks()
	if len(walks) == 1 {
		t.Skip("no AVX2 or AVX-512 on this processor: only the Go walk runs")
	}
	imgs := groupPhotos(t, 768)
	search := func(walk string) map[string][]anonymize.Face {
		defer anonymize.UseWalk(walk)()
		out := map[string][]anonymize.Face{}
		for name, img := range imgs {
			faces, err := anonymize.DetectFaces(img)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = faces
		}
		return out
	}
	want := search("go")
	for _, walk := range walks[:len(walks)-1] {
		refined := 0
		for name, got := range search(walk) {
			if fmt.Sprint(got) != fmt.Sprint(want[name]) {
				t.Errorf("%s: the %s search found %v, the Go one %v", name, walk, got, want[name])
			}
			for _, f := range got {
				if f.Refined {
					refined++
				}
			}
		}
		if refined == 0 {
			t.Errorf("%s: the second look found no face on any photograph: the comparison does not reach it", walk)
		}
	}
}

// BenchmarkSearchGroupPhotos1024 searches the six group photographs, scaled
// to 1024 pixels wide, with and without the second look, in the same run.
func BenchmarkSearchGroupPhotos1024(b *testing.B) {
	var imgs []image.Image
	for _, img := range groupPhotos(b, 1024) {
		imgs = append(imgs, img)
	}
	for _, s := range []struct {
		name string
		s    anonymize.Search
	}{{"first-pass", anonymize.Search{NoRefine: true}}, {"with-second-look", anonymize.Search{}}} {
		b.Run(s.name, func(b *testing.B) {
			eachWalk(b, func(b *testing.B) {
				perImage(b, func(n int) error {
					_, err := s.s.Faces(imgs[n%len(imgs)])
					return err
				})
			})
		})
	}
}

// BenchmarkSearchGroupPhotosSquare1024 is the whole search on the six
// group photographs scaled and cropped to fill 1024×1024 pixels (the
// budget's frame; their faces about 1.5 times as large as at 1024 wide).
func BenchmarkSearchGroupPhotosSquare1024(b *testing.B) {
	var imgs []image.Image
	for _, img := range groupPhotos(b, 0) {
		imgs = append(imgs, imaging.Fill(img, 1024, 1024, imaging.Center, imaging.Lanczos))
	}
	eachWalk(b, func(b *testing.B) {
		perImage(b, func(n int) error {
			_, err := anonymize.DetectFaces(imgs[n%len(imgs)])
			return err
		})
	})
}

// BenchmarkWindowTreesSquare1024 counts where the search's work goes on the
// six group photographs filling 1024×1024 (docs/BENCHMARKS.md, "eighth
// look"): per frame, the window-trees of the grid and of the second look,
// by the tree reached (1-based, as the table there), and the second look's
// windows that reach the last tree. It runs the Go walk, which scores the
// same windows as the vector ones; its time is not the search's.
func BenchmarkWindowTreesSquare1024(b *testing.B) {
	var imgs []image.Image
	for _, img := range groupPhotos(b, 0) {
		imgs = append(imgs, imaging.Fill(img, 1024, 1024, imaging.Center, imaging.Lanczos))
	}
	defer anonymize.UseWalk("go")()
	stop := anonymize.CountWindowTrees()
	for i := 0; i < b.N; i++ {
		if _, err := anonymize.DetectFaces(imgs[i%len(imgs)]); err != nil {
			b.Fatal(err)
		}
	}
	grid, second := stop()
	frames := float64(b.N)
	for _, look := range []struct {
		name   string
		counts []int64
	}{{"grid", grid}, {"second", second}} {
		var all int64
		for _, r := range []struct {
			name          string
			first, beyond int // trees first..beyond-1, 0-based
		}{{"tree1", 0, 1}, {"trees2-3", 1, 3}, {"trees4-17", 3, 17}, {"trees18-67", 17, 67}, {"trees68-234", 67, 234}, {"trees235-468", 234, len(look.counts)}} {
			var n int64
			for _, c := range look.counts[r.first:r.beyond] {
				n += c
			}
			all += n
			b.ReportMetric(float64(n)/frames/1e6, look.name+"-"+r.name+"-M/frame")
		}
		b.ReportMetric(float64(all)/frames/1e6, look.name+"-M/frame")
	}
	b.ReportMetric(float64(second[len(second)-1])/frames, "second-last-tree/frame")
}
