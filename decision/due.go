package decision

import (
	"sort"
	"time"

	"likeness"
)

// Due is a consent that must be renewed: expired, needing renewal after a
// material notice change, or expiring before the end of the window.
type Due struct {
	SubjectID string         `json:"subject_id"`
	Purpose   string         `json:"purpose"`
	State     likeness.State `json:"state"`
	Expires   time.Time      `json:"expires,omitzero"`
}

// DueForRenewal lists every granted consent that is expired, needs renewal,
// or expires before at+within, oldest deadline first. It walks the whole
// index under the read lock: an operator's report, not a hot path.
func (e *Engine) DueForRenewal(at time.Time, within time.Duration, limit int) []Due {
	e.mu.RLock()
	var out []Due
	horizon := at.Add(within)
	e.subjects.each(func(id string, k key, keyed bool, s subject) {
		if s.erased {
			return
		}
		for _, g := range e.slab.block(s.first, s.n) {
			if g.state != stateActive || int(g.purpose) >= len(e.rules) || !e.rules[g.purpose].declared {
				continue
			}
			rule := &e.rules[g.purpose]
			if keyed && id == "" {
				id = k.format(subjectPrefix)
			}
			d := Due{SubjectID: id, Purpose: e.purposes.list[g.purpose], State: likeness.StateActive}
			if !rule.renew.IsZero() {
				d.Expires = rule.renew.AddTo(likeness.FromMicros(g.micros))
			}
			switch {
			case !d.Expires.IsZero() && !at.Before(d.Expires):
				d.State = likeness.StateExpired
			case int64(g.notice) < rule.materialSince:
				d.State = likeness.StateNeedsRenewal
			case d.Expires.IsZero() || d.Expires.After(horizon):
				continue
			}
			out = append(out, d)
		}
	})
	e.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Expires.Equal(out[j].Expires) {
			return out[i].Expires.Before(out[j].Expires)
		}
		return out[i].SubjectID < out[j].SubjectID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
