// Package outbox delivers the messages of the transactional outbox
// (likeness.OutboxStore) to downstream systems: signed webhooks (Standard
// Webhooks) and NATS JetStream. A Dispatcher claims due messages per sink,
// sends them, and records each outcome, retrying failures with exponential
// backoff until a delivery is declared dead and shown in the API.
//
// Delivery is at least once: a message can arrive twice (a crash between
// sending and recording, a retry after a lost answer), always with the same
// id, which receivers use to drop the copy. Messages of one subject reach a
// sink in the order they were committed.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"sync"
	"time"

	"likeness"
)

// Sink is a downstream system. Send must be idempotent per message ID (the
// same message may be sent more than once) and safe for concurrent use.
// Name identifies the sink in the outbox; it must not change between runs,
// or the sink is sent every stored message again.
type Sink interface {
	Name() string
	Send(ctx context.Context, m *likeness.OutboxMessage) error
}

// ErrPermanent marks a Send failure that no retry will mend (a mail
// server refusing a recipient): the delivery is dead at once. Wrap it with
// Permanent.
var ErrPermanent = errors.New("permanent failure")

// Permanent returns err marked as permanent (see ErrPermanent).
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// Envelope is the JSON body sinks send: a CloudEvents 1.0 event in
// structured mode (https://github.com/cloudevents/spec, JSON format). The
// id is the outbox message id, the idempotency key on every sink; source
// names the deployment; subject is the pseudonymous subject id, absent for
// events about no one person. docs/asyncapi.yaml lists every type.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// ContentType is the media type of an Envelope (CloudEvents structured
// mode, JSON event format).
const ContentType = "application/cloudevents+json"

// DefaultSource is the source of events from a sink whose Source is unset.
const DefaultSource = "urn:likeness"

// Marshal returns the body sent for m, naming source as its origin.
func Marshal(m *likeness.OutboxMessage, source string) ([]byte, error) {
	data := m.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	if source == "" {
		source = DefaultSource
	}
	return json.Marshal(Envelope{SpecVersion: "1.0", ID: m.ID, Source: source, Type: m.Type, Subject: m.SubjectID,
		Time: m.CreatedAt.UTC(), DataContentType: "application/json", Data: data})
}

// Defaults for a Dispatcher's zero fields.
const (
	DefaultMaxAttempts = 12
	DefaultBatch       = 20
	DefaultInterval    = 5 * time.Second
)

// DefaultBackoff waits 1s·2^(attempt-1), capped at 10 minutes, with the
// upper half jittered so that many failed deliveries do not retry in step.
func DefaultBackoff(attempt int) time.Duration {
	d := 10 * time.Minute
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 10 {
		d = min(d, time.Second<<(attempt-1))
	}
	return d/2 + rand.N(d/2+1)
}

// Dispatcher moves outbox messages to sinks. Set the fields, then call
// RunOnce or Run; do not change them afterwards. Several dispatchers may run
// against one store (claims are leased), each message is still sent to each
// sink once per attempt.
type Dispatcher struct {
	Store likeness.OutboxStore
	Sinks []Sink
	// Now is the clock for due times (default time.Now).
	Now func() time.Time
	// Backoff is the wait after the attempt-th failure (default DefaultBackoff).
	Backoff func(attempt int) time.Duration
	// MaxAttempts failures make a delivery dead (default 12).
	MaxAttempts int
	// Batch is how many deliveries one claim takes (default 20). Keep
	// Batch times the slowest Send under likeness.OutboxLease.
	Batch  int
	Logger *slog.Logger

	once sync.Once
	wake chan struct{}
}

