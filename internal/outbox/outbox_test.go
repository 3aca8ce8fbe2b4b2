package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
	"likeness/internal/outbox"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
)

// NATSEnv names the variable that points tests at a NATS server with JetStream.
const NATSEnv = "LIKENESS_TEST_NATS_URL"

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

// receiver is a webhook endpoint that verifies every signature and records
// what arrived. Its mode makes it healthy ("up"), answer 503 ("503") or drop
// the connection without an answer ("hangup").
type receiver struct {
	t       *testing.T
	secret  string
	srv     *httptest.Server
	arrived chan string

	mu     sync.Mutex
	mode   string
	calls  int
	got    []outbox.Envelope
	bodies map[string]string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{t: t, secret: outbox.NewWebhookSecret(), mode: "up", bodies: map[string]string{}, arrived: make(chan string, 1000)}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	switch r.mode {
	case "503":
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case "hangup":
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
		return
	}
	if err := outbox.VerifyWebhook(r.secret, req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var env outbox.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		r.t.Errorf("receiver: body is not an envelope: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != outbox.ContentType || env.SpecVersion != "1.0" ||
		env.Source == "" || env.Type == "" || env.Time.IsZero() || env.DataContentType != "application/json" {
		r.t.Errorf("receiver: not a structured CloudEvent (Content-Type %q): %s", ct, body)
	}
	if env.ID != req.Header.Get("webhook-id") {
		r.t.Errorf("receiver: body id %s, header id %s", env.ID, req.Header.Get("webhook-id"))
	}
	if prev, ok := r.bodies[env.ID]; ok && prev != string(body) {
		r.t.Errorf("receiver: message %s arrived twice with different bodies:\n%s\n%s", env.ID, prev, body)
	}
	r.bodies[env.ID] = string(body)
	r.got = append(r.got, env)
	w.WriteHeader(http.StatusNoContent)
	r.arrived <- env.ID
}

func (r *receiver) setMode(m string) {
	r.mu.Lock()
	r.mode = m
	r.mu.Unlock()
}

func (r *receiver) received() []outbox.Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *receiver) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func (r *receiver) sink(t *testing.T, name string) *outbox.Webhook {
	t.Helper()
	w, err := outbox.NewWebhook(name, r.srv.URL+"/hook", r.secret)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func consentEvent(sub, purpose string, typ likeness.EventType, at time.Time) *likeness.ConsentEvent {
	return &likeness.ConsentEvent{
		ID: likeness.NewID("evt"), SubjectID: sub, Purpose: purpose, Type: typ,
		Method: likeness.Checkbox, NoticeVersion: 1, NoticeSHA256: "ab", Language: "en",
		Collector: "key_x", Time: at, Sealed: []byte{1, 2, 3},
	}
}

func openSQLite(t *testing.T) *sqlstore.DB {
	t.Helper()
	return openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "likeness.db"))
}

func openStore(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func backends() map[string]func(*testing.T) *sqlstore.DB {
	return map[string]func(*testing.T) *sqlstore.DB{
		"sqlite":   openSQLite,
		"postgres": func(t *testing.T) *sqlstore.DB { return openStore(t, storetest.Postgres(t)) },
	}
}

// eventIDs returns the consent event ids the envelopes report, in arrival order.
func eventIDs(t *testing.T, envs []outbox.Envelope) []string {
	t.Helper()
	var ids []string
	for _, e := range envs {
		var d likeness.ConsentMessageData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("message %s data: %v", e.ID, err)
		}
		ids = append(ids, d.EventID)
	}
	return ids
}

