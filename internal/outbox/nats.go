package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"likeness"
)

// DefaultNATSPrefix is the subject prefix when none is given: a
// consent.granted message is published to likeness.events.consent.granted.
const DefaultNATSPrefix = "likeness.events"

// NATSDuplicateWindow is the duplicate window of a stream NewNATS creates:
// JetStream drops a message whose Nats-Msg-Id it stored within the window,
// so a retry after a lost acknowledgement is stored once.
const NATSDuplicateWindow = time.Hour

// NATS publishes messages to a JetStream stream, on subject
// <prefix>.<type>, with the message id as Nats-Msg-Id. A publish counts as
// delivered once JetStream acknowledges it (the message is stored).
type NATS struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
	prefix string

	// Source is the CloudEvents source of the events published (default
	// DefaultSource); set it before the first Send.
	Source string
}

// NewNATS connects to the NATS server at url and makes sure stream exists
// and captures <prefix>.> (prefix "" means DefaultNATSPrefix): a missing
// stream is created (file storage, NATSDuplicateWindow); an existing one
// gets the subject added if it lacks it, and is otherwise left as it is.
func NewNATS(ctx context.Context, url, stream, prefix string) (*NATS, error) {
	if prefix == "" {
		prefix = DefaultNATSPrefix
	}
	if stream == "" || strings.ContainsAny(stream, " .*>\t\r\n") {
		return nil, likeness.Errorf(likeness.EINVALID, "NATS stream name %q is not valid", stream)
	}
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" || strings.ContainsAny(tok, " *>\t\r\n") {
			return nil, likeness.Errorf(likeness.EINVALID, "NATS subject prefix %q is not valid", prefix)
		}
	}
	nc, err := nats.Connect(url, nats.Name("likeness-outbox"), nats.Timeout(5*time.Second), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("outbox: connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("outbox: NATS JetStream: %w", err)
	}
	n := &NATS{nc: nc, js: js, stream: stream, prefix: prefix}
	if err := n.ensureStream(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return n, nil
}

func (n *NATS) ensureStream(ctx context.Context) error {
	subject := n.prefix + ".>"
	s, err := n.js.Stream(ctx, n.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = n.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        n.stream,
			Description: "likeness outbox events",
			Subjects:    []string{subject},
			Storage:     jetstream.FileStorage,
			Duplicates:  NATSDuplicateWindow,
		})
		if err != nil {
			return fmt.Errorf("outbox: create NATS stream %s: %w", n.stream, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("outbox: NATS stream %s: %w", n.stream, err)
	}
	cfg := s.CachedInfo().Config
	if slices.Contains(cfg.Subjects, subject) {
		return nil
	}
	cfg.Subjects = append(cfg.Subjects, subject)
	if _, err := n.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("outbox: add %s to NATS stream %s: %w", subject, n.stream, err)
	}
	return nil
}

// Name implements Sink.
func (n *NATS) Name() string { return "nats" }

// Subject returns the subject a message of type typ is published on.
func (n *NATS) Subject(typ string) string { return n.prefix + "." + typ }

// Send implements Sink.
func (n *NATS) Send(ctx context.Context, m *likeness.OutboxMessage) error {
	body, err := Marshal(m, n.Source)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	msg := nats.NewMsg(n.Subject(m.Type))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, m.ID)
	msg.Header.Set("Content-Type", ContentType)
	if _, err := n.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(n.stream)); err != nil {
		return fmt.Errorf("nats: publish %s: %w", m.ID, err)
	}
	return nil
}

// Close flushes pending publishes and closes the connection.
func (n *NATS) Close() error { return n.nc.Drain() }

// JetStream returns the JetStream handle, for tests and tools that read the stream.
func (n *NATS) JetStream() jetstream.JetStream { return n.js }
