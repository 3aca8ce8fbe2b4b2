package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"likeness"
	"likeness/internal/subjects"
	"likeness/policy"
)

// ImportOutcome is what an import did with one line.
type ImportOutcome int

const (
	// ImportFailed: the line was refused (Err says why); nothing of it was
	// recorded.
	ImportFailed ImportOutcome = iota
	// ImportRecorded: the line's person exists and its events are in the
	// ledger.
	ImportRecorded
	// ImportAlreadyDone: an earlier run recorded the same line.
	ImportAlreadyDone
	// ImportDuplicate: an earlier line of this run (SameAs) was the same
	// line; it was recorded once.
	ImportDuplicate
)

// ImportLine is one line of an import: what it is on the way in, what became
// of it on the way out.
type ImportLine struct {
	Line   int64                  // line number in the input, from 1
	Key    [32]byte               // ImportKey of the line
	Digest [32]byte               // SHA-256 of the line's bytes
	Record *likeness.ImportRecord // nil if the line did not parse (Err set)
	Err    error

	Outcome    ImportOutcome
	SameAs     int64                    // ImportDuplicate: the earlier line
	Previous   *likeness.ImportMark     // ImportAlreadyDone: what recorded it
	Events     []*likeness.ConsentEvent // ImportRecorded: the events stored
	NewSubject bool                     // ImportRecorded: the person was created
	// ForeignNotices counts the line's grants whose notice is none of this
	// deployment's: they count as given under the notice version current
	// at import.
	ForeignNotices int
}

// ImportKey is the key under which a line is recorded once: the SHA-256 of
// its import_id when it has one (so reformatting the line does not make it
// new), else the SHA-256 of the line itself.
func ImportKey(importID string, digest [32]byte) [32]byte {
	if importID == "" {
		return digest
	}
	return sha256.Sum256([]byte("likeness-import-id\x00" + importID))
}

// maxImportedConsents bounds the consents of one line.
const maxImportedConsents = 64

// importPlan is a line on its way into the ledger.
type importPlan struct {
	line    *ImportLine
	events  []*likeness.ConsentEvent // SubjectID set once the person is known
	sub     *likeness.Subject
	created bool
}