func (d *Dispatcher) init() {
	d.once.Do(func() { d.wake = make(chan struct{}, 1) })
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Notify makes a running Run pass at once, e.g. right after a change was
// committed. It never blocks.
func (d *Dispatcher) Notify() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run passes over every sink until ctx ends: every interval (default 5s),
// and at once after Notify. Errors are logged, and the next pass retries.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	d.init()
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.log().Error("outbox: dispatch failed", "err", err)
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// RunOnce sends every due message to every sink and records the outcomes. It
// returns how many deliveries succeeded. A failed Send is not an error of
// RunOnce (it is recorded and retried later); a store that cannot be read
// or written is.
func (d *Dispatcher) RunOnce(ctx context.Context) (sent int, err error) {
	d.init()
	if d.Store == nil {
		return 0, errors.New("outbox: Dispatcher.Store is nil")
	}
	names := map[string]bool{}
	for _, s := range d.Sinks {
		if s.Name() == "" || names[s.Name()] {
			return 0, fmt.Errorf("outbox: sink names must be set and distinct, %q is not", s.Name())
		}
		names[s.Name()] = true
	}
	var errs []error
	for _, s := range d.Sinks {
		n, err := d.drain(ctx, s)
		sent += n
		if err != nil {
			errs = append(errs, fmt.Errorf("outbox: sink %s: %w", s.Name(), err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return sent, errors.Join(errs...)
}

// drain claims and sends batches for one sink until none is due.
func (d *Dispatcher) drain(ctx context.Context, s Sink) (int, error) {
	name := s.Name()
	batch := d.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	tried := map[string]bool{} // a message is attempted at most once a pass
	sent := 0
	for ctx.Err() == nil {
		now := d.now()
		claimed, err := d.Store.ClaimDeliveries(ctx, name, now, batch)
		if err != nil {
			return sent, err
		}
		start := time.Now()
		fresh := false
		failed := map[string]bool{} // subjects with a failed message in this batch
		for _, dl := range claimed {
			m := dl.Message
			hold, why := false, dl.LastError
			switch {
			case ctx.Err() != nil, tried[m.ID]:
				hold = true
			case time.Since(start) > likeness.OutboxLease/2:
				hold = true // the lease runs out: give the rest back
			case m.SubjectID != "" && failed[m.SubjectID]:
				hold, why = true, "held back: an earlier message of its subject failed"
			}
			if hold {
				if m.SubjectID != "" {
					failed[m.SubjectID] = true // what follows must wait too
				}
				if err := d.release(ctx, name, dl, now, why); err != nil {
					return sent, err
				}
				continue
			}
			tried[m.ID], fresh = true, true
			if err := s.Send(ctx, m); err != nil {
				if m.SubjectID != "" {
					failed[m.SubjectID] = true
				}
				if ctx.Err() != nil {
					// Shutting down: not the sink's fault.
					if err := d.release(ctx, name, dl, now, dl.LastError); err != nil {
						return sent, err
					}
					continue
				}
				if err := d.fail(ctx, name, dl, now, err); err != nil {
					return sent, err
				}
				continue
			}
			if err := d.Store.MarkDelivered(ctx, name, m.ID, d.now()); err != nil {
				return sent, err
			}
			sent++
		}
		if !fresh || len(claimed) < batch {
			return sent, nil
		}
	}
	return sent, ctx.Err()
}

// release gives a claimed delivery back without counting an attempt.
func (d *Dispatcher) release(ctx context.Context, sink string, dl *likeness.Delivery, now time.Time, why string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return d.Store.MarkFailed(ctx, sink, dl.Message.ID, dl.Attempts, now, why, false)
}

func (d *Dispatcher) fail(ctx context.Context, sink string, dl *likeness.Delivery, now time.Time, sendErr error) error {
	attempt := dl.Attempts + 1
	maxAttempts := d.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	backoff := d.Backoff
	if backoff == nil {
		backoff = DefaultBackoff
	}
	dead := attempt >= maxAttempts || errors.Is(sendErr, ErrPermanent)
	next := now.Add(backoff(attempt))
	level := slog.LevelWarn
	if dead {
		level = slog.LevelError
	}
	d.log().Log(ctx, level, "outbox: delivery failed", "sink", sink, "message", logID(dl.Message.ID),
		"type", dl.Message.Type, "attempt", attempt, "dead", dead, "next", next, "err", sendErr)
	return d.Store.MarkFailed(ctx, sink, dl.Message.ID, attempt, next, sendErr.Error(), dead)
}

// subjectIDs matches a subject id anywhere, such as inside the id of a
// message about one person ("msg_mail.erasure_sub_…").
var subjectIDs = regexp.MustCompile(`sub_[a-z2-7]{26}`)

// logID is a message id as the log may hold it: without the subject id
// some message ids are made from (the console's dead-letter list shows
// them whole, to whoever may see them).
func logID(id string) string { return subjectIDs.ReplaceAllString(id, "sub_…") }
