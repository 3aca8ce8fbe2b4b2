package decision

import (
	"strings"
	"time"

	"likeness"
)

// asset is what the index keeps of one asset to decide about it.
type asset struct {
	subject  string
	category string
	retain   int64 // retention deadline, unix microseconds; 0 = none
	erased   bool
}

// PutAsset adds or updates an asset; decisions may then name it by id.
func (e *Engine) PutAsset(a *likeness.Asset) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.assets == nil {
		e.assets = map[string]*asset{}
	}
	entry := &asset{subject: strings.Clone(a.SubjectID), category: strings.Clone(a.Category), erased: a.Erased()}
	if !a.RetainUntil.IsZero() {
		entry.retain = likeness.Micros(a.RetainUntil)
	}
	e.assets[strings.Clone(a.ID)] = entry
}

// EraseAsset makes later decisions on the asset deny with ReasonAssetErased.
func (e *Engine) EraseAsset(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.assets[id]; a != nil {
		a.erased = true
	}
}

// decideAsset resolves an asset request to its subject and adds the
// asset's own reasons: erased, past its retention deadline, unknown.
func (e *Engine) decideAsset(r *likeness.DecisionRequest, now time.Time) likeness.Decision {
	a := e.assets[r.AssetID]
	if a == nil {
		return likeness.Decision{Reasons: reasons(likeness.ReasonAssetNotFound)}
	}
	rr := *r
	rr.SubjectID = a.subject
	var extra likeness.Reasons
	if rr.Category == "" {
		rr.Category = a.category
	} else if rr.Category != a.category {
		extra |= reasons(likeness.ReasonCategoryNotCovered)
	}
	at := r.At
	if at.IsZero() {
		at = now
	}
	if a.erased {
		extra |= reasons(likeness.ReasonAssetErased)
	}
	if a.retain != 0 && likeness.Micros(at) >= a.retain {
		extra |= reasons(likeness.ReasonAssetExpired)
	}
	d := e.decide(&rr, now)
	d.Reasons |= extra
	d.Allow = d.Allow && extra == 0
	d.SubjectID = a.subject
	return d
}