// Import records a batch of import lines: it checks each as the API checks
// subjects, grants and withdrawals (with the original time, method, notice
// and evidence of each event), skips lines recorded before (by a mark kept
// with their events, so running an import again records nothing twice),
// creates the people it does not know in one transaction, and stores every
// remaining line's events, marked imported, with its mark in one ledger
// transaction. A line that fails fails alone: its outcome says why. An error
// is returned only when the batch could not be recorded at all; nothing of
// it, or all of it, is then stored, and importing the batch again is safe.
// run names this import run, so duplicates within it are told apart from
// lines recorded by an earlier one.
func (s *Service) Import(ctx context.Context, run string, lines []*ImportLine) error {
	p, current := s.notices.current()
	published, err := s.notices.Published(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	plans := make([]*importPlan, 0, len(lines))
	for _, l := range lines {
		l.Outcome = ImportFailed
		if l.Err != nil {
			continue
		}
		if l.Record == nil {
			l.Err = likeness.Errorf(likeness.EINVALID, "no record")
			continue
		}
		evs, foreign, err := importEvents(p, current, published, now, l.Record)
		if err != nil {
			l.Err = err
			continue
		}
		l.ForeignNotices = foreign
		plans = append(plans, &importPlan{line: l, events: evs})
	}
	if plans, err = s.skipImported(ctx, run, plans); err != nil {
		return err
	}
	ciphers := map[string]*subjects.Cipher{}
	defer func() {
		for _, c := range ciphers {
			c.Close()
		}
	}()
	if plans, err = s.importSubjects(ctx, plans, ciphers); err != nil {
		return err
	}
	items, err := s.importItems(ctx, run, plans, ciphers)
	if err != nil {
		return err
	}
	apply := func(ev *likeness.ConsentEvent) error { return s.applySynced(ctx, ev) }
	if err := s.log.AppendImported(ctx, items, apply); err != nil {
		return err
	}
	var recorded []*importPlan
	for i, it := range items {
		pl := plans[i]
		switch {
		case it.Err != nil:
			pl.line.Err = it.Err
		case it.Existing != nil:
			classify(pl.line, run, it.Existing)
		default:
			pl.line.Outcome, pl.line.Events, pl.line.NewSubject = ImportRecorded, it.Events, pl.created
			recorded = append(recorded, pl)
		}
	}
	// The events are durable: bring the index and the tree up to date.
	if err := s.Sync(ctx); err != nil {
		return fmt.Errorf("consent: import: %w", err)
	}
	s.afterImport(ctx, p, recorded)
	return nil
}

// skipImported sets aside lines whose key an earlier line of the batch or a
// stored mark holds.
func (s *Service) skipImported(ctx context.Context, run string, plans []*importPlan) ([]*importPlan, error) {
	first := map[[32]byte]*ImportLine{}
	keys := make([][32]byte, 0, len(plans))
	kept := plans[:0]
	for _, pl := range plans {
		l := pl.line
		if f, ok := first[l.Key]; ok {
			classify(l, run, &likeness.ImportMark{Key: f.Key, Digest: f.Digest, Run: run, Line: f.Line})
			continue
		}
		first[l.Key] = l
		keys = append(keys, l.Key)
		kept = append(kept, pl)
	}
	marks, err := s.store.ImportMarks(ctx, keys)
	if err != nil {
		return nil, err
	}
	plans = kept
	kept = plans[:0]
	for _, pl := range plans {
		if m, ok := marks[pl.line.Key]; ok {
			classify(pl.line, run, m)
			continue
		}
		kept = append(kept, pl)
	}
	return kept, nil
}

// classify sets the outcome of line l, whose key mark m already holds.
func classify(l *ImportLine, run string, m *likeness.ImportMark) {
	switch {
	case m.Digest != l.Digest && m.Run == run:
		l.Err = likeness.Errorf(likeness.ECONFLICT, "its import_id is that of line %d, whose content differs", m.Line)
	case m.Digest != l.Digest:
		l.Err = likeness.Errorf(likeness.ECONFLICT, "its import_id was imported on %s (line %d of run %s) with other content",
			m.At.Format(time.DateOnly), m.Line, m.Run)
	case m.Run == run:
		l.Outcome, l.SameAs = ImportDuplicate, m.Line
	default:
		l.Outcome, l.Previous = ImportAlreadyDone, m
	}
}

// importSubjects finds or creates the person of every plan and checks what
// depends on them (a minor's grants name the guardian). Ciphers of people
// created here go into ciphers.
func (s *Service) importSubjects(ctx context.Context, plans []*importPlan, ciphers map[string]*subjects.Cipher) ([]*importPlan, error) {
	reqs := make([]subjects.NewSubject, len(plans))
	for i, pl := range plans {
		r := pl.line.Record
		reqs[i] = subjects.NewSubject{ExternalID: r.ExternalID, Locale: r.Locale, Jurisdiction: r.Jurisdiction, Guardian: r.Guardian}
	}
	ensured, err := s.subjects.EnsureSubjects(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("consent: import: %w", err)
	}
	kept := plans[:0]
	for i, pl := range plans {
		e := ensured[i]
		if e.Cipher != nil {
			ciphers[e.Subject.ID] = e.Cipher
		}
		if e.Err != nil {
			pl.line.Err = e.Err
			continue
		}
		pl.sub, pl.created = e.Subject, e.Created
		if err := checkMinor(pl); err != nil {
			pl.line.Err = err
			continue
		}
		for _, ev := range pl.events {
			ev.SubjectID = pl.sub.ID
		}
		kept = append(kept, pl)
	}
	return kept, nil
}

// checkMinor refuses a plan whose stored person is a minor and one of whose
// grants does not name the guardian: checkGrant ran before the person was
// found, as the line described them.
func checkMinor(pl *importPlan) error {
	for i, ev := range pl.events {
		if ev.Type != likeness.Grant {
			continue
		}
		if err := checkGuardian(pl.sub, ev.Evidence); err != nil {
			return consentErr(i, err)
		}
	}
	return nil
}

// importItems seals each plan's evidence under its person's key and returns
// what the ledger stores, in plan order.
func (s *Service) importItems(ctx context.Context, run string, plans []*importPlan, ciphers map[string]*subjects.Cipher) ([]*likeness.ImportItem, error) {
	items := make([]*likeness.ImportItem, len(plans))
	for i, pl := range plans {
		l := pl.line
		items[i] = &likeness.ImportItem{Mark: likeness.ImportMark{Key: l.Key, Digest: l.Digest, Run: run, Line: l.Line}, Events: pl.events}
		for _, ev := range pl.events {
			if len(ev.Evidence) == 0 {
				continue
			}
			c := ciphers[pl.sub.ID]
			if c == nil {
				var err error
				if c, err = s.subjects.Cipher(ctx, pl.sub.ID); err != nil {
					return nil, fmt.Errorf("consent: import: %w", err)
				}
				ciphers[pl.sub.ID] = c
			}
			plain, err := json.Marshal(ev.Evidence)
			if err != nil {
				return nil, err
			}
			if ev.Sealed, err = c.Seal(plain, eventAD(ev.ID)); err != nil {
				return nil, fmt.Errorf("consent: seal evidence: %w", err)
			}
		}
	}
	return items, nil
}

// afterImport does for recorded lines of people who existed before what a
// live write does after it commits: listeners hear of the events, and a
// withdrawal now in force erases the purpose's data unless the policy keeps
// it. A person this import created is in no dataset and has no assets yet.
func (s *Service) afterImport(ctx context.Context, p *policy.Policy, recorded []*importPlan) {
	for _, pl := range recorded {
		if pl.created {
			continue
		}
		for _, ev := range pl.events {
			withdrawn := ev.Type == likeness.Withdraw
			if withdrawn {
				if st, _ := s.engine.State(ev.SubjectID, ev.Purpose, time.Time{}); st != likeness.StateWithdrawn {
					continue // an older withdrawal than what is held changes nothing
				}
			}
			s.notify(ctx, []*likeness.ConsentEvent{ev})
			if pp, ok := p.Purpose(ev.Purpose); withdrawn && ok && pp.ErasesOnWithdraw() {
				for _, e := range s.erasers {
					if err := e.EraseWithdrawn(ctx, ev); err != nil {
						s.logger.Error("erase data of an imported withdrawal failed", "event", ev.ID, "err", err)
					}
				}
			}
		}
	}
}

// importEvents checks a record's consents and returns its events, without
// their subject, and how many grants have a notice that is none of ours.
func importEvents(p *policy.Policy, current *likeness.NoticeVersion, published []*likeness.NoticeVersion, now time.Time,
	r *likeness.ImportRecord) ([]*likeness.ConsentEvent, int, error) {
	if len(r.Consents) > maxImportedConsents {
		return nil, 0, likeness.Errorf(likeness.EINVALID, "%d consents; at most %d per line", len(r.Consents), maxImportedConsents)
	}
	if len(r.ImportID) > 256 {
		return nil, 0, likeness.Errorf(likeness.EINVALID, "import_id is longer than 256 bytes")
	}
	// The person is checked by the registry as CreateSubject checks them.
	// A line that says it is about a minor is checked as one here, before
	// the person is created; a person already stored is checked as stored
	// once found (checkMinor).
	sub := &likeness.Subject{Guardian: r.Guardian}
	evs := make([]*likeness.ConsentEvent, len(r.Consents))
	foreign := 0
	for i := range r.Consents {
		c := &r.Consents[i]
		ev, isForeign, err := importEvent(p, current, published, now, sub, c)
		if err != nil {
			return nil, 0, consentErr(i, err)
		}
		if isForeign {
			foreign++
		}
		evs[i] = ev
	}
	return evs, foreign, nil
}

func consentErr(i int, err error) error {
	return likeness.Errorf(likeness.ErrorCode(err), "consents[%d]: %s", i, likeness.ErrorMessage(err))
}

// importEvent checks one imported consent and returns its event.
func importEvent(p *policy.Policy, current *likeness.NoticeVersion, published []*likeness.NoticeVersion, now time.Time,
	sub *likeness.Subject, c *likeness.ImportedConsent) (*likeness.ConsentEvent, bool, error) {
	switch {
	case c.Time.IsZero():
		return nil, false, likeness.Errorf(likeness.EINVALID, "time is required: when it happened, in RFC 3339 (2024-03-01T09:30:00Z)")
	case c.Time.Before(time.Unix(0, 0)):
		return nil, false, likeness.Errorf(likeness.EINVALID, "time %s is before 1970", c.Time.Format(time.RFC3339))
	case c.Time.After(now):
		return nil, false, likeness.Errorf(likeness.EINVALID, "time %s is in the future", c.Time.Format(time.RFC3339))
	case len(c.Collector) > 128:
		return nil, false, likeness.Errorf(likeness.EINVALID, "collector is longer than 128 bytes")
	}
	ev := &likeness.ConsentEvent{ID: likeness.NewID("evt"), Purpose: c.Purpose, Method: c.Method, Collector: c.Collector,
		Evidence: c.Evidence, Time: c.Time.UTC(), Imported: true}
	if ev.Collector == "" {
		ev.Collector = "import"
	}
	switch c.State {
	case likeness.ImportGranted:
		if err := p.CheckPurposes([]string{c.Purpose}); err != nil {
			return nil, false, err
		}
		if err := checkGrant(p, sub, c.Method, c.Language, c.Evidence); err != nil {
			return nil, false, err
		}
		version, sum, foreign, err := importNotice(c, current, published)
		if err != nil {
			return nil, false, err
		}
		ev.Type, ev.Language, ev.NoticeVersion, ev.NoticeSHA256 = likeness.Grant, c.Language, version, sum
		return ev, foreign, nil
	case likeness.ImportWithdrawn:
		if c.Language != "" || c.NoticeVersion != 0 || c.NoticeSHA256 != "" || c.NoticeText != "" {
			return nil, false, likeness.Errorf(likeness.EINVALID, "a withdrawal carries no language or notice")
		}
		if c.Method == "" {
			return nil, false, likeness.Errorf(likeness.EINVALID, "method is required")
		}
		if err := checkWithdraw(p, c.Purpose, c.Method, c.Evidence); err != nil {
			return nil, false, err
		}
		ev.Type = likeness.Withdraw
		return ev, false, nil
	}
	return nil, false, likeness.Errorf(likeness.EINVALID, "state %q is not %q or %q", c.State, likeness.ImportGranted, likeness.ImportWithdrawn)
}

// importNotice resolves the notice an imported grant was given under: one
// of ours by version or text hash, or else a notice of the system it comes
// from (foreign), counted under the current version. The hash recorded is
// always that of the text the person was shown.
func importNotice(c *likeness.ImportedConsent, current *likeness.NoticeVersion, published []*likeness.NoticeVersion) (int64, string, bool, error) {
	sum := c.NoticeSHA256
	if sum != "" && !isSHA256Hex(sum) {
		return 0, "", false, likeness.Errorf(likeness.EINVALID, "notice_sha256 is not 64 lowercase hex digits")
	}
	if c.NoticeText != "" {
		h := sha256.Sum256([]byte(c.NoticeText))
		text := hex.EncodeToString(h[:])
		if sum != "" && sum != text {
			return 0, "", false, likeness.Errorf(likeness.EINVALID, "notice_sha256 is not the SHA-256 of notice_text")
		}
		sum = text
	}
	if c.NoticeVersion != 0 {
		for _, nv := range published {
			if nv.Version != c.NoticeVersion {
				continue
			}
			text := nv.Texts[c.Language]
			if text == "" {
				return 0, "", false, likeness.Errorf(likeness.EINVALID, "notice version %d has no %q text", nv.Version, c.Language)
			}
			if sum != "" && sum != text {
				return 0, "", false, likeness.Errorf(likeness.ECONFLICT, "notice_sha256 does not match the %s notice of version %d", c.Language, nv.Version)
			}
			return nv.Version, text, false, nil
		}
		return 0, "", false, likeness.Errorf(likeness.EINVALID, "notice_version %d was never published (the latest is %d)",
			c.NoticeVersion, published[len(published)-1].Version)
	}
	if sum == "" {
		return 0, "", false, likeness.Errorf(likeness.EINVALID, "a grant needs notice_version, notice_sha256 or notice_text: the notice the person was shown")
	}
	for i := len(published) - 1; i >= 0; i-- {
		if published[i].Texts[c.Language] == sum {
			return published[i].Version, sum, false, nil
		}
	}
	return current.Version, sum, true, nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
