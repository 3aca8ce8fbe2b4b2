package decision_test

import (
	"fmt"
	"time"

	"likeness"
	"likeness/decision"
	"likeness/policy"
)

func Example() {
	pol, err := policy.Parse("likeness.yaml", []byte(`
organization: {name: Acme Portraits GmbH, country: DE, contact: privacy@acme.example}
languages: [en]
purposes:
  ai-training:
    title: {en: Train our portrait and voice AI models}
    description: {en: We use your photos and voice recordings to train our models.}
    data: [image, voice]
    recipients: [gpu-cloud-us]
    retention: 3y
    renew_every: 12mo
recipients:
  gpu-cloud-us: {name: Example GPU Cloud Inc., country: US, transfer: scc}
`))
	if err != nil {
		panic(err)
	}
	granted := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	e := decision.New(pol)
	e.Now = func() time.Time { return granted.Add(time.Hour) }
	e.PutSubject("sub_aaaaaaaaaaaaaaaaaaaaaaaaaa", "EU-DE")
	e.Apply(&likeness.ConsentEvent{
		ID: "evt_bbbbbbbbbbbbbbbbbbbbbbbbbb", SubjectID: "sub_aaaaaaaaaaaaaaaaaaaaaaaaaa",
		Purpose: "ai-training", Type: likeness.Grant, Method: likeness.Checkbox,
		NoticeVersion: 1, Time: granted, LedgerIndex: 1,
	})

	r := &likeness.DecisionRequest{
		SubjectID: "sub_aaaaaaaaaaaaaaaaaaaaaaaaaa", Purpose: "ai-training",
		Category: "voice", Recipient: "gpu-cloud-us",
	}
	d := e.Decide(r)
	fmt.Println(d.Allow, d.EventID)

	r.Category = "video"
	fmt.Println(e.Decide(r).Reasons.Names())

	r.Category = "voice"
	r.At = granted.AddDate(1, 0, 0)
	fmt.Println(e.Decide(r).Reasons.Names())

	e.Apply(&likeness.ConsentEvent{
		ID: "evt_cccccccccccccccccccccccccc", SubjectID: "sub_aaaaaaaaaaaaaaaaaaaaaaaaaa",
		Purpose: "ai-training", Type: likeness.Withdraw, Time: granted.Add(time.Minute), LedgerIndex: 2,
	})
	r.At = time.Time{}
	d = e.Decide(r)
	fmt.Println(d.Allow, d.Reasons.Names(), d.EventID)
	// Output:
	// true evt_bbbbbbbbbbbbbbbbbbbbbbbbbb
	// [category_not_covered]
	// [expired]
	// false [withdrawn] evt_cccccccccccccccccccccccccc
}
