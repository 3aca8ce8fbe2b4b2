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
// The index keeps only the latest event per (subject, purpose). A decision
// about a time before that event therefore cannot see what stood before it,
// and denies (no_consent for a later grant, withdrawn for a later withdrawal).
//
// Memory: a grant is a 32-byte record without pointers; its event id is kept
// in a shared, append-only byte arena and handed out as a string that points
// into it, so returning Decision.EventID costs no allocation. Arena space of
// superseded ids is reclaimed by compaction once it outweighs the live ids.
package decision

import (
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"

	"likeness"
	"likeness/policy"
)

// Engine is the decision index. It is safe for concurrent use: writes take
// an exclusive lock, Decide, DecideBatch, State and Stats a shared one.
type Engine struct {
	// Now returns the time a request without At is decided at. It defaults to
	// time.Now; set it before first use.
	Now func() time.Time

	mu       sync.RWMutex
	subjects map[string]*subject
	assets   map[string]*asset
	live     int // subjects not erased
	grants   int // records held by subjects not erased

	// Purposes are interned as small integers for the lifetime of the engine,
	// so a grant keeps its purpose across policy swaps.
	purposeID    map[string]uint16
	purposeNames []string

	rules      []purposeRule // indexed by purpose id; may be shorter than purposeNames
	recipients map[string]recipientRule

	ids idArena
}

// add creates the entry for id. A short id is copied into the entry itself
// and the map key points there, so the key comparison of a look-up already
// brings the entry into the cache.
func (e *Engine) add(id string, s *subject) {
	key := ""
	if n := copy(s.id[:], id); n == len(id) && n > 0 {
		key = unsafe.String(&s.id[0], n)
	} else {
		key = strings.Clone(id)
	}
	e.subjects[key] = s
}

// subject is one person's entry in the index.
type subject struct {
	grants []grant // at most one per purpose, sized exactly
	juris  jurisdiction
	erased bool
	id     [34]byte // holds the map key of ids this short; 64 bytes in all
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
		Now:       time.Now,
		subjects:  make(map[string]*subject),
		purposeID: make(map[string]uint16),
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
	rules := make([]purposeRule, len(e.purposeNames))
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
			id, ok := e.intern(name)
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

// intern returns the small integer naming a purpose, assigning one if new.
// The caller holds the write lock.
func (e *Engine) intern(name string) (uint16, bool) {
	if id, ok := e.purposeID[name]; ok {
		return id, true
	}
	if len(e.purposeNames) > math.MaxUint16 {
		return 0, false
	}
	id := uint16(len(e.purposeNames))
	name = strings.Clone(name)
	e.purposeID[name] = id
	e.purposeNames = append(e.purposeNames, name)
	return id, true
}

// PutSubject adds a subject or updates its jurisdiction. A jurisdiction that
// likeness.ParseJurisdiction rejects is kept as unknown: the subject's
// decisions still work, but every transfer to a named country denies. An
// erased subject stays erased.
func (e *Engine) PutSubject(id, jurisdiction string) {
	j := parseJurisdiction(jurisdiction)
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.subjects[id]
	if s == nil {
		s = &subject{}
		e.add(id, s)
		e.live++
	}
	s.juris = j
}

// EraseSubject drops the subject's grants; later decisions about it deny
// with ReasonSubjectErased. Erasure is final: the entry stays as a tombstone,
// even for a subject the engine had not seen, so a late PutSubject or Apply
// cannot bring it back.
func (e *Engine) EraseSubject(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.subjects[id]
	switch {
	case s == nil:
		e.add(id, &subject{erased: true})
		return
	case s.erased:
		return
	}
	for i := range s.grants {
		e.ids.drop(s.grants[i].idLen)
	}
	e.grants -= len(s.grants)
	e.live--
	s.grants = nil
	s.erased = true
}

// Apply records a consent event that is already durable. Grant and Renew
// make the consent active from ev.Time under ev.NoticeVersion and ev.Method;
// Withdraw and Expire end it; Erasure erases the subject. Events of subjects
// not added by PutSubject, and of erased subjects, are ignored.
//
// Apply is idempotent and order-safe: an event older than the one stored for
// its (subject, purpose), by Time then LedgerIndex, changes nothing, so
// events may be replayed or arrive out of order.
func (e *Engine) Apply(ev *likeness.ConsentEvent) {
	if ev == nil {
		return
	}
	if ev.Type == likeness.Erasure {
		e.EraseSubject(ev.SubjectID)
		return
	}
	var state uint8
	switch ev.Type {
	case likeness.Grant, likeness.Renew:
		state = stateActive
	case likeness.Withdraw:
		state = stateWithdrawn
	case likeness.Expire:
		state = stateExpired
	default:
		return
	}
	if ev.Purpose == "" {
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
	s := e.subjects[ev.SubjectID]
	if s == nil || s.erased {
		return
	}
	pid, ok := e.intern(ev.Purpose)
	if !ok {
		return
	}
	g.purpose = pid
	i := s.find(pid)
	if i >= 0 {
		old := &s.grants[i]
		// The ledger index is the commit order; clocks of different
		// replicas may disagree, so time decides only between events
		// without distinct indexes.
		if g.ledger < old.ledger || g.ledger == old.ledger && g.micros < old.micros {
			return // older than what we hold
		}
		if g.micros == old.micros && g.ledger == old.ledger && e.ids.get(old.idOff, old.idLen) == ev.ID {
			*old = g.withID(old.idOff, old.idLen) // the same event again
			return
		}
		e.ids.drop(old.idLen)
	} else {
		grown := make([]grant, len(s.grants)+1)
		copy(grown, s.grants)
		s.grants = grown
		i = len(grown) - 1
		e.grants++
	}
	off, n := e.ids.put(ev.ID)
	s.grants[i] = g.withID(off, n)
	if e.ids.wasteful() {
		e.compactIDs()
	}
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

// find returns the index of the grant for purpose pid, or -1.
func (s *subject) find(pid uint16) int {
	for i := range s.grants {
		if s.grants[i].purpose == pid {
			return i
		}
	}
	return -1
}

// compactIDs copies the live event ids into a fresh arena. Strings handed
// out earlier keep pointing into the old chunks, which stay alive (and
// unchanged) for as long as anyone holds them.
func (e *Engine) compactIDs() {
	var fresh idArena
	fresh.init()
	fresh.compactMin = e.ids.compactMin
	for _, s := range e.subjects {
		for i := range s.grants {
			g := &s.grants[i]
			g.idOff, g.idLen = fresh.put(e.ids.get(g.idOff, g.idLen))
		}
	}
	e.ids = fresh
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
	s := e.subjects[subjectID]
	switch {
	case s == nil:
		return likeness.StateNone, time.Time{}
	case s.erased:
		return likeness.StateErased, time.Time{}
	}
	pid, ok := e.purposeID[purpose]
	if !ok || int(pid) >= len(e.rules) || !e.rules[pid].declared {
		return likeness.StateNone, time.Time{}
	}
	i := s.find(pid)
	if i < 0 {
		return likeness.StateNone, time.Time{}
	}
	g, rule := &s.grants[i], &e.rules[pid]
	switch g.state {
	case stateWithdrawn:
		return likeness.StateWithdrawn, time.Time{}
	case stateExpired:
		return likeness.StateExpired, time.Time{}
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
	return e.live, e.grants
}
