// Package decision is the in-memory decision engine: it answers "may this
// subject's data of category C be used for purpose P, by recipient R, in
// country C, at time T?" from an index of the latest consent event per
// (subject, purpose), loaded at start and updated on every write. It denies
// by default: only an active grant that covers the category, the recipient
// and the transfer allows.
//
// The engine is an in-process public API. A program loads the policy, the
// subjects and their consent events, then asks:
//
//	e := decision.New(pol)
//	e.PutSubject("sub_…", "EU-DE")
//	e.Apply(&likeness.ConsentEvent{ID: "evt_…", SubjectID: "sub_…",
//		Purpose: "ai-training", Type: likeness.Grant, Method: likeness.Checkbox,
//		NoticeVersion: 3, Time: t, LedgerIndex: 41})
//	d := e.Decide(&likeness.DecisionRequest{SubjectID: "sub_…",
//		Purpose: "ai-training", Category: "voice", Recipient: "gpu-cloud-us"})
//	if !d.Allow {
//		log.Print(d.Reasons.Names())
//	}
//
// Every write (Apply, PutSubject, EraseSubject, SetPolicy) is visible to the
// next Decide: there is no cache in front of the index. Decide takes a read
// lock and does not allocate.
//
// A grant the policy wants a reviewer to validate arrives pending
// (ConsentEvent.Validation) and denies with pending_validation until a
// Validated event naming it arrives; a ValidationRejected one makes it deny
// with validation_rejected until the person consents again.
//
// The index keeps only the latest event per (subject, purpose). A decision
// about a time before that event therefore cannot see what stood before it,
// and denies (no_consent for a later grant, withdrawn for a later withdrawal).
//
// Memory: a subject is a 12-byte entry stored inline in a map keyed by the
// 16 bytes of its id (ids not shaped like likeness.NewID("sub") go to a
// second map keyed by the string); its grants are 32-byte records in one
// block of a shared slab, sorted by purpose. Event ids are kept in an
// append-only byte arena and handed out as strings that point into it, so
// returning Decision.EventID costs no allocation. None of these hold
// pointers, so the garbage collector does not scan the index. Space left by
// superseded ids and moved blocks is reclaimed by compaction once it
// outweighs the live data.
//
// Snapshots: WriteSnapshot writes the index in a compact, checksummed binary
// form and LoadSnapshot reads it back, so a process can start from a
// snapshot and replay only the events after it (see snapshot.go).
package decision

import (
	"math"
	"sync"
	"time"

	"likeness"
	"likeness/policy"
)

// Engine is the decision index. It is safe for concurrent use: writes take
// an exclusive lock, Decide, DecideBatch, State, Stats and WriteSnapshot a
// shared one.
type Engine struct {
	// Now returns the time a request without At is decided at. It defaults to
	// time.Now; set it before first use.
	Now func() time.Time

	mu       sync.RWMutex
	subjects subjects
	slab     grantSlab
	assets   assets
	live     int // subjects not erased

	// Purposes and asset categories are interned as small integers for the
	// lifetime of the engine, so a grant keeps its purpose across policy
	// swaps.
	purposes   names
	categories names

	rules      []purposeRule // indexed by purpose id; may be shorter than purposes.list
	recipients map[string]recipientRule

	ids idArena
}

// grant is the latest consent event for one (subject, purpose). It holds no
// pointers, so the garbage collector never scans grant slices.
type grant struct {
	micros  int64  // event time, unix microseconds
	ledger  int64  // ledger index, to order events with equal times
	notice  uint32 // notice version, saturated at MaxUint32
	idOff   uint32 // event id: offset in the id arena
	idLen   uint16 // and length
	purpose uint16
	state   uint8
	method  uint8
}

// Grant states as stored. Expiry by renew_every and needs-renewal are
// computed at decision time, since they depend on the time and the policy.
const (
	stateActive uint8 = iota + 1
	stateWithdrawn
	stateExpired
	// statePending is a grant or renewal waiting for a reviewer; a
	// Validated event referring to it makes it stateActive, a
	// ValidationRejected one stateRejected. Both keep the grant's time,
	// ledger index and id: the decision still rests on the consent given.
	statePending
	stateRejected
)

const (
	methodOther uint8 = iota
	methodWritten
)

type purposeRule struct {
	declared      bool // the current policy has this purpose
	data          []string
	recipients    []string
	renew         policy.Duration
	materialSince int64
}

type recipientRule struct {
	country  string
	transfer string
}

// New returns an engine deciding under p. A nil policy declares no purposes,
// so every decision denies until SetPolicy.
func New(p *policy.Policy) *Engine {
	e := &Engine{
		Now:      time.Now,
		subjects: newSubjects(0),
		assets:   newAssets(),
	}
	e.ids.init()
	e.setPolicy(p, nil)
	return e
}

