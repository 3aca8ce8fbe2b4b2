package decision

import (
	"time"

	"likeness"
)

// asset is what the index keeps of one asset to decide about it: its
// subject's id (in the asset name arena, so a decision can return it without
// allocating), its category and the purpose it was collected for (both
// interned), its retention deadline and whether it is erased.
type asset struct {
	retain   int64 // retention deadline, unix microseconds; 0 = none
	subOff   uint32
	subLen   uint16
	category uint16
	purpose  uint16 // noPurpose if unknown or past what the index names
	erased   bool
}

// noPurpose stands for an asset whose collection purpose the index cannot
// name; it matches no requested purpose.
const noPurpose = 1<<16 - 1

// assets maps asset ids to entries.
type assets struct {
	idMap[asset]
	text idArena // subject ids of assets; written once per asset
}

const assetPrefix = "ast"

func newAssets() assets {
	a := assets{idMap: newIDMap[asset](assetPrefix, 0)}
	a.text.init() // never compacted: an asset's subject rarely changes
	return a
}

func (m *assets) subject(a asset) string { return m.text.get(a.subOff, a.subLen) }

// PutAsset adds or updates an asset; decisions may then name it by id.
func (e *Engine) PutAsset(a *likeness.Asset) {
	e.mu.Lock()
	defer e.mu.Unlock()
	entry, known := e.assets.get(a.ID)
	if !known || e.assets.subject(entry) != a.SubjectID {
		if known {
			e.assets.text.drop(entry.subLen)
		}
		entry.subOff, entry.subLen = e.assets.text.put(a.SubjectID)
	}
	cat, ok := e.categories.intern(a.Category)
	if !ok {
		cat = noCategory
	}
	// Not interned: every purpose the policy declares is known already,
	// and an asset of another (consent evidence, a purpose since removed)
	// matches no purpose a decision may ask about.
	pid, ok := e.purposes.id(a.Purpose)
	if !ok {
		pid = noPurpose
	}
	entry.category, entry.purpose, entry.erased, entry.retain = cat, pid, a.Erased(), 0
	if !a.RetainUntil.IsZero() {
		entry.retain = likeness.Micros(a.RetainUntil)
	}
	e.assets.put(a.ID, entry)
}

// noCategory stands for a category past the 65,536 an engine can intern;
// such an asset matches no requested category.
const noCategory = 1<<16 - 1

// EraseAsset makes later decisions on the asset deny with ReasonAssetErased.
func (e *Engine) EraseAsset(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a, ok := e.assets.get(id); ok {
		a.erased = true
		e.assets.put(id, a)
	}
}

// category returns the name of an interned asset category.
func (e *Engine) category(id uint16) string {
	if int(id) < len(e.categories.list) {
		return e.categories.list[id]
	}
	return "\x00unknown"
}

// decideAsset resolves an asset request to its subject and adds the
// asset's own reasons: collected for another purpose, erased, past its
// retention deadline, unknown.
func (e *Engine) decideAsset(r *likeness.DecisionRequest, now time.Time) likeness.Decision {
	a, ok := e.assets.get(r.AssetID)
	if !ok {
		return likeness.Decision{Reasons: reasons(likeness.ReasonAssetNotFound)}
	}
	rr := *r
	rr.SubjectID = e.assets.subject(a)
	var extra likeness.Reasons
	if rr.Category == "" {
		rr.Category = e.category(a.category)
	} else if rr.Category != e.category(a.category) {
		extra |= reasons(likeness.ReasonCategoryNotCovered)
	}
	at := r.At
	if at.IsZero() {
		at = now
	}
	// Media are used only for the purpose they were collected for: a
	// consent to another purpose covers what is collected for that one.
	if pid, ok := e.purposes.id(r.Purpose); !ok || pid != a.purpose {
		extra |= reasons(likeness.ReasonPurposeMismatch)
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
	d.SubjectID = rr.SubjectID
	return d
}
