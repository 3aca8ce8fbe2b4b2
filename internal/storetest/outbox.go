package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
)

func init() {
	tests = append(tests,
		Test{"OutboxGetsOneMessagePerConsentEvent", testOutboxConsentMessages},
		Test{"OutboxSendsNothingForARolledBackAppend", testOutboxRolledBack},
		Test{"OutboxEnqueueIsIdempotentOnID", testOutboxEnqueueIdempotent},
		Test{"OutboxClaimMarkFailDeadRetry", testOutboxLifecycle},
		Test{"OutboxEverySinkGetsEveryMessage", testOutboxTwoSinks},
		Test{"OutboxLeaseExpiryReturnsAbandonedClaims", testOutboxLease},
		Test{"OutboxConcurrentClaimersNeverShareAMessage", testOutboxConcurrentClaims},
		Test{"OutboxKeepsEachSubjectsOrder", testOutboxSubjectOrder},
	)
}

// claimAll claims every due message for sink at now and marks each delivered.
func claimAll(t *testing.T, o likeness.OutboxStore, sink string, now time.Time) []*likeness.Delivery {
	t.Helper()
	var out []*likeness.Delivery
	for {
		ds, err := o.ClaimDeliveries(context.Background(), sink, now, 100)
		if err != nil {
			t.Fatalf("ClaimDeliveries(%s): %v", sink, err)
		}
		if len(ds) == 0 {
			return out
		}
		for _, d := range ds {
			if err := o.MarkDelivered(context.Background(), sink, d.Message.ID, now); err != nil {
				t.Fatalf("MarkDelivered: %v", err)
			}
		}
		out = append(out, ds...)
	}
}

func msgIDs(ds []*likeness.Delivery) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.Message.ID)
	}
	return ids
}

