package dataset_test

import (
	"os"
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
