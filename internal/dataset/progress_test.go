package dataset_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"sync"
	"testing"
	"time"

	"likeness/internal/dataset"
)

// TestABuildReportsItsProgressItemByItem builds a strict dataset of two
// faceless photographs (held for review) and one with a face, and checks
// what its Progress hears: with no interval, every item as it is done;
// with an interval that does not pass, only the end; at the end, every
// item counted once, the held ones among them.
func TestABuildReportsItsProgressItemByItem(t *testing.T) {
	face, err := os.ReadFile("../anonymize/testdata/face.jpg")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "", asRecorded())
	for i, ext := range []string{"ann", "ben"} {
		f.upload(f.subject(ext, "ai-training"), "ai-training", "image", "image/jpeg", testJPEG(t, i))
	}
	f.upload(f.subject("cat", "ai-training"), "ai-training", "image", "image/jpeg", face)

	for _, tc := range []struct {
		every time.Duration
		want  []int // Done in each report
	}{
		{0, []int{1, 2, 3}},
		{time.Hour, []int{3}},
	} {
		var got []dataset.BuildProgress
		v := f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Profile: "strict", Out: "-",
			ProgressEvery: tc.every, Progress: func(p dataset.BuildProgress) { got = append(got, p) }})
		if len(got) != len(tc.want) {
			t.Fatalf("every %v: %d reports %+v, want Done %v", tc.every, len(got), got, tc.want)
		}
		for i, p := range got {
			if p.Done != tc.want[i] || p.Items != 3 {
				t.Errorf("every %v: report %d = %+v, want Done %d of 3", tc.every, i, p, tc.want[i])
			}
		}
		last := got[len(got)-1]
		if last.Held != 2 || last.Skipped != 0 || last.Held != v.Skipped["sent_to_review"] || last.Done-last.Held != v.ItemCount {
			t.Errorf("every %v: last report %+v, build %+v", tc.every, last, v.Dataset)
		}
	}
}

// TestABuildSaysItIsStillAtWorkOnALongItem builds a dataset of one
// photograph large enough that searching it for faces outlasts the
// progress interval many times, and checks that the build did not go
// silent meanwhile: reports came before the item was done, each saying it
// had been at work longer, and the last one, as the item was done, says
// nothing is at work.
func TestABuildSaysItIsStillAtWorkOnALongItem(t *testing.T) {
	f := newFixture(t, "", asRecorded())
	f.upload(f.subject("ann", "ai-training"), "ai-training", "image", "image/jpeg", largeJPEG(t, 2400))

	var mu sync.Mutex
	var got []dataset.BuildProgress
	every := 10 * time.Millisecond
	f.build(&dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"image"}, Profile: "strict", Out: "-",
		ProgressEvery: every, Progress: func(p dataset.BuildProgress) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		}})
	if len(got) < 2 {
		t.Fatalf("%d reports %+v: want at least one while the item was at work, and the end", len(got), got)
	}
	var prev time.Duration
	for _, p := range got[:len(got)-1] {
		if p.Done != 0 || p.Items != 1 || p.Current <= prev {
			t.Errorf("report while at work = %+v, want 0 of 1 done, at work longer than %v", p, prev)
		}
		prev = p.Current
	}
	if last := got[len(got)-1]; last.Done != 1 || last.Current != 0 {
		t.Errorf("last report = %+v, want 1 of 1 done and nothing at work", last)
	}
}

// largeJPEG is a side×side photograph: the test portrait, scaled up.
func largeJPEG(t *testing.T, side int) []byte {
	t.Helper()
	b, err := os.ReadFile("../anonymize/testdata/face.jpg")
	if err != nil {
		t.Fatal(err)
	}
	src, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, side, side))
	sb := src.Bounds()
	for y := range side {
		for x := range side {
			dst.Set(x, y, src.At(sb.Min.X+x*sb.Dx()/side, sb.Min.Y+y*sb.Dy()/side))
		}
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, nil); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