// firstArrivals drops repeated ids, keeping the first arrival of each.
func firstArrivals(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// TestEveryCommittedChangeArrivesAfterTheReceiverComesBack takes one
// receiver away while changes are committed and brings it back. It is one
// scenario from start to finish; splitting it would hide the order.
func TestEveryCommittedChangeArrivesAfterTheReceiverComesBack(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			flaky, steady := newReceiver(t), newReceiver(t)
			clock := t0
			d := &outbox.Dispatcher{Store: store, Sinks: []outbox.Sink{flaky.sink(t, "crm"), steady.sink(t, "ml")},
				Now: func() time.Time { return clock }}
			a := storetest.NewSubject(t, store, "a")
			b := storetest.NewSubject(t, store, "b")
			var committed []*likeness.ConsentEvent
			change := func(evs ...*likeness.ConsentEvent) {
				t.Helper()
				if err := store.AppendEvents(ctx, evs, ledgerlog.LeafHash); err != nil {
					t.Fatal(err)
				}
				committed = append(committed, evs...)
			}
			pass := func(wantSent int) {
				t.Helper()
				clock = clock.Add(11 * time.Minute) // past any backoff
				n, err := d.RunOnce(ctx)
				if err != nil || n != wantSent {
					t.Fatalf("RunOnce = %d, %v; want %d sent", n, err, wantSent)
				}
			}

			change(consentEvent(a.ID, "ai-training", likeness.Grant, clock), consentEvent(b.ID, "ai-training", likeness.Grant, clock))
			pass(4) // two messages, two sinks
			if got := len(flaky.received()); got != 2 {
				t.Fatalf("receiver got %d messages while up, want 2", got)
			}

			flaky.setMode("503")
			change(consentEvent(a.ID, "ai-training", likeness.Withdraw, clock))
			change(consentEvent(b.ID, "ai-training", likeness.Renew, clock))
			pass(2) // only the steady sink
			pass(0)
			flaky.setMode("hangup")
			change(consentEvent(a.ID, "voice-clone", likeness.Grant, clock), consentEvent(b.ID, "ai-training", likeness.Expire, clock))
			pass(2)
			pass(0)
			// A change that rolls back sends nothing.
			rolledBack := consentEvent(a.ID, "ads", likeness.Grant, clock)
			if err := store.AppendEvents(ctx, []*likeness.ConsentEvent{rolledBack, {ID: committed[0].ID, SubjectID: a.ID, Type: likeness.Grant, Time: clock}}, ledgerlog.LeafHash); err == nil {
				t.Fatal("an append with a duplicate event id succeeded")
			}
			pass(0)
			if calls := flaky.callCount(); calls <= 2 {
				t.Fatalf("the stopped receiver was called %d times: the dispatcher did not retry", calls)
			}

			flaky.setMode("up")
			pass(4)
			pass(0)

			for _, r := range []*receiver{flaky, steady} {
				arrived := eventIDs(t, r.received())
				if slices.Contains(arrived, rolledBack.ID) {
					t.Errorf("the rolled-back event %s was sent", rolledBack.ID)
				}
				for _, sub := range []string{a.ID, b.ID} {
					var want, got []string
					for _, ev := range committed {
						if ev.SubjectID == sub {
							want = append(want, ev.ID)
						}
					}
					for _, id := range firstArrivals(arrived) {
						if slices.Contains(want, id) {
							got = append(got, id)
						}
					}
					if !slices.Equal(got, want) {
						t.Errorf("subject %s: events arrived as %v, want every committed one in order %v", sub, got, want)
					}
				}
			}
			if dead, err := store.DeadDeliveries(ctx, "", 100); err != nil || len(dead) != 0 {
				t.Fatalf("dead deliveries = %d, %v", len(dead), err)
			}
		})
	}
}

func TestFailingReceiverEndsInDeadLetterAndRetryDeadSendsAgain(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			rec := newReceiver(t)
			rec.setMode("503")
			clock := t0
			d := &outbox.Dispatcher{Store: store, Sinks: []outbox.Sink{rec.sink(t, "")}, MaxAttempts: 3,
				Now: func() time.Time { return clock }}
			a := storetest.NewSubject(t, store, "a")
			ev := consentEvent(a.ID, "ai-training", likeness.Grant, clock)
			if err := store.AppendEvents(ctx, []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if _, err := d.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				clock = clock.Add(11 * time.Minute)
			}
			if calls := rec.callCount(); calls != 3 {
				t.Fatalf("receiver called %d times, want MaxAttempts = 3", calls)
			}
			dead, err := store.DeadDeliveries(ctx, "webhook", 100)
			if err != nil || len(dead) != 1 {
				t.Fatalf("DeadDeliveries = %v, %v; want 1", dead, err)
			}
			if dl := dead[0]; dl.Attempts != 3 || dl.State != likeness.DeliveryDead || !strings.Contains(dl.LastError, "503") ||
				dl.Message.Type != likeness.MsgConsentGranted {
				t.Fatalf("dead delivery = %+v", dl)
			}
			rec.setMode("up")
			if err := store.RetryDead(ctx, "webhook", dead[0].Message.ID); err != nil {
				t.Fatal(err)
			}
			if n, err := d.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("RunOnce after RetryDead = %d, %v", n, err)
			}
			if got := eventIDs(t, rec.received()); !slices.Equal(got, []string{ev.ID}) {
				t.Fatalf("receiver got %v, want %s", got, ev.ID)
			}
		})
	}
}

