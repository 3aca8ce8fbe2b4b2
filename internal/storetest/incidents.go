package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"likeness"
)

func init() {
	tests = append(tests,
		Test{"IncidentScopeIsSelectedByTheStore", testIncidentScope},
		Test{"IncidentRoundTripWithAffectedSubjects", testIncidentRoundTrip},
		Test{"IncidentNotificationsMoveStateAndTellSubjectsOnce", testIncidentNotifications},
		Test{"IncidentClosesOnce", testIncidentClose},
	)
}

// scopeFixture is two subjects' assets across purposes, categories, regions
// and creation times, one erased before detection and one after.
type scopeFixture struct {
	a, b                              string
	aVoice, aImage, aOld, bImage, bUS string
	erasedBefore, erasedAfter         string
	detected                          time.Time
}

func newScopeFixture(t *testing.T, s likeness.Store) *scopeFixture {
	t.Helper()
	ctx := context.Background()
	f := &scopeFixture{a: NewSubject(t, s, "a").ID, b: NewSubject(t, s, "b").ID, detected: t0.Add(10 * time.Hour)}
	add := func(sub, purpose, category, region string, created time.Time) string {
		a := newAsset(sub, purpose, "", created)
		a.Category, a.Region = category, region
		if err := s.InsertAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	f.aVoice = add(f.a, "calls", "voice", "eu", t0.Add(time.Hour))
	f.aImage = add(f.a, "ads", "image", "eu", t0.Add(2*time.Hour))
	f.aOld = add(f.a, "calls", "voice", "eu", t0.Add(-48*time.Hour))
	f.bImage = add(f.b, "ads", "image", "eu", t0.Add(3*time.Hour))
	f.bUS = add(f.b, "calls", "voice", "us", t0.Add(4*time.Hour))
	f.erasedBefore = add(f.b, "ads", "image", "eu", t0.Add(time.Hour))
	f.erasedAfter = add(f.b, "ads", "video", "eu", t0.Add(time.Hour))
	if err := s.MarkAssetErased(ctx, f.erasedBefore, f.detected, "erased_on_request"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAssetErased(ctx, f.erasedAfter, f.detected.Add(time.Microsecond), "erased_on_request"); err != nil {
		t.Fatal(err)
	}
	return f
}

func testIncidentScope(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	f := newScopeFixture(t, s)
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, tc := range []struct {
		name  string
		scope likeness.IncidentScope
		want  map[string][]string
	}{
		{"everything that existed at detection", likeness.IncidentScope{},
			map[string][]string{f.a: {f.aVoice, f.aImage, f.aOld}, f.b: {f.bImage, f.bUS, f.erasedAfter}}},
		{"by category", likeness.IncidentScope{Categories: []string{"image"}},
			map[string][]string{f.a: {f.aImage}, f.b: {f.bImage}}},
		{"by categories, any of them", likeness.IncidentScope{Categories: []string{"video", "voice"}},
			map[string][]string{f.a: {f.aVoice, f.aOld}, f.b: {f.bUS, f.erasedAfter}}},
		{"by purpose", likeness.IncidentScope{Purposes: []string{"calls"}},
			map[string][]string{f.a: {f.aVoice, f.aOld}, f.b: {f.bUS}}},
		{"by region", likeness.IncidentScope{Regions: []string{"us"}},
			map[string][]string{f.b: {f.bUS}}},
		{"by purpose and category", likeness.IncidentScope{Purposes: []string{"ads"}, Categories: []string{"image"}},
			map[string][]string{f.a: {f.aImage}, f.b: {f.bImage}}},
		{"by creation window", likeness.IncidentScope{From: t0.Add(2 * time.Hour), To: t0.Add(3 * time.Hour)},
			map[string][]string{f.a: {f.aImage}, f.b: {f.bImage}}},
		{"from only", likeness.IncidentScope{From: t0.Add(4 * time.Hour)},
			map[string][]string{f.b: {f.bUS}}},
		{"to only", likeness.IncidentScope{To: t0},
			map[string][]string{f.a: {f.aOld}}},
		{"explicit asset ids", likeness.IncidentScope{AssetIDs: []string{f.bUS, f.aOld, f.erasedBefore, "ast_nope"}},
			map[string][]string{f.a: {f.aOld}, f.b: {f.bUS}}},
		{"nothing matches", likeness.IncidentScope{Regions: []string{"ap"}}, map[string][]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.AffectedSubjects(ctx, tc.scope, f.detected)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("AffectedSubjects returned nil, want an empty list")
			}
			if !slices.IsSortedFunc(got, func(x, y likeness.IncidentSubject) int { return strings.Compare(x.SubjectID, y.SubjectID) }) {
				t.Errorf("subjects not ordered by id: %v", got)
			}
			gotMap := map[string][]string{}
			for _, g := range got {
				gotMap[g.SubjectID] = g.AssetIDs
			}
			if len(gotMap) != len(tc.want) {
				t.Fatalf("affected = %v, want %v", gotMap, tc.want)
			}
			for sub, want := range tc.want {
				if !slices.Equal(gotMap[sub], sorted(want...)) {
					t.Errorf("assets of %s = %v, want %v", sub, gotMap[sub], sorted(want...))
				}
			}
		})
	}
}

