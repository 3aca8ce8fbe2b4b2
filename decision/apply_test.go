package decision

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"likeness"
)

func TestApplyIsIdempotentAndOrderSafe(t *testing.T) {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	ev := func(typ likeness.EventType, h int, ledger int64) *likeness.ConsentEvent {
		return &likeness.ConsentEvent{
			ID: fmt.Sprintf("evt_%s_%d_%d", typ, h, ledger), SubjectID: "s1", Purpose: "marketing",
			Type: typ, Method: likeness.Checkbox, NoticeVersion: 1, Time: at(h), LedgerIndex: ledger,
		}
	}
	grant1, withdraw2, grant3 := ev(likeness.Grant, 1, 10), ev(likeness.Withdraw, 2, 11), ev(likeness.Grant, 3, 12)
	// Same time, ordered by ledger index.
	sameTimeGrant, sameTimeWithdraw := ev(likeness.Grant, 5, 20), ev(likeness.Withdraw, 5, 21)
	tests := []orderCase{
		{"in order", []*likeness.ConsentEvent{grant1, withdraw2, grant3}, true, grant3},
		{"reversed", []*likeness.ConsentEvent{grant3, withdraw2, grant1}, true, grant3},
		{"withdrawal arrives late", []*likeness.ConsentEvent{grant1, withdraw2}, false, withdraw2},
		{"stale grant after withdrawal", []*likeness.ConsentEvent{withdraw2, grant1}, false, withdraw2},
		{"replayed", []*likeness.ConsentEvent{grant1, withdraw2, grant1, withdraw2, withdraw2}, false, withdraw2},
		{"equal time, ledger order", []*likeness.ConsentEvent{sameTimeWithdraw, sameTimeGrant}, false, sameTimeWithdraw},
		{"equal time, in order", []*likeness.ConsentEvent{sameTimeGrant, sameTimeWithdraw}, false, sameTimeWithdraw},
	}
	checkOrder(t, tests, func(t *testing.T, e *Engine) {
		if _, g := e.Stats(); g != 1 {
			t.Errorf("grants = %d, want 1", g)
		}
	})
}

// orderCase is events applied in the order given and the decision they
// must leave: allow or not, on the event last.
type orderCase struct {
	name   string
	events []*likeness.ConsentEvent
	allow  bool
	last   *likeness.ConsentEvent
}

// checkOrder applies each case's events to a fresh engine and checks the
// decision on them, then runs also, if set, on the engine.
func checkOrder(t *testing.T, tests []orderCase, also func(t *testing.T, e *Engine)) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEngine(t)
			e.PutSubject("s1", "EU-DE")
			for _, ev := range tt.events {
				e.Apply(ev)
			}
			d := e.Decide(req("s1", "marketing", "image"))
			if d.Allow != tt.allow || d.EventID != tt.last.ID {
				t.Errorf("decision = allow %v on %q, want allow %v on %q", d.Allow, d.EventID, tt.allow, tt.last.ID)
			}
			if also != nil {
				also(t, e)
			}
		})
	}
}

