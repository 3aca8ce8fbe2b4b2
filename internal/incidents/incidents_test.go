package incidents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"slices"
	"testing"
	"time"

	"likeness"
	"likeness/internal/incidents"
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
)

// fixture is a real deployment with two people's voice recordings and
// photos, collected for different purposes an hour apart.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	d     *likenesstest.Deployment
	svc   *incidents.Service
	alice string
	bob   string
	// alice: voice for voice-transcription at T0, image for ai-training at T0+1h
	// bob:   image for marketing-personalization at T0+2h, voice for ai-training at T0+3h
	aliceVoice, aliceImage, bobImage, bobVoice *likeness.Asset
	t0                                         time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := likenesstest.New(t, likenesstest.Options{})
	svc, err := incidents.New(incidents.Config{Store: d.Store, Policy: d.Notices.Policy, Now: d.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, d: d, svc: svc, t0: d.Clock.Now(),
		ctx: likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_dpo", Role: likeness.RoleAdmin})}
	f.alice = d.Subject(t, "alice", "EU-DE")
	f.bob = d.Subject(t, "bob", "EU-DE")
	d.Grant(t, f.alice, "voice-transcription", "ai-training")
	d.Grant(t, f.bob, "marketing-personalization", "ai-training")
	f.aliceVoice = f.upload(f.alice, "voice-transcription", "voice", "audio/wav", likenesstest.WAV("alice", 100))
	d.Clock.Add(time.Hour)
	f.aliceImage = f.upload(f.alice, "ai-training", "image", "image/jpeg", testJPEG(t, 1))
	d.Clock.Add(time.Hour)
	f.bobImage = f.upload(f.bob, "marketing-personalization", "image", "image/jpeg", testJPEG(t, 2))
	d.Clock.Add(time.Hour)
	f.bobVoice = f.upload(f.bob, "ai-training", "voice", "audio/wav", likenesstest.WAV("bob", 100))
	d.Clock.Add(time.Hour)
	return f
}

func (f *fixture) upload(sub, purpose, category, ctype string, body []byte) *likeness.Asset {
	f.t.Helper()
	a, err := f.d.Vault.Ingest(f.ctx, &vault.Upload{SubjectID: sub, Purpose: purpose, Category: category, ContentType: ctype,
		Body: bytes.NewReader(body)})
	if err != nil {
		f.t.Fatalf("ingest: %v", err)
	}
	return a
}

func testJPEG(t testing.TB, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for x := range 32 {
		for y := range 24 {
			img.Set(x, y, color.RGBA{uint8(x*7 + seed), uint8(y * 9), uint8(seed * 50), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (f *fixture) open(scope likeness.IncidentScope) *incidents.View {
	f.t.Helper()
	v, err := f.svc.Open(f.ctx, "Transcription bucket readable by anyone", "A storage bucket was public for two days.",
		f.d.Clock.Now().Add(-time.Hour), scope)
	if err != nil {
		f.t.Fatalf("Open: %v", err)
	}
	return v
}

// affected returns subject id → asset ids as the store recorded them.
func (f *fixture) affected(id string) map[string][]string {
	f.t.Helper()
	subs, err := f.svc.Subjects(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, s := range subs {
		out[s.SubjectID] = s.AssetIDs
	}
	return out
}

func ids(as ...*likeness.Asset) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	slices.Sort(out)
	return out
}

func sameAffected(t *testing.T, got, want map[string][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("affected = %v, want %v", got, want)
	}
	for sub, w := range want {
		if !slices.Equal(got[sub], w) {
			t.Fatalf("assets of %s = %v, want %v", sub, got[sub], w)
		}
	}
}

func TestScopeByCategoryPicksTheSubjectsWithThatData(t *testing.T) {
	f := newFixture(t)
	voice := f.open(likeness.IncidentScope{Categories: []string{"voice"}})
	if voice.AffectedSubjects != 2 || voice.AffectedAssets != 2 {
		t.Fatalf("voice breach: %d subjects, %d assets; want 2, 2", voice.AffectedSubjects, voice.AffectedAssets)
	}
	sameAffected(t, f.affected(voice.ID), map[string][]string{f.alice: ids(f.aliceVoice), f.bob: ids(f.bobVoice)})

	marketingPhotos := f.open(likeness.IncidentScope{Categories: []string{"image"}, Purposes: []string{"marketing-personalization"}})
	if marketingPhotos.AffectedSubjects != 1 {
		t.Fatalf("marketing photos breach affected %d subjects, want bob only", marketingPhotos.AffectedSubjects)
	}
	sameAffected(t, f.affected(marketingPhotos.ID), map[string][]string{f.bob: ids(f.bobImage)})

	transcription := f.open(likeness.IncidentScope{Purposes: []string{"voice-transcription"}})
	sameAffected(t, f.affected(transcription.ID), map[string][]string{f.alice: ids(f.aliceVoice)})

	everything := f.open(likeness.IncidentScope{})
	if everything.AffectedSubjects != 2 || everything.AffectedAssets != 4 {
		t.Fatalf("an empty scope affected %d subjects, %d assets; want everyone: 2, 4", everything.AffectedSubjects, everything.AffectedAssets)
	}
}

func TestScopeByTimeWindow(t *testing.T) {
	f := newFixture(t)
	v := f.open(likeness.IncidentScope{From: f.t0.Add(30 * time.Minute), To: f.t0.Add(2 * time.Hour)})
	sameAffected(t, f.affected(v.ID), map[string][]string{f.alice: ids(f.aliceImage), f.bob: ids(f.bobImage)})

	later := f.open(likeness.IncidentScope{From: f.t0.Add(150 * time.Minute), Categories: []string{"voice"}})
	sameAffected(t, f.affected(later.ID), map[string][]string{f.bob: ids(f.bobVoice)})
}

func TestScopeByExplicitAssets(t *testing.T) {
	f := newFixture(t)
	v := f.open(likeness.IncidentScope{AssetIDs: []string{f.bobVoice.ID, f.aliceImage.ID, f.bobVoice.ID}})
	if v.AffectedSubjects != 2 || v.AffectedAssets != 2 || len(v.Scope.AssetIDs) != 2 {
		t.Fatalf("explicit scope: %+v", v.Incident)
	}
	sameAffected(t, f.affected(v.ID), map[string][]string{f.alice: ids(f.aliceImage), f.bob: ids(f.bobVoice)})
}

func TestAssetsErasedBeforeDetectionAreNotAffected(t *testing.T) {
	f := newFixture(t)
	if _, err := f.d.Vault.EraseAsset(f.ctx, f.aliceImage.ID, "erased_on_request"); err != nil {
		t.Fatal(err)
	}
	f.d.Clock.Add(time.Hour)
	detected := f.d.Clock.Now()
	f.d.Clock.Add(time.Hour)
	if _, err := f.d.Vault.EraseAsset(f.ctx, f.bobImage.ID, "erased_on_request"); err != nil {
		t.Fatal(err)
	}
	v, err := f.svc.Open(f.ctx, "Photo store leaked", "", detected, likeness.IncidentScope{Categories: []string{"image"}})
	if err != nil {
		t.Fatal(err)
	}
	// Alice's photo was gone when the breach happened; Bob's was still
	// there and was erased only afterwards.
	sameAffected(t, f.affected(v.ID), map[string][]string{f.bob: ids(f.bobImage)})
}

func TestDeadlineIs72HoursAfterDetectionAndOverdueListsMissedOnes(t *testing.T) {
	f := newFixture(t)
	detected := f.d.Clock.Now().Add(-time.Hour)
	v := f.open(likeness.IncidentScope{Categories: []string{"voice"}})
	if !v.AuthorityDeadline.Equal(detected.Add(72*time.Hour)) || v.HoursLeft == nil || *v.HoursLeft != 71 || v.Overdue {
		t.Fatalf("deadline %s, hours left %v, overdue %v; want %s, 71, false", v.AuthorityDeadline, v.HoursLeft, v.Overdue, detected.Add(72*time.Hour))
	}
	if v.OpenedBy != "key_dpo" || v.State != likeness.IncidentOpen {
		t.Fatalf("opened by %q in state %q", v.OpenedBy, v.State)
	}
	other := f.open(likeness.IncidentScope{Categories: []string{"image"}})

	overdue := func() []string {
		t.Helper()
		vs, err := f.svc.List(f.ctx, incidents.ListOptions{Overdue: true})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vs {
			if !v.Overdue {
				t.Errorf("listed as overdue but Overdue is false: %s", v.ID)
			}
			out = append(out, v.ID)
		}
		slices.Sort(out)
		return out
	}
	f.d.Clock.Add(71 * time.Hour) // exactly at the deadline: not yet late
	if got := overdue(); len(got) != 0 {
		t.Fatalf("overdue at the deadline = %v, want none", got)
	}
	f.d.Clock.Add(time.Minute)
	if got, want := overdue(), []string{v.ID, other.ID}; !slices.Equal(got, sorted(want)) {
		t.Fatalf("overdue a minute after the deadline = %v, want %v", got, sorted(want))
	}
	got, err := f.svc.Get(f.ctx, v.ID)
	if err != nil || !got.Overdue || got.HoursLeft == nil || *got.HoursLeft >= 0 {
		t.Fatalf("Get after the deadline: overdue %v, hours left %v, %v", got.Overdue, got.HoursLeft, err)
	}

	// Notifying the authority, even late, takes the incident off the list.
	n, err := f.svc.NotifyAuthority(f.ctx, v.ID, "BfDI-2026-0117", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n.State != likeness.IncidentAuthorityNotified || n.Overdue || n.HoursLeft != nil || len(n.Notifications) != 1 ||
		n.Notifications[0].Reference != "BfDI-2026-0117" || !n.Notifications[0].At.Equal(f.d.Clock.Now()) {
		t.Fatalf("after notifying the authority: %+v", n.Incident)
	}
	if got := overdue(); !slices.Equal(got, []string{other.ID}) {
		t.Fatalf("overdue after notifying = %v, want only %s", got, other.ID)
	}
	notified, err := f.svc.List(f.ctx, incidents.ListOptions{State: likeness.IncidentAuthorityNotified})
	if err != nil || len(notified) != 1 || notified[0].ID != v.ID {
		t.Fatalf("List(authority_notified) = %v, %v", notified, err)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func TestNotifySubjectsRecordsTheCountOnce(t *testing.T) {
	f := newFixture(t)
	v := f.open(likeness.IncidentScope{Categories: []string{"image", "voice"}})
	n, err := f.svc.NotifySubjects(f.ctx, v.ID, "mailing-7", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Notifications) != 1 || n.Notifications[0].Kind != likeness.NotifySubjects || n.Notifications[0].Count != 2 {
		t.Fatalf("notifications = %+v, want one subjects notification counting 2", n.Notifications)
	}
	if n.State != likeness.IncidentOpen {
		t.Fatalf("telling the subjects moved the state to %q; the authority still has to be notified", n.State)
	}
	if _, err := f.svc.NotifySubjects(f.ctx, v.ID, "", time.Time{}); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("second subjects notification: %v, want conflict", err)
	}

	var notices []*likeness.OutboxMessage
	for {
		ds, err := f.d.Store.ClaimDeliveries(f.ctx, "test", f.d.Clock.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			if d.Message.Type == likeness.MsgIncidentSubjectNotice {
				notices = append(notices, d.Message)
			}
			if err := f.d.Store.MarkDelivered(f.ctx, "test", d.Message.ID, f.d.Clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !likeness.ValidMessageType(likeness.MsgIncidentSubjectNotice) {
		if len(notices) != 0 {
			t.Fatalf("%d notices while the type is not valid", len(notices))
		}
		t.Logf("%s is not a valid outbox type yet: no messages expected", likeness.MsgIncidentSubjectNotice)
		return
	}
	got := map[string][]string{}
	for _, m := range notices {
		var d likeness.IncidentSubjectNoticeData
		if err := json.Unmarshal(m.Data, &d); err != nil || d.IncidentID != v.ID || d.SubjectID != m.SubjectID {
			t.Fatalf("notice %s: %v", m.Data, err)
		}
		got[m.SubjectID] = sorted(d.AssetIDs)
	}
	sameAffected(t, got, map[string][]string{f.alice: ids(f.aliceVoice, f.aliceImage), f.bob: ids(f.bobImage, f.bobVoice)})
}

func TestNotifySubjectsOfAnIncidentWithoutSubjectsIsRefused(t *testing.T) {
	f := newFixture(t)
	v := f.open(likeness.IncidentScope{Categories: []string{"video"}})
	if v.AffectedSubjects != 0 {
		t.Fatalf("video breach affected %d subjects; no videos were stored", v.AffectedSubjects)
	}
	if _, err := f.svc.NotifySubjects(f.ctx, v.ID, "", time.Time{}); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Fatalf("notifying no one: %v, want invalid", err)
	}
}

func TestCloseNeedsTheAuthorityNotifiedOrAReasonedNoRisk(t *testing.T) {
	f := newFixture(t)
	v := f.open(likeness.IncidentScope{Categories: []string{"voice"}})
	if _, err := f.svc.Close(f.ctx, v.ID, likeness.CloseResolved, ""); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("resolving before notifying the authority: %v, want conflict", err)
	}
	if _, err := f.svc.Close(f.ctx, v.ID, likeness.CloseNoRisk, "  "); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Fatalf("no_risk without a note: %v, want invalid", err)
	}
	if _, err := f.svc.Close(f.ctx, v.ID, "bored", "x"); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Fatalf("unknown reason: %v, want invalid", err)
	}
	c, err := f.svc.Close(f.ctx, v.ID, likeness.CloseNoRisk, "The recordings were encrypted and the key was not exposed.")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != likeness.IncidentClosed || c.CloseReason != likeness.CloseNoRisk || !c.ClosedAt.Equal(f.d.Clock.Now()) || c.Overdue {
		t.Fatalf("closed: %+v", c.Incident)
	}
	if _, err := f.svc.Close(f.ctx, v.ID, likeness.CloseNoRisk, "again"); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("closing twice: %v, want conflict", err)
	}
	if _, err := f.svc.NotifyAuthority(f.ctx, v.ID, "late", time.Time{}); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("notifying after closing: %v, want conflict", err)
	}
	// A closed incident is never overdue, however late.
	f.d.Clock.Add(100 * time.Hour)
	if vs, _ := f.svc.List(f.ctx, incidents.ListOptions{Overdue: true}); len(vs) != 0 {
		t.Fatalf("a closed incident is listed as overdue")
	}

	w := f.open(likeness.IncidentScope{Categories: []string{"image"}})
	if _, err := f.svc.NotifyAuthority(f.ctx, w.ID, "BfDI-2026-0118", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c, err := f.svc.Close(f.ctx, w.ID, likeness.CloseResolved, ""); err != nil || c.State != likeness.IncidentClosed {
		t.Fatalf("resolving after notifying: %v, %v", c, err)
	}
}

func TestNotificationTimesMustBeReal(t *testing.T) {
	f := newFixture(t)
	v := f.open(likeness.IncidentScope{})
	now := f.d.Clock.Now()
	for name, at := range map[string]time.Time{"future": now.Add(time.Minute), "before detection": v.DetectedAt.Add(-time.Second)} {
		if _, err := f.svc.NotifyAuthority(f.ctx, v.ID, "ref", at); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, err := f.svc.NotifyAuthority(f.ctx, v.ID, " ", time.Time{}); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Errorf("authority notification without a reference: %v, want invalid", err)
	}
	if _, err := f.svc.NotifyAuthority(f.ctx, likeness.NewID("inc"), "ref", time.Time{}); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Errorf("unknown incident: %v, want not_found", err)
	}
	got, _ := f.svc.Get(f.ctx, v.ID)
	if len(got.Notifications) != 0 || got.State != likeness.IncidentOpen {
		t.Fatalf("refused notifications left %+v", got.Incident)
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	f := newFixture(t)
	now := f.d.Clock.Now()
	for _, tc := range []struct {
		name     string
		title    string
		detected time.Time
		scope    likeness.IncidentScope
	}{
		{"empty title", "  ", now, likeness.IncidentScope{}},
		{"no detection time", "t", time.Time{}, likeness.IncidentScope{}},
		{"detected in the future", "t", now.Add(time.Minute), likeness.IncidentScope{}},
		{"unknown category", "t", now, likeness.IncidentScope{Categories: []string{"voice", "fingerprint"}}},
		{"unknown purpose", "t", now, likeness.IncidentScope{Purposes: []string{"surveillance"}}},
		{"to before from", "t", now, likeness.IncidentScope{From: f.t0, To: f.t0.Add(-time.Second)}},
		{"unknown asset", "t", now, likeness.IncidentScope{AssetIDs: []string{f.aliceVoice.ID, likeness.NewID("ast")}}},
		{"malformed asset id", "t", now, likeness.IncidentScope{AssetIDs: []string{"alice.wav"}}},
		{"asset ids with filters", "t", now, likeness.IncidentScope{AssetIDs: []string{f.aliceVoice.ID}, Categories: []string{"voice"}}},
		{"empty region", "t", now, likeness.IncidentScope{Regions: []string{""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Open(f.ctx, tc.title, "", tc.detected, tc.scope)
			if likeness.ErrorCode(err) != likeness.EINVALID || likeness.ErrorMessage(err) == "" {
				t.Fatalf("err = %v, want invalid with a message", err)
			}
		})
	}
	if vs, err := f.svc.List(f.ctx, incidents.ListOptions{}); err != nil || len(vs) != 0 {
		t.Fatalf("after refused opens: %d incidents, %v; want none", len(vs), err)
	}
	var n int
	if err := f.d.Store.SQL().QueryRow(`SELECT count(*) FROM incident_subjects`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("incident_subjects holds %d rows (%v) after refused opens", n, err)
	}
	if _, err := f.svc.List(f.ctx, incidents.ListOptions{State: "pending"}); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Fatalf("List(unknown state): %v, want invalid", err)
	}
}