func testOutboxConsentMessages(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	evs := []*likeness.ConsentEvent{
		event(a.ID, "p1", likeness.Grant, t0),
		event(a.ID, "p1", likeness.Renew, t0.Add(time.Hour)),
		event(a.ID, "p2", likeness.Grant, t0.Add(2*time.Hour)),
		event(a.ID, "p1", likeness.Withdraw, t0.Add(3*time.Hour)),
		event(a.ID, "p2", likeness.Expire, t0.Add(4*time.Hour)),
		{ID: likeness.NewID("evt"), SubjectID: a.ID, Type: likeness.Erasure, Time: t0.Add(5 * time.Hour), Sealed: []byte{1}},
	}
	evs[0].Evidence = map[string]string{"ip": "203.0.113.9"}
	if err := s.AppendEvents(ctx, evs[:2], ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, evs[2:], ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	got := claimAll(t, s, "sink", t0.Add(24*time.Hour))
	want := []string{likeness.MsgConsentGranted, likeness.MsgConsentGranted, likeness.MsgConsentGranted,
		likeness.MsgConsentWithdrawn, likeness.MsgConsentExpired}
	var types []string
	for _, d := range got {
		types = append(types, d.Message.Type)
	}
	if !slices.Equal(types, want) {
		t.Fatalf("outbox types = %v, want %v (one per consent event, in ledger order, none for the erasure request)", types, want)
	}
	for i, d := range got {
		m := d.Message
		if !likeness.ValidID("msg", m.ID) || m.SubjectID != a.ID || !m.CreatedAt.Equal(evs[i].Time.Truncate(time.Microsecond)) {
			t.Errorf("message %d = %+v", i, m)
		}
		var data likeness.ConsentMessageData
		if err := json.Unmarshal(m.Data, &data); err != nil {
			t.Fatalf("message %d data: %v", i, err)
		}
		if data.EventID != evs[i].ID || data.Purpose != evs[i].Purpose || data.Event != evs[i].Type || data.LedgerIndex != evs[i].LedgerIndex {
			t.Errorf("message %d data = %+v, want event %s at index %d", i, data, evs[i].ID, evs[i].LedgerIndex)
		}
		for _, secret := range []string{"203.0.113.9", "evidence", "key_x"} {
			if strings.Contains(string(m.Data), secret) {
				t.Errorf("message %d data %s carries %q", i, m.Data, secret)
			}
		}
	}
}

func testOutboxRolledBack(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	first := event(a.ID, "p1", likeness.Grant, t0)
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{first}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	// A batch with a duplicate event id fails whole, messages included.
	dup := []*likeness.ConsentEvent{event(a.ID, "p2", likeness.Withdraw, t0), {ID: first.ID, SubjectID: a.ID, Type: likeness.Grant, Time: t0}}
	if err := s.AppendEvents(ctx, dup, ledgerlog.LeafHash); err == nil {
		t.Fatal("appending a duplicate event id succeeded")
	}
	got := claimAll(t, s, "sink", t0.Add(time.Hour))
	if len(got) != 1 || got[0].Message.Type != likeness.MsgConsentGranted {
		t.Fatalf("after one committed and one rolled-back append the outbox holds %d messages (%v), want the 1 committed", len(got), msgIDs(got))
	}
}

func testOutboxEnqueueIdempotent(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	m := &likeness.OutboxMessage{ID: "msg_fixed", Type: likeness.MsgSubjectErased, SubjectID: "sub_x", Data: json.RawMessage(`{"n":1}`), CreatedAt: t0}
	for range 2 {
		if err := s.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	fresh := &likeness.OutboxMessage{Type: likeness.MsgDatasetTainted}
	if err := s.Enqueue(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if !likeness.ValidID("msg", fresh.ID) || fresh.CreatedAt.IsZero() {
		t.Fatalf("Enqueue left ID %q / CreatedAt %v unset", fresh.ID, fresh.CreatedAt)
	}
	got := claimAll(t, s, "sink", time.Now().Add(time.Hour))
	if ids := msgIDs(got); !slices.Equal(ids, []string{"msg_fixed", fresh.ID}) {
		t.Fatalf("claimed %v, want msg_fixed once, then %s", ids, fresh.ID)
	}
	if string(got[0].Message.Data) != `{"n":1}` || got[0].Message.SubjectID != "sub_x" {
		t.Fatalf("stored message = %+v", got[0].Message)
	}
	for _, bad := range []*likeness.OutboxMessage{{Type: "consent.maybe"}, {Type: likeness.MsgAssetErased, Data: json.RawMessage("{nope")}} {
		if err := s.Enqueue(ctx, bad); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("Enqueue(%+v) err = %v, want invalid", bad, err)
		}
	}
}

func enqueueN(t *testing.T, o likeness.OutboxStore, n int, subject string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		m := &likeness.OutboxMessage{Type: likeness.MsgAssetErased, SubjectID: subject,
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), CreatedAt: t0}
		if err := o.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	return ids
}

func testOutboxLifecycle(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	ids := enqueueN(t, s, 2, "")
	now := t0.Add(time.Hour)
	ds, err := s.ClaimDeliveries(ctx, "hook", now, 10)
	if err != nil || len(ds) != 2 || ds[0].Message.ID != ids[0] || ds[0].Attempts != 0 || ds[0].State != likeness.DeliveryPending {
		t.Fatalf("first claim = %v, %v", msgIDs(ds), err)
	}
	if again, _ := s.ClaimDeliveries(ctx, "hook", now, 10); len(again) != 0 {
		t.Fatalf("claimed leased deliveries again: %v", msgIDs(again))
	}
	if err := s.MarkDelivered(ctx, "hook", ids[0], now); err != nil {
		t.Fatal(err)
	}
	retryAt := now.Add(time.Minute)
	if err := s.MarkFailed(ctx, "hook", ids[1], 1, retryAt, "503 Service Unavailable", false); err != nil {
		t.Fatal(err)
	}
	if early, _ := s.ClaimDeliveries(ctx, "hook", retryAt.Add(-time.Second), 10); len(early) != 0 {
		t.Fatalf("claimed before the retry time: %v", msgIDs(early))
	}
	ds, err = s.ClaimDeliveries(ctx, "hook", retryAt, 10)
	if err != nil || len(ds) != 1 || ds[0].Message.ID != ids[1] || ds[0].Attempts != 1 || ds[0].LastError != "503 Service Unavailable" {
		t.Fatalf("claim at the retry time = %+v, %v; want the failed message with 1 attempt", ds, err)
	}
	if err := s.MarkFailed(ctx, "hook", ids[1], 2, retryAt.Add(time.Hour), "503 again", true); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.ClaimDeliveries(ctx, "hook", retryAt.Add(24*time.Hour), 10); len(ds) != 0 {
		t.Fatalf("claimed a dead delivery: %v", msgIDs(ds))
	}
	for _, sink := range []string{"hook", ""} {
		dead, err := s.DeadDeliveries(ctx, sink, 10)
		if err != nil || len(dead) != 1 || dead[0].Message.ID != ids[1] || dead[0].Sink != "hook" ||
			dead[0].State != likeness.DeliveryDead || dead[0].Attempts != 2 || dead[0].LastError != "503 again" {
			t.Fatalf("DeadDeliveries(%q) = %+v, %v", sink, dead, err)
		}
	}
	if dead, _ := s.DeadDeliveries(ctx, "hook", 0); len(dead) != 0 {
		t.Fatalf("DeadDeliveries(hook, limit 0) = %v", msgIDs(dead))
	}
	if dead, _ := s.DeadDeliveries(ctx, "other", 10); len(dead) != 0 {
		t.Fatalf("DeadDeliveries(other) = %v", msgIDs(dead))
	}
	if err := s.RetryDead(ctx, "hook", ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryDead(ctx, "hook", ids[1]); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("RetryDead of a delivery no longer dead: %v, want not_found", err)
	}
	if err := s.RetryDead(ctx, "hook", ids[0]); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("RetryDead of a delivered message: %v, want not_found", err)
	}
	ds, err = s.ClaimDeliveries(ctx, "hook", retryAt, 10)
	if err != nil || len(ds) != 1 || ds[0].Message.ID != ids[1] || ds[0].Attempts != 0 {
		t.Fatalf("claim after RetryDead = %+v, %v", ds, err)
	}
	if err := s.MarkDelivered(ctx, "hook", ids[1], retryAt); err != nil {
		t.Fatal(err)
	}
	// A late failure report does not undo a delivery.
	if err := s.MarkFailed(ctx, "hook", ids[1], 1, retryAt, "late", false); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.ClaimDeliveries(ctx, "hook", retryAt.Add(24*time.Hour), 10); len(ds) != 0 {
		t.Fatalf("claimed delivered messages: %v", msgIDs(ds))
	}
	if dead, _ := s.DeadDeliveries(ctx, "", 10); len(dead) != 0 {
		t.Fatalf("dead deliveries after retry: %v", msgIDs(dead))
	}
	for name, err := range map[string]error{
		"MarkDelivered": s.MarkDelivered(ctx, "hook", "msg_nope", now),
		"MarkFailed":    s.MarkFailed(ctx, "hook", "msg_nope", 1, now, "x", false),
		"RetryDead":     s.RetryDead(ctx, "hook", "msg_nope"),
		"unclaimed":     s.MarkDelivered(ctx, "never-claimed", ids[0], now),
	} {
		if likeness.ErrorCode(err) != likeness.ENOTFOUND {
			t.Errorf("%s of an unknown delivery: %v, want not_found", name, err)
		}
	}
}