// An imported event is committed long after it happened elsewhere, so its
// ledger index says nothing about its age: it replaces what is held only if
// it happened later. A live event committed after it replaces it as any
// later commit does.
func TestImportedEventsTakeEffectOnlyIfLater(t *testing.T) {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	ev := func(typ likeness.EventType, h int, ledger int64, imported bool) *likeness.ConsentEvent {
		return &likeness.ConsentEvent{
			ID: fmt.Sprintf("evt_%s_%d_%d", typ, h, ledger), SubjectID: "s1", Purpose: "marketing",
			Type: typ, Method: likeness.Checkbox, NoticeVersion: 1, Time: at(h), LedgerIndex: ledger, Imported: imported,
		}
	}
	liveWithdraw := ev(likeness.Withdraw, 3, 10, false)
	oldImportedGrant := ev(likeness.Grant, 1, 11, true)
	newerImportedGrant := ev(likeness.Grant, 4, 12, true)
	liveGrant := ev(likeness.Grant, 5, 13, false)
	oldImportedWithdraw := ev(likeness.Withdraw, 2, 14, true)
	importedWithdraw, importedEarlierGrant := ev(likeness.Withdraw, 2, 20, true), ev(likeness.Grant, 1, 21, true)
	// A replica whose clock is behind records a withdrawal after the import.
	skewedLiveWithdraw := ev(likeness.Withdraw, 3, 30, false)
	tests := []orderCase{
		{"old imported grant after a live withdrawal", []*likeness.ConsentEvent{liveWithdraw, oldImportedGrant}, false, liveWithdraw},
		{"newer imported grant after a live withdrawal", []*likeness.ConsentEvent{liveWithdraw, newerImportedGrant}, true, newerImportedGrant},
		{"old imported withdrawal after a live grant", []*likeness.ConsentEvent{liveGrant, oldImportedWithdraw}, true, liveGrant},
		{"imported history listed newest first", []*likeness.ConsentEvent{importedWithdraw, importedEarlierGrant}, false, importedWithdraw},
		{"live withdrawal committed after an imported grant, clock behind", []*likeness.ConsentEvent{newerImportedGrant, skewedLiveWithdraw}, false, skewedLiveWithdraw},
		{"replayed", []*likeness.ConsentEvent{liveWithdraw, oldImportedGrant, liveWithdraw, oldImportedGrant}, false, liveWithdraw},
	}
	checkOrder(t, tests, nil)
}

func TestEventsOfUnknownSubjectsAreIgnored(t *testing.T) {
	e := testEngine(t)
	grantAt(e, "s1", "marketing", likeness.Checkbox, t0)
	e.Apply(nil)
	if e.HasSubject("s1") {
		t.Error("HasSubject before PutSubject")
	}
	e.Apply(&likeness.ConsentEvent{SubjectID: "s1", Type: "bogus", Purpose: "marketing", Time: t0})
	if s, g := e.Stats(); s != 0 || g != 0 {
		t.Errorf("Stats = %d, %d; want 0, 0", s, g)
	}
	e.PutSubject("s1", "EU-DE")
	if !e.HasSubject("s1") {
		t.Error("!HasSubject after PutSubject")
	}
	checkDecision(t, e.Decide(req("s1", "marketing", "image")), false, reasonSet(likeness.ReasonNoConsent))
	grantAt(e, "s1", "marketing", likeness.Checkbox, t0)
	checkDecision(t, e.Decide(req("s1", "marketing", "image")), true, 0)
	if s, g := e.Stats(); s != 1 || g != 1 {
		t.Errorf("Stats = %d, %d; want 1, 1", s, g)
	}
}