func TestNotifyWakesRunForAFreshChange(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	store := openSQLite(t)
	rec := newReceiver(t)
	d := &outbox.Dispatcher{Store: store, Sinks: []outbox.Sink{rec.sink(t, "")}}
	done := make(chan struct{})
	go func() {
		d.Run(ctx, time.Hour)
		close(done)
	}()
	a := storetest.NewSubject(t, store, "a")
	ev := consentEvent(a.ID, "ai-training", likeness.Withdraw, time.Now())
	if err := store.AppendEvents(ctx, []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	d.Notify()
	select {
	case <-rec.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("a notified dispatcher did not deliver within 10s (its interval is an hour)")
	}
	cancel()
	<-done
}

func TestWebhookSignatureFollowsStandardWebhooks(t *testing.T) {
	// The test vector of the Standard Webhooks specification.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bm9ldHZhbGlk v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	at := time.Unix(1614265330, 0)
	if err := outbox.VerifyWebhook(secret, h, body, at, 5*time.Minute); err != nil {
		t.Fatalf("the specification's vector does not verify: %v", err)
	}
	tampered := []byte(`{"test": 2432232315}`)
	other := outbox.NewWebhookSecret()
	noSig := h.Clone()
	noSig.Del("webhook-signature")
	for name, err := range map[string]error{
		"tampered body":  outbox.VerifyWebhook(secret, h, tampered, at, 5*time.Minute),
		"wrong secret":   outbox.VerifyWebhook(other, h, body, at, 5*time.Minute),
		"old timestamp":  outbox.VerifyWebhook(secret, h, body, at.Add(6*time.Minute), 5*time.Minute),
		"missing header": outbox.VerifyWebhook(secret, noSig, body, at, 5*time.Minute),
		"bad secret":     outbox.VerifyWebhook("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, at, 5*time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	for _, bad := range [][2]string{{"ftp://x/y", secret}, {"http://x/y", "plain"}, {"http://x/y", "whsec_c2hvcnQ="}} {
		if _, err := outbox.NewWebhook("", bad[0], bad[1]); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("NewWebhook(%q, %q) err = %v, want invalid", bad[0], bad[1], err)
		}
	}
}

func TestDefaultBackoffGrowsAndIsCapped(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 11: 10 * time.Minute, 40: 10 * time.Minute} {
		for range 20 {
			if got := outbox.DefaultBackoff(attempt); got < want/2 || got > want {
				t.Fatalf("DefaultBackoff(%d) = %v, want within [%v, %v]", attempt, got, want/2, want)
			}
		}
	}
}

func TestNATSStoresEveryMessageOnceAndWebhookGetsThemToo(t *testing.T) {
	url := os.Getenv(NATSEnv)
	if url == "" {
		t.Skipf("NATS tests skipped: set %s (e.g. nats://127.0.0.1:4222)", NATSEnv)
	}
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) { testNATS(t, url, open(t)) })
	}
}