// SetPolicy swaps the policy. materialSince maps a purpose to the notice
// version since which its material terms are unchanged: grants given under an
// older notice version need renewal. A missing entry means 0, so no grant of
// that purpose needs renewal. Grants of purposes the new policy no longer
// declares are kept, but decisions about those purposes deny.
func (e *Engine) SetPolicy(p *policy.Policy, materialSince map[string]int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setPolicy(p, materialSince)
}

func (e *Engine) setPolicy(p *policy.Policy, materialSince map[string]int64) {
	rules := make([]purposeRule, len(e.purposes.list))
	recipients := make(map[string]recipientRule)
	if p != nil {
		ids := p.PurposeIDs
		if len(ids) != len(p.Purposes) {
			ids = ids[:0:0]
			for id := range p.Purposes {
				ids = append(ids, id)
			}
		}
		for _, name := range ids {
			pp := p.Purposes[name]
			if pp == nil {
				continue
			}
			id, ok := e.purposes.intern(name)
			if !ok {
				continue // more purposes than the index can name: they deny
			}
			for int(id) >= len(rules) {
				rules = append(rules, purposeRule{})
			}
			rules[id] = purposeRule{
				declared:      true,
				data:          append([]string(nil), pp.Data...),
				recipients:    append([]string(nil), pp.Recipients...),
				renew:         pp.RenewEvery,
				materialSince: materialSince[name],
			}
		}
		for id, r := range p.Recipients {
			if r != nil {
				recipients[id] = recipientRule{country: r.Country, transfer: r.Transfer}
			}
		}
	}
	e.rules = rules
	e.recipients = recipients
}

// PutSubject adds a subject or updates its jurisdiction. A jurisdiction that
// likeness.ParseJurisdiction rejects is kept as unknown: the subject's
// decisions still work, but every transfer to a named country denies. An
// erased subject stays erased.
func (e *Engine) PutSubject(id, jurisdiction string) {
	j := parseJurisdiction(jurisdiction)
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.subjects.get(id)
	if !ok {
		e.live++
	}
	s.juris = j
	e.subjects.put(id, s)
}

// EraseSubject drops the subject's grants; later decisions about it deny
// with ReasonSubjectErased. Erasure is final: the entry stays as a tombstone,
// even for a subject the engine had not seen, so a late PutSubject or Apply
// cannot bring it back.
func (e *Engine) EraseSubject(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.subjects.get(id)
	switch {
	case !ok:
		e.subjects.put(id, subject{erased: true})
		return
	case s.erased:
		return
	}
	for _, g := range e.slab.block(s.first, s.n) {
		e.ids.drop(g.idLen)
	}
	e.slab.free(s.n)
	e.live--
	e.subjects.put(id, subject{juris: s.juris, erased: true})
}