func testOutboxTwoSinks(t *testing.T, s likeness.Store) {
	ids := enqueueN(t, s, 3, "sub_a")
	now := t0.Add(time.Hour)
	a := claimAll(t, s, "webhook", now)
	// A failure on one sink does not hold the other back.
	if _, err := s.ClaimDeliveries(context.Background(), "nats", now, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(context.Background(), "nats", ids[0], 1, now, "down", false); err != nil {
		t.Fatal(err)
	}
	b := claimAll(t, s, "nats", now)
	if !slices.Equal(msgIDs(a), ids) || !slices.Equal(msgIDs(b), ids) {
		t.Fatalf("webhook got %v, nats got %v; want both %v", msgIDs(a), msgIDs(b), ids)
	}
}

func testOutboxLease(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	ids := enqueueN(t, s, 1, "sub_a")
	now := t0.Add(time.Hour)
	if ds, _ := s.ClaimDeliveries(ctx, "hook", now, 10); len(ds) != 1 {
		t.Fatalf("first claim got %d", len(ds))
	}
	// The claimer crashed: nothing is marked.
	if ds, _ := s.ClaimDeliveries(ctx, "hook", now.Add(likeness.OutboxLease-time.Second), 10); len(ds) != 0 {
		t.Fatalf("claimed within the lease: %v", msgIDs(ds))
	}
	ds, err := s.ClaimDeliveries(ctx, "hook", now.Add(likeness.OutboxLease), 10)
	if err != nil || !slices.Equal(msgIDs(ds), ids) {
		t.Fatalf("claim after the lease = %v, %v; want %v back", msgIDs(ds), err, ids)
	}
}

func testOutboxConcurrentClaims(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 10 {
		ids = append(ids, enqueueN(t, s, 4, fmt.Sprint("sub_", i%5))...)
	}
	ids = append(ids, enqueueN(t, s, 10, "")...)
	now := t0.Add(time.Hour)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idle := 0; idle < 3; {
				ds, err := s.ClaimDeliveries(ctx, "hook", now, 3)
				if err != nil {
					errs <- err
					return
				}
				if len(ds) == 0 {
					idle++
					continue
				}
				idle = 0
				for _, d := range ds {
					mu.Lock()
					seen[d.Message.ID]++
					mu.Unlock()
					if err := s.MarkDelivered(ctx, "hook", d.Message.ID, now); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Stragglers a claimer saw as idle while another held the subject.
	for _, d := range claimAll(t, s, "hook", now) {
		seen[d.Message.ID]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("message %s claimed %d times, want exactly once", id, seen[id])
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("claimed %d distinct messages, want %d", len(seen), len(ids))
	}
}

func testOutboxSubjectOrder(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := enqueueN(t, s, 2, "sub_a")
	b := enqueueN(t, s, 1, "sub_b")
	now := t0.Add(time.Hour)
	ds, err := s.ClaimDeliveries(ctx, "hook", now, 1)
	if err != nil || len(ds) != 1 || ds[0].Message.ID != a[0] {
		t.Fatalf("first claim = %v, %v", msgIDs(ds), err)
	}
	// While a[0] is leased, a[1] waits; b is free.
	ds, err = s.ClaimDeliveries(ctx, "hook", now, 10)
	if err != nil || !slices.Equal(msgIDs(ds), b) {
		t.Fatalf("claim while a[0] is leased = %v, %v; want only %v", msgIDs(ds), err, b)
	}
	// a[0] failed: a[1] waits for its retry.
	if err := s.MarkFailed(ctx, "hook", a[0], 1, now.Add(time.Minute), "down", false); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.ClaimDeliveries(ctx, "hook", now, 10); len(ds) != 0 {
		t.Fatalf("claimed %v while an earlier message of the subject waits for a retry", msgIDs(ds))
	}
	ds, err = s.ClaimDeliveries(ctx, "hook", now.Add(time.Minute), 10)
	if err != nil || !slices.Equal(msgIDs(ds), a) {
		t.Fatalf("claim at the retry time = %v, %v; want %v in order", msgIDs(ds), err, a)
	}
	later := now.Add(2 * time.Minute)
	for _, id := range append(a, b...) {
		if err := s.MarkDelivered(ctx, "hook", id, later); err != nil {
			t.Fatal(err)
		}
	}
	// A dead message holds nothing back.
	c := enqueueN(t, s, 2, "sub_c")
	ds, _ = s.ClaimDeliveries(ctx, "hook", later, 1)
	if len(ds) != 1 || ds[0].Message.ID != c[0] {
		t.Fatalf("claim = %v, want %s", msgIDs(ds), c[0])
	}
	if err := s.MarkFailed(ctx, "hook", c[0], 12, later, "gave up", true); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.ClaimDeliveries(ctx, "hook", later, 10); !slices.Equal(msgIDs(ds), c[1:]) {
		t.Fatalf("claim after c[0] went dead = %v, want %v", msgIDs(ds), c[1:])
	}
}
