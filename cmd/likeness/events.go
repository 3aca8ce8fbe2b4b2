package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"likeness"
	"likeness/internal/outbox"
)

// eventFlags configure where downstream events go.
type eventFlags struct {
	webhookURL, webhookSecret      string
	natsURL, natsStream, natsPrefx string
}

func (e *eventFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&e.webhookURL, "webhook-url", env("LIKENESS_WEBHOOK_URL", ""), "send events to this URL, signed per Standard Webhooks (env LIKENESS_WEBHOOK_URL)")
	fs.StringVar(&e.webhookSecret, "webhook-secret", env("LIKENESS_WEBHOOK_SECRET", ""), "whsec_… signing secret (env LIKENESS_WEBHOOK_SECRET; generated and printed if empty)")
	fs.StringVar(&e.natsURL, "nats-url", env("LIKENESS_NATS_URL", ""), "publish events to NATS JetStream at this URL (env LIKENESS_NATS_URL)")
	fs.StringVar(&e.natsStream, "nats-stream", env("LIKENESS_NATS_STREAM", "LIKENESS"), "JetStream stream name (env LIKENESS_NATS_STREAM)")
	fs.StringVar(&e.natsPrefx, "nats-prefix", env("LIKENESS_NATS_PREFIX", "likeness.events"), "subject prefix; events go to PREFIX.TYPE (env LIKENESS_NATS_PREFIX)")
}

// notifier wakes the dispatcher when a consent event is recorded.
type notifier struct{ d *outbox.Dispatcher }

func (n notifier) ConsentRecorded(context.Context, *likeness.ConsentEvent) error {
	n.d.Notify()
	return nil
}

// dispatcher builds the outbox dispatcher if any sink is configured (nil
// otherwise) and a function closing its sinks. Its Store is set and it is
// run once the deployment is open. Events are kept in the outbox either
// way, so a sink added later receives them all.
func (e *eventFlags) dispatcher(ctx context.Context, stdout io.Writer, logger *slog.Logger) (*outbox.Dispatcher, func(), error) {
	var sinks []outbox.Sink
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	if e.webhookURL != "" {
		if e.webhookSecret == "" {
			e.webhookSecret = outbox.NewWebhookSecret()
			fmt.Fprintf(stdout, "Webhook signing secret (give it to the receiver; set LIKENESS_WEBHOOK_SECRET to keep it):\n\n    %s\n\n", e.webhookSecret)
		}
		w, err := outbox.NewWebhook("webhook", e.webhookURL, e.webhookSecret)
		if err != nil {
			return nil, closeAll, err
		}
		sinks = append(sinks, w)
	}
	if e.natsURL != "" {
		n, err := outbox.NewNATS(ctx, e.natsURL, e.natsStream, e.natsPrefx)
		if err != nil {
			return nil, closeAll, fmt.Errorf("connect to NATS: %w", err)
		}
		sinks = append(sinks, n)
		closers = append(closers, n.Close)
	}
	if len(sinks) == 0 {
		return nil, closeAll, nil
	}
	return &outbox.Dispatcher{Sinks: sinks, Logger: logger}, closeAll, nil
}