// testNATS sends committed changes of store to a webhook and to a fresh
// JetStream stream, and checks both got exactly the committed events.
func testNATS(t *testing.T, url string, store *sqlstore.DB) {
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	stream, prefix := "LIKENESS_TEST_"+suffix, "likeness_test_"+suffix+".events"
	ns, err := outbox.NewNATS(ctx, url, stream, prefix)
	if err != nil {
		t.Fatalf("NewNATS (is %s reachable, with JetStream?): %v", NATSEnv, err)
	}
	t.Cleanup(func() {
		ns.JetStream().DeleteStream(context.Background(), stream)
		ns.Close()
	})
	const source = "urn:likeness:test/0123456789abcdef"
	ns.Source = source
	again, err := outbox.NewNATS(ctx, url, stream, prefix)
	if err != nil {
		t.Fatalf("NewNATS on an existing stream: %v", err)
	}
	again.Close()

	rec := newReceiver(t)
	d := &outbox.Dispatcher{Store: store, Sinks: []outbox.Sink{rec.sink(t, ""), ns}}
	a := storetest.NewSubject(t, store, "a")
	evs := []*likeness.ConsentEvent{
		consentEvent(a.ID, "ai-training", likeness.Grant, t0),
		consentEvent(a.ID, "voice-clone", likeness.Grant, t0),
		consentEvent(a.ID, "ai-training", likeness.Withdraw, t0.Add(time.Hour)),
	}
	if err := store.AppendEvents(ctx, evs, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	if n, err := d.RunOnce(ctx); err != nil || n != 2*len(evs) {
		t.Fatalf("RunOnce = %d, %v; want %d", n, err, 2*len(evs))
	}
	hooked := rec.received()
	// A retry after a lost acknowledgement sends the same message again;
	// JetStream keeps one copy per Nats-Msg-Id.
	for _, e := range hooked {
		m := &likeness.OutboxMessage{ID: e.ID, Type: e.Type, Data: e.Data, SubjectID: e.Subject, CreatedAt: e.Time}
		if err := ns.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	s, err := ns.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(evs)) {
		t.Fatalf("stream holds %d messages, want %d (one per event, duplicates dropped)", info.State.Msgs, len(evs))
	}
	var natsIDs, hookIDs []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var env outbox.Envelope
		if err := json.Unmarshal(raw.Data, &env); err != nil {
			t.Fatal(err)
		}
		if env.SpecVersion != "1.0" || env.Source != source || raw.Header.Get("Content-Type") != outbox.ContentType {
			t.Errorf("stream message %d is not a CloudEvent from %s: %s", seq, source, raw.Data)
		}
		if raw.Header.Get("Nats-Msg-Id") != env.ID || raw.Subject != ns.Subject(env.Type) {
			t.Errorf("stream message %d: subject %s, Nats-Msg-Id %s, body id %s", seq, raw.Subject, raw.Header.Get("Nats-Msg-Id"), env.ID)
		}
		natsIDs = append(natsIDs, env.ID)
	}
	for _, e := range hooked {
		hookIDs = append(hookIDs, e.ID)
	}
	if !slices.Equal(natsIDs, hookIDs) {
		t.Fatalf("NATS got %v, the webhook %v; want the same messages in the same order", natsIDs, hookIDs)
	}
	if got := eventIDs(t, hooked); !slices.Equal(got, []string{evs[0].ID, evs[1].ID, evs[2].ID}) {
		t.Fatalf("events arrived as %v", got)
	}
}

func TestCrashedDispatchersClaimsComeBackAfterTheLease(t *testing.T) {
	ctx := context.Background()
	store := openSQLite(t)
	rec := newReceiver(t)
	clock := t0
	d := &outbox.Dispatcher{Store: store, Sinks: []outbox.Sink{rec.sink(t, "")}, Now: func() time.Time { return clock }}
	a := storetest.NewSubject(t, store, "a")
	if err := store.AppendEvents(ctx, []*likeness.ConsentEvent{consentEvent(a.ID, "ai-training", likeness.Grant, clock)}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	// Another dispatcher claims the message and dies before recording anything.
	if ds, err := store.ClaimDeliveries(ctx, "webhook", clock, 10); err != nil || len(ds) != 1 {
		t.Fatalf("claim = %d, %v", len(ds), err)
	}
	if n, err := d.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("RunOnce during the lease = %d, %v; want 0", n, err)
	}
	clock = clock.Add(likeness.OutboxLease)
	if n, err := d.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce after the lease = %d, %v; want the abandoned message sent", n, err)
	}
}