// Apply records a consent event that is already durable. Grant and Renew
// make the consent active from ev.Time under ev.NoticeVersion and ev.Method,
// or pending validation when ev.Validation says so; Validated and
// ValidationRejected settle the pending grant they refer to, if it is still
// the one stored; Withdraw and Expire end it; Erasure erases the subject.
// Events of subjects not added by PutSubject, and of erased subjects, are
// ignored.
//
// Apply is idempotent and order-safe: an event older than the one stored for
// its (subject, purpose), by LedgerIndex then Time, changes nothing, so
// events may be replayed or arrive out of order. An imported event
// (ev.Imported: history recorded long after it happened elsewhere) is the
// exception: it replaces the stored event only if it happened later, by Time
// then LedgerIndex, so an old imported grant never undoes a withdrawal
// recorded before the import. Imported events reach an engine in ledger
// order (the store's Sync), and any live event committed after them replaces
// them, whatever the clocks say. A pending grant replayed after its
// verdict keeps the verdict.
func (e *Engine) Apply(ev *likeness.ConsentEvent) {
	if ev == nil {
		return
	}
	switch ev.Type {
	case likeness.Erasure:
		e.EraseSubject(ev.SubjectID)
		return
	case likeness.Validated:
		e.settle(ev, stateActive)
		return
	case likeness.ValidationRejected:
		e.settle(ev, stateRejected)
		return
	}
	state, ok := eventState(ev)
	if !ok || ev.Purpose == "" {
		return
	}
	g := grant{
		micros: likeness.Micros(ev.Time),
		ledger: ev.LedgerIndex,
		notice: saturate32(ev.NoticeVersion),
		state:  state,
	}
	if ev.Method == likeness.Written {
		g.method = methodWritten
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.subjects.get(ev.SubjectID)
	if !ok || s.erased {
		return
	}
	pid, ok := e.purposes.intern(ev.Purpose)
	if !ok {
		return
	}
	g.purpose = pid
	gs := e.slab.block(s.first, s.n)
	if i := findGrant(gs, pid); i >= 0 {
		old := &gs[i]
		if !g.supersedes(old, ev.Imported) {
			return // older than what we hold
		}
		if g.micros == old.micros && g.ledger == old.ledger && e.ids.get(old.idOff, old.idLen) == ev.ID {
			if g.state == statePending && (old.state == stateActive || old.state == stateRejected) {
				return // the same pending grant again, already settled by a reviewer
			}
			*old = g.withID(old.idOff, old.idLen) // the same event again
			return
		}
		e.ids.drop(old.idLen)
		off, n := e.ids.put(ev.ID)
		*old = g.withID(off, n)
	} else {
		if s.n == slabChunk-1 {
			return // more purposes than a block holds: they deny
		}
		off, n := e.ids.put(ev.ID)
		s.first = e.slab.grow(s.first, s.n)
		s.n++
		gs = e.slab.block(s.first, s.n)
		at := len(gs) - 1
		for ; at > 0 && gs[at-1].purpose > pid; at-- {
			gs[at] = gs[at-1]
		}
		gs[at] = g.withID(off, n)
		e.subjects.put(ev.SubjectID, s)
	}
	if e.ids.wasteful() || e.slab.wasteful() {
		e.compact()
	}
}

// eventState is the state a grant, renewal, withdrawal or expiry leaves
// its consent in; ok is false for other events.
func eventState(ev *likeness.ConsentEvent) (state uint8, ok bool) {
	switch ev.Type {
	case likeness.Grant, likeness.Renew:
		if ev.Validation == likeness.ValidationPending {
			return statePending, true
		}
		return stateActive, true
	case likeness.Withdraw:
		return stateWithdrawn, true
	case likeness.Expire:
		return stateExpired, true
	}
	return 0, false
}

// settle gives the pending grant ev refers to its reviewer's verdict. A
// verdict on any other event (the grant was superseded since, or never
// reached this index) changes nothing.
func (e *Engine) settle(ev *likeness.ConsentEvent, verdict uint8) {
	if ev.Purpose == "" || ev.Refers == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.subjects.get(ev.SubjectID)
	if !ok || s.erased {
		return
	}
	pid, ok := e.purposes.id(ev.Purpose)
	if !ok {
		return
	}
	gs := e.slab.block(s.first, s.n)
	if i := findGrant(gs, pid); i >= 0 && gs[i].state == statePending && e.ids.get(gs[i].idOff, gs[i].idLen) == ev.Refers {
		gs[i].state = verdict
	}
}

// supersedes reports whether g, imported or not, is as new as old or newer.
// The ledger index is the commit order; clocks of different replicas may
// disagree, so time decides only between events without distinct indexes.
// An imported event was committed long after it happened: its original time
// decides, then the index.
func (g *grant) supersedes(old *grant, imported bool) bool {
	if imported {
		return g.micros > old.micros || g.micros == old.micros && g.ledger >= old.ledger
	}
	return g.ledger > old.ledger || g.ledger == old.ledger && g.micros >= old.micros
}

func (g grant) withID(off uint32, n uint16) grant {
	g.idOff, g.idLen = off, n
	return g
}

func saturate32(v int64) uint32 {
	switch {
	case v < 0:
		return 0
	case v > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(v)
}

// State returns the standing of a subject's consent to a purpose at a time
// (the zero time means now), and when an active consent expires (zero if the
// purpose sets no renew_every). Unknown subjects, unknown purposes and
// decisions about a time before the stored event give StateNone; an erased
// subject gives StateErased.
func (e *Engine) State(subjectID, purpose string, at time.Time) (state likeness.State, expires time.Time) {
	if at.IsZero() {
		at = e.Now()
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, ok := e.subjects.get(subjectID)
	switch {
	case !ok:
		return likeness.StateNone, time.Time{}
	case s.erased:
		return likeness.StateErased, time.Time{}
	}
	pid, ok := e.purposes.id(purpose)
	if !ok || int(pid) >= len(e.rules) || !e.rules[pid].declared {
		return likeness.StateNone, time.Time{}
	}
	gs := e.slab.block(s.first, s.n)
	i := findGrant(gs, pid)
	if i < 0 {
		return likeness.StateNone, time.Time{}
	}
	g, rule := &gs[i], &e.rules[pid]
	switch g.state {
	case stateWithdrawn:
		return likeness.StateWithdrawn, time.Time{}
	case stateExpired:
		return likeness.StateExpired, time.Time{}
	case statePending:
		return likeness.StatePendingValidation, time.Time{}
	case stateRejected:
		return likeness.StateValidationRejected, time.Time{}
	}
	if g.micros > likeness.Micros(at) {
		return likeness.StateNone, time.Time{}
	}
	if !rule.renew.IsZero() {
		expires = rule.renew.AddTo(likeness.FromMicros(g.micros))
		if !at.Before(expires) {
			return likeness.StateExpired, expires
		}
	}
	if int64(g.notice) < rule.materialSince {
		return likeness.StateNeedsRenewal, expires
	}
	return likeness.StateActive, expires
}

// Stats returns the number of subjects (not erased) and of consent records
// (one per subject and purpose, whatever its state) the index holds.
func (e *Engine) Stats() (subjects, grants int) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.live, e.slab.live
}
