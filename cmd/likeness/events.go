package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"likeness"
	"likeness/internal/keys"
	"likeness/internal/outbox"
	"likeness/internal/subjects"
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
// otherwise) and a function closing its sinks. The webhook sink is added by
// addWebhook and the Store set once the deployment is open. Events are kept
// in the outbox either way, so a sink added later receives them all.
func (e *eventFlags) dispatcher(ctx context.Context, logger *slog.Logger) (*outbox.Dispatcher, func(), error) {
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	if e.webhookURL == "" && e.natsURL == "" {
		return nil, closeAll, nil
	}
	d := &outbox.Dispatcher{Logger: logger}
	if e.natsURL != "" {
		n, err := outbox.NewNATS(ctx, e.natsURL, e.natsStream, e.natsPrefx)
		if err != nil {
			return nil, closeAll, fmt.Errorf("connect to NATS: %w", err)
		}
		d.Sinks = append(d.Sinks, n)
		closers = append(closers, n.Close)
	}
	return d, closeAll, nil
}

// eventSource is the CloudEvents source of a deployment's events: its
// ledger origin (name and random deployment id), so two deployments of one
// policy never share a source.
func eventSource(origin string) string { return "urn:likeness:" + origin }

// addWebhook adds the webhook sink to disp and names source on every sink.
// With no --webhook-secret, every replica signs with the deployment's
// webhook_secret, kept in the database wrapped by the KEK; the replica that
// creates it prints it once.
func (e *eventFlags) addWebhook(ctx context.Context, disp *outbox.Dispatcher, reg *subjects.Registry, source string, stdout io.Writer) error {
	for _, s := range disp.Sinks {
		if n, ok := s.(*outbox.NATS); ok {
			n.Source = source
		}
	}
	if e.webhookURL == "" {
		return nil
	}
	secret := e.webhookSecret
	if secret == "" {
		key, created, err := reg.InitDeploymentKey(ctx, subjects.WebhookSecret)
		if err != nil {
			return err
		}
		secret = outbox.WebhookSecret(key)
		keys.Wipe(key)
		if created {
			fmt.Fprintf(stdout, "Webhook signing secret (give it to the receiver; every replica uses it, and\n"+
				"--webhook-secret or LIKENESS_WEBHOOK_SECRET overrides it):\n\n    %s\n\n", secret)
		}
	}
	w, err := outbox.NewWebhook("webhook", e.webhookURL, secret)
	if err != nil {
		return err
	}
	w.Source = source
	disp.Sinks = append([]outbox.Sink{w}, disp.Sinks...)
	return nil
}
