package dataset_test

import (
	"fmt"
	"testing"
	"time"

	"likeness"
	"likeness/decision"
	"likeness/internal/dataset"
	"likeness/policy"
)

// BenchmarkSelect1M selects the members of a dataset from 1,000,000 assets
// of 200,000 subjects (one in ten withdrew) with the engine's index in
// memory: the selection step of a build, without the media.
func BenchmarkSelect1M(b *testing.B) {
	const subjects, perSubject = 200_000, 5
	p := policy.Default()
	e := decision.New(p)
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cands := make([]dataset.Candidate, 0, subjects*perSubject)
	for i := range subjects {
		sub := fmt.Sprintf("sub_%026d", i)
		e.PutSubject(sub, "EU-DE")
		typ := likeness.Grant
		if i%10 == 0 {
			typ = likeness.Withdraw
		}
		e.Apply(&likeness.ConsentEvent{ID: fmt.Sprintf("evt_%026d", i), SubjectID: sub, Purpose: "ai-training", Type: typ,
			Method: likeness.Checkbox, NoticeVersion: 1, Time: at.Add(-time.Hour), LedgerIndex: int64(i)})
		for j := range perSubject {
			cat := "image"
			if j%2 == 1 {
				cat = "voice"
			}
			a := &likeness.Asset{ID: fmt.Sprintf("ast_%021d%05d", i, j), SubjectID: sub, Purpose: "ai-training", Category: cat,
				RetainUntil: at.Add(24 * time.Hour)}
			e.PutAsset(a)
			cands = append(cands, dataset.Candidate{AssetID: a.ID, SubjectID: sub, Category: cat, ContentType: "image/jpeg"})
		}
	}
	b.ResetTimer()
	var n int
	for b.Loop() {
		n = len(dataset.Select(e, cands, "ai-training", "example-ml", at, nil))
	}
	if n != subjects*perSubject*9/10 {
		b.Fatalf("selected %d, want %d", n, subjects*perSubject*9/10)
	}
	b.ReportMetric(float64(len(cands))/(b.Elapsed().Seconds()/float64(b.N)), "assets/s")
}