func TestDecideBatchMatchesDecide(t *testing.T) {
	e := testEngine(t)
	for i := range 20 {
		id := fmt.Sprintf("s%d", i)
		e.PutSubject(id, []string{"EU-DE", "US-IL", "GB", "US-CA"}[i%4])
		if i%3 != 0 {
			grantAt(e, id, "ai-training", likeness.Checkbox, t0)
		}
		if i%5 == 0 {
			e.Apply(event(likeness.Withdraw, id, "ai-training", "", t0.Add(time.Hour)))
		}
	}
	var rs []likeness.DecisionRequest
	for i := range 25 {
		r := req(fmt.Sprintf("s%d", i), "ai-training", []string{"voice", "image", "video"}[(i/2)%3])
		r.Recipient = []string{"", "gpu-cloud-us", "plain-in"}[(i/4)%3]
		rs = append(rs, *r)
	}
	out := make([]likeness.Decision, len(rs))
	e.DecideBatch(rs, out)
	allowed := 0
	for i := range rs {
		if want := e.Decide(&rs[i]); out[i] != want {
			t.Errorf("batch[%d] = %+v, Decide = %+v", i, out[i], want)
		}
		if out[i].Allow {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(rs) {
		t.Errorf("%d of %d allowed: the test does not exercise both answers", allowed, len(rs))
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "US-IL")
	grantAt(e, "s1", "ai-training", likeness.Checkbox, t0)
	r := req("s1", "ai-training", "voice")
	r.Recipient = "gpu-cloud-us"
	rs := []likeness.DecisionRequest{*r, *req("s1", "marketing", "image"), *req("nobody", "x", "y")}
	out := make([]likeness.Decision, len(rs))
	var d likeness.Decision
	if n := testing.AllocsPerRun(100, func() { d = e.Decide(r) }); n != 0 {
		t.Errorf("Decide: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { e.DecideBatch(rs, out) }); n != 0 {
		t.Errorf("DecideBatch: %v allocations, want 0", n)
	}
	_ = d
}

func TestEventIDsSurviveArenaCompaction(t *testing.T) {
	e := testEngine(t)
	e.ids.compactMin = 1 // compact as soon as half the arena is garbage
	const subjects = 50
	for i := range subjects {
		e.PutSubject(fmt.Sprintf("s%d", i), "EU-DE")
	}
	held := e.Decide(req("s0", "marketing", "image")) // no grant yet
	var last [subjects]string
	for round := range 20 {
		for i := range subjects {
			ev := grantAt(e, fmt.Sprintf("s%d", i), "marketing", likeness.Checkbox, t0.Add(time.Duration(round)*time.Second))
			last[i] = ev.ID
		}
		if round == 3 {
			held = e.Decide(req("s0", "marketing", "image"))
		}
	}
	heldID := held.EventID
	for i := range subjects {
		if d := e.Decide(req(fmt.Sprintf("s%d", i), "marketing", "image")); d.EventID != last[i] {
			t.Fatalf("s%d: EventID = %q, want %q", i, d.EventID, last[i])
		}
	}
	if e.ids.total > 4*e.ids.live {
		t.Errorf("arena holds %d bytes for %d live: not compacted", e.ids.total, e.ids.live)
	}
	if held.EventID != heldID || len(heldID) != 30 {
		t.Errorf("an id handed out before compaction changed: %q", held.EventID)
	}
}

// TestConcurrentApplyAndDecide is for -race: writers record and withdraw
// consent, swap the policy and compact the id arena while readers decide.
func TestConcurrentApplyAndDecide(t *testing.T) {
	e := testEngine(t)
	e.ids.compactMin = 1
	const subjects = 64
	for i := range subjects {
		e.PutSubject(fmt.Sprintf("s%d", i), "EU-DE")
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for n := range 2000 {
				id := fmt.Sprintf("s%d", (n*7+w)%subjects)
				typ := likeness.Grant
				if n%2 == 1 {
					typ = likeness.Withdraw
				}
				e.Apply(&likeness.ConsentEvent{
					ID: fmt.Sprintf("evt_w%d_%06d", w, n), SubjectID: id, Purpose: "marketing", Type: typ,
					Method: likeness.Checkbox, Time: t0.Add(time.Duration(n) * time.Second), LedgerIndex: int64(n*2 + w),
				})
				if n%500 == 0 {
					e.SetPolicy(mustParse(t), nil)
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			rs := make([]likeness.DecisionRequest, subjects)
			out := make([]likeness.Decision, subjects)
			for i := range rs {
				rs[i] = *req(fmt.Sprintf("s%d", i), "marketing", "image")
			}
			for range 200 {
				e.DecideBatch(rs, out)
				for i := range out {
					if out[i].Allow && out[i].EventID == "" {
						t.Errorf("allow without evidence")
					}
				}
				d := e.Decide(&rs[0])
				_ = d.EventID + "" // read the shared string
				e.State("s1", "marketing", time.Time{})
				e.Stats()
			}
		})
	}
	wg.Wait()
}

func TestAssetDecisionsFollowSubjectAndAsset(t *testing.T) {
	e := New(mustParse(t))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.PutSubject("s1", "EU-DE")
	e.Apply(&likeness.ConsentEvent{ID: "evt_1", SubjectID: "s1", Purpose: "ai-training", Type: likeness.Grant, Method: likeness.Checkbox, NoticeVersion: 1, Time: t0})
	e.Apply(&likeness.ConsentEvent{ID: "evt_2", SubjectID: "s1", Purpose: "transcription", Type: likeness.Grant, Method: likeness.Checkbox, NoticeVersion: 1, Time: t0})
	e.PutAsset(&likeness.Asset{ID: "ast_1", SubjectID: "s1", Purpose: "ai-training", Category: "voice", RetainUntil: t0.Add(48 * time.Hour)})
	at := t0.Add(time.Hour)
	ask := func(r likeness.DecisionRequest) likeness.Decision {
		r.At = at
		return e.Decide(&r)
	}
	if d := ask(likeness.DecisionRequest{AssetID: "ast_1", Purpose: "ai-training"}); !d.Allow || d.SubjectID != "s1" || d.EventID != "evt_1" {
		t.Fatalf("consented asset: %+v", d)
	}
	// Consented to another purpose too, the person's recording made for
	// ai-training is not used for it.
	if d := ask(likeness.DecisionRequest{SubjectID: "s1", Purpose: "transcription", Category: "voice"}); !d.Allow {
		t.Fatalf("the other purpose is consented: %+v", d)
	}
	if d := ask(likeness.DecisionRequest{AssetID: "ast_1", Purpose: "transcription"}); d.Allow || !d.Reasons.Has(likeness.ReasonPurposeMismatch) {
		t.Fatalf("an asset asked for a purpose it was not collected for: %+v", d)
	}
	if d := ask(likeness.DecisionRequest{AssetID: "ast_1", Purpose: "ai-training", Category: "image"}); d.Allow || !d.Reasons.Has(likeness.ReasonCategoryNotCovered) {
		t.Fatalf("asking about another category than the asset's: %+v", d)
	}
	at = t0.Add(49 * time.Hour)
	if d := ask(likeness.DecisionRequest{AssetID: "ast_1", Purpose: "ai-training"}); d.Allow || !d.Reasons.Has(likeness.ReasonAssetExpired) {
		t.Fatalf("past retention, before any sweeper: %+v", d)
	}
	at = t0.Add(time.Hour)
	e.EraseAsset("ast_1")
	if d := ask(likeness.DecisionRequest{AssetID: "ast_1", Purpose: "ai-training"}); d.Allow || !d.Reasons.Has(likeness.ReasonAssetErased) {
		t.Fatalf("erased asset: %+v", d)
	}
}

// A withdrawal committed after a grant wins even when a replica with a
// fast clock stamped the grant later than the withdrawal.
func TestLaterLedgerEventWinsOverClockSkew(t *testing.T) {
	e := New(mustParse(t))
	e.PutSubject("s1", "EU-DE")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Apply(&likeness.ConsentEvent{ID: "evt_g", SubjectID: "s1", Purpose: "ai-training", Type: likeness.Grant, Method: likeness.Checkbox,
		NoticeVersion: 1, Time: base.Add(5 * time.Second), LedgerIndex: 0})
	e.Apply(&likeness.ConsentEvent{ID: "evt_w", SubjectID: "s1", Purpose: "ai-training", Type: likeness.Withdraw,
		Time: base, LedgerIndex: 1})
	d := e.Decide(&likeness.DecisionRequest{SubjectID: "s1", Purpose: "ai-training", Category: "voice", At: base.Add(10 * time.Second)})
	if d.Allow || !d.Reasons.Has(likeness.ReasonWithdrawn) {
		t.Fatalf("decision after a withdrawal stamped earlier than the grant: %+v", d)
	}
}
