package dataset

import (
	"time"

	"likeness"
	"likeness/decision"
)

// Candidate is a live asset that could go into a dataset.
type Candidate struct {
	AssetID, SubjectID, Category, ContentType string
}

// Selected is a candidate a decision allowed, with the consent event the
// inclusion rests on.
type Selected struct {
	Candidate
	EventID string
}

// batchSize is how many decisions one DecideBatch call takes; the engine
// holds its read lock for one batch, so writers wait at most that long.
const batchSize = 10000

// Select decides every candidate for purpose and recipient at time at, on
// the engine's batch path with asset requests (the engine resolves asset →
// subject and denies erased, expired and unknown assets, and subjects
// without an active consent covering the category and the recipient), and
// returns those allowed, in candidate order. With denied not nil, it
// counts there, per reason (the first a decision gives), the candidates
// it left out.
func Select(e *decision.Engine, cands []Candidate, purpose, recipient string, at time.Time, denied map[string]int) []Selected {
	reqs := make([]likeness.DecisionRequest, min(batchSize, len(cands)))
	out := make([]likeness.Decision, len(reqs))
	var sel []Selected
	for start := 0; start < len(cands); start += batchSize {
		chunk := cands[start:min(start+batchSize, len(cands))]
		for i := range chunk {
			reqs[i] = likeness.DecisionRequest{AssetID: chunk[i].AssetID, Purpose: purpose, Category: chunk[i].Category,
				Recipient: recipient, At: at}
		}
		e.DecideBatch(reqs[:len(chunk)], out)
		for i := range chunk {
			if out[i].Allow && out[i].SubjectID == chunk[i].SubjectID {
				sel = append(sel, Selected{Candidate: chunk[i], EventID: out[i].EventID})
			} else if denied != nil {
				reason := "subject_changed"
				if names := out[i].Reasons.Names(); len(names) > 0 {
					reason = names[0]
				}
				denied[reason]++
			}
		}
	}
	return sel
}