func newIncident(detected time.Time, affected []likeness.IncidentSubject) *likeness.Incident {
	n := 0
	for _, a := range affected {
		n += len(a.AssetIDs)
	}
	return &likeness.Incident{ID: likeness.NewID("inc"), Title: "Backup bucket was public", Description: "A misconfigured bucket.",
		DetectedAt: detected, OpenedAt: detected.Add(time.Hour), OpenedBy: "key_x",
		Scope:            likeness.IncidentScope{Categories: []string{"image"}, From: t0, To: t0.Add(24 * time.Hour)},
		AffectedSubjects: len(affected), AffectedAssets: n, AuthorityDeadline: detected.Add(likeness.AuthorityDeadline),
		State: likeness.IncidentOpen, Notifications: []likeness.IncidentNotification{}}
}

// outboxOfType claims every message for a fresh sink and returns those of typ.
func outboxOfType(t *testing.T, s likeness.Store, typ string) []*likeness.OutboxMessage {
	t.Helper()
	var out []*likeness.OutboxMessage
	for _, d := range claimAll(t, s, "incident-test-"+likeness.NewID("snk"), t0.Add(365*24*time.Hour)) {
		if d.Message.Type == typ {
			out = append(out, d.Message)
		}
	}
	return out
}

func testIncidentRoundTrip(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a, b := NewSubject(t, s, "a").ID, NewSubject(t, s, "b").ID
	affected := []likeness.IncidentSubject{{SubjectID: a, AssetIDs: []string{"ast_1", "ast_2"}}, {SubjectID: b, AssetIDs: []string{"ast_3"}}}
	slices.SortFunc(affected, func(x, y likeness.IncidentSubject) int { return strings.Compare(x.SubjectID, y.SubjectID) })
	inc := newIncident(t0, affected)
	if err := s.CreateIncident(ctx, inc, affected); err != nil {
		t.Fatal(err)
	}
	got, err := s.Incident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *inc
	want.DetectedAt, want.OpenedAt = want.DetectedAt.Truncate(time.Microsecond), want.OpenedAt.Truncate(time.Microsecond)
	want.AuthorityDeadline = want.AuthorityDeadline.Truncate(time.Microsecond)
	want.Scope.From = want.Scope.From.Truncate(time.Microsecond)
	want.Scope.To = want.Scope.To.Truncate(time.Microsecond)
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if string(wj) != string(gj) {
		t.Fatalf("Incident = %s\nwant %s", gj, wj)
	}
	subs, err := s.IncidentSubjects(ctx, inc.ID)
	if err != nil || len(subs) != 2 || subs[0].SubjectID != affected[0].SubjectID ||
		!slices.Equal(subs[0].AssetIDs, affected[0].AssetIDs) || !slices.Equal(subs[1].AssetIDs, affected[1].AssetIDs) {
		t.Fatalf("IncidentSubjects = %v, %v; want %v", subs, err, affected)
	}
	if err := s.CreateIncident(ctx, inc, nil); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("creating a duplicate incident: %v, want conflict", err)
	}
	if _, err := s.Incident(ctx, likeness.NewID("inc")); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("Incident(unknown) = %v, want not_found", err)
	}
	if _, err := s.IncidentSubjects(ctx, likeness.NewID("inc")); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("IncidentSubjects(unknown) = %v, want not_found", err)
	}
	// A failed create leaves nothing behind: an unknown subject fails the
	// whole transaction.
	bad := newIncident(t0, nil)
	if err := s.CreateIncident(ctx, bad, []likeness.IncidentSubject{{SubjectID: a, AssetIDs: []string{"x"}}, {SubjectID: "sub_nope", AssetIDs: []string{"y"}}}); err == nil {
		t.Fatal("an incident with an unknown subject was stored")
	}
	if _, err := s.Incident(ctx, bad.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("a failed create left the incident behind: %v", err)
	}
	opened := outboxOfType(t, s, likeness.MsgIncidentOpened)
	if !likeness.ValidMessageType(likeness.MsgIncidentOpened) {
		if len(opened) != 0 {
			t.Fatalf("%d %s messages while the type is not valid", len(opened), likeness.MsgIncidentOpened)
		}
		return
	}
	if len(opened) != 1 || opened[0].SubjectID != "" {
		t.Fatalf("%s messages = %v, want one about no subject", likeness.MsgIncidentOpened, opened)
	}
}

// testIncidentNotifications follows an incident through its notifications
// to the authority and to the subjects, with the deadline filter and the
// message each subject receives. It is one scenario from start to finish;
// splitting it would hide the order.
func testIncidentNotifications(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a, b := NewSubject(t, s, "a").ID, NewSubject(t, s, "b").ID
	affected := []likeness.IncidentSubject{{SubjectID: a, AssetIDs: []string{"ast_1"}}, {SubjectID: b, AssetIDs: []string{"ast_2", "ast_3"}}}
	older := newIncident(t0, affected)
	newer := newIncident(t0.Add(48*time.Hour), nil)
	if err := s.CreateIncident(ctx, older, affected); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIncident(ctx, newer, nil); err != nil {
		t.Fatal(err)
	}
	ids := func(incs []*likeness.Incident, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, inc := range incs {
			out = append(out, inc.ID)
		}
		return out
	}
	if got := ids(s.Incidents(ctx, likeness.IncidentFilter{})); !slices.Equal(got, []string{newer.ID, older.ID}) {
		t.Fatalf("Incidents = %v, want newest detection first", got)
	}
	overdue := likeness.IncidentFilter{State: likeness.IncidentOpen, DeadlineBefore: t0.Add(73 * time.Hour)}
	if got := ids(s.Incidents(ctx, overdue)); !slices.Equal(got, []string{older.ID}) {
		t.Fatalf("open with deadline before 73h = %v, want the older one", got)
	}
	at := t0.Add(70 * time.Hour)
	if err := s.AddNotification(ctx, older.ID, likeness.IncidentNotification{Kind: likeness.NotifyAuthority, At: at, Reference: "BfDI-2026-117", Count: 1}); err != nil {
		t.Fatal(err)
	}
	if got := ids(s.Incidents(ctx, overdue)); len(got) != 0 {
		t.Fatalf("after notifying the authority, open and overdue = %v", got)
	}
	got, _ := s.Incident(ctx, older.ID)
	if got.State != likeness.IncidentAuthorityNotified || len(got.Notifications) != 1 || got.Notifications[0].Reference != "BfDI-2026-117" ||
		!got.Notifications[0].At.Equal(at) {
		t.Fatalf("after authority notification: %+v", got)
	}
	// A follow-up to the authority (Art. 33(4)) s recorded as well.
	if err := s.AddNotification(ctx, older.ID, likeness.IncidentNotification{Kind: likeness.NotifyAuthority, At: at.Add(time.Hour), Reference: "BfDI-2026-117 follow-up", Count: 1}); err != nil {
		t.Fatal(err)
	}
	sn := likeness.IncidentNotification{Kind: likeness.NotifySubjects, At: at.Add(2 * time.Hour), Count: 2}
	if err := s.AddNotification(ctx, older.ID, sn); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNotification(ctx, older.ID, sn); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("second subjects notification: %v, want conflict", err)
	}
	got, _ = s.Incident(ctx, older.ID)
	if len(got.Notifications) != 3 || got.Notifications[2].Kind != likeness.NotifySubjects || got.Notifications[2].Count != 2 {
		t.Fatalf("notifications = %+v", got.Notifications)
	}
	if err := s.AddNotification(ctx, likeness.NewID("inc"), sn); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("notifying an unknown incident: %v", err)
	}
	if err := s.AddNotification(ctx, newer.ID, likeness.IncidentNotification{Kind: "press", At: at}); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Fatalf("unknown kind: %v, want invalid", err)
	}
	msgs := outboxOfType(t, s, likeness.MsgIncidentSubjectNotice)
	if !likeness.ValidMessageType(likeness.MsgIncidentSubjectNotice) {
		if len(msgs) != 0 {
			t.Fatalf("%d subject notices while the type is not valid", len(msgs))
		}
		return
	}
	if len(msgs) != 2 {
		t.Fatalf("%d subject notices, want one per affected subject (2)", len(msgs))
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		var d likeness.IncidentSubjectNoticeData
		if err := json.Unmarshal(m.Data, &d); err != nil || d.IncidentID != older.ID || d.SubjectID != m.SubjectID {
			t.Fatalf("notice data = %s, %v", m.Data, err)
		}
		seen[m.SubjectID] = true
	}
	if !seen[a] || !seen[b] {
		t.Fatalf("notices went to %v, want %s and %s", seen, a, b)
	}
}

func testIncidentClose(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	inc := newIncident(t0, nil)
	if err := s.CreateIncident(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(5 * time.Hour)
	if err := s.CloseIncident(ctx, inc.ID, likeness.CloseNoRisk, "encrypted at rest; key not exposed", at); err != nil {
		t.Fatal(err)
	}
	got, err := s.Incident(ctx, inc.ID)
	if err != nil || got.State != likeness.IncidentClosed || got.CloseReason != likeness.CloseNoRisk || !got.ClosedAt.Equal(at) ||
		got.CloseNote != "encrypted at rest; key not exposed" {
		t.Fatalf("closed incident = %+v, %v", got, err)
	}
	if err := s.CloseIncident(ctx, inc.ID, likeness.CloseResolved, "", at); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("closing twice: %v, want conflict", err)
	}
	if err := s.AddNotification(ctx, inc.ID, likeness.IncidentNotification{Kind: likeness.NotifyAuthority, At: at, Reference: "x", Count: 1}); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("notifying about a closed incident: %v, want conflict", err)
	}
	if err := s.CloseIncident(ctx, likeness.NewID("inc"), likeness.CloseNoRisk, "n", at); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("closing an unknown incident: %v, want not_found", err)
	}
	if open, err := s.Incidents(ctx, likeness.IncidentFilter{State: likeness.IncidentOpen}); err != nil || len(open) != 0 {
		t.Fatalf("open incidents after closing the only one: %v, %v", open, err)
	}
}
