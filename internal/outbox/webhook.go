package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"likeness"
)

// Webhook sends messages as HTTP POSTs signed per the Standard Webhooks
// specification (https://www.standardwebhooks.com): the headers webhook-id
// (the message id), webhook-timestamp (Unix seconds of the attempt) and
// webhook-signature ("v1," + base64 HMAC-SHA256 over id.timestamp.body, keyed
// with the base64-decoded part of a "whsec_" secret). Receivers check it with
// VerifyWebhook or any Standard Webhooks library, and drop ids they have seen.
// A 2xx answer is a delivery; any other answer, a redirect or a network error
// is a failure to retry.
type Webhook struct {
	name string
	url  string
	key  []byte

	// Client sends the requests (default: 10 s timeout, no redirects).
	Client *http.Client
	// Now stamps webhook-timestamp (default time.Now); receivers compare it
	// with their own clock.
	Now func() time.Time
	// Source is the CloudEvents source of the events sent (default
	// DefaultSource); set it before the first Send.
	Source string
}

// WebhookTimeout bounds one attempt.
const WebhookTimeout = 10 * time.Second

// maxResponse is how much of a receiver's answer is read (and discarded).
const maxResponse = 64 << 10

// NewWebhook returns a sink named name (default "webhook") that posts to
// rawURL, an http or https URL, signing with secret ("whsec_" + base64 of at
// least 24 random bytes; see NewWebhookSecret).
func NewWebhook(name, rawURL, secret string) (*Webhook, error) {
	if name == "" {
		name = "webhook"
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "webhook URL must be an http:// or https:// URL")
	}
	key, err := webhookKey(secret)
	if err != nil {
		return nil, err
	}
	if len(key) < 24 {
		return nil, likeness.Errorf(likeness.EINVALID, "webhook secret is too short: use at least 24 random bytes (NewWebhookSecret makes one)")
	}
	return &Webhook{name: name, url: rawURL, key: key, Client: &http.Client{
		Timeout: WebhookTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}, nil
}

// NewWebhookSecret returns a fresh secret: "whsec_" + base64 of 32 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return WebhookSecret(b)
}

// WebhookSecret formats a random key (24 bytes or more) as a signing
// secret, "whsec_" + base64; replicas make it from a key they share.
func WebhookSecret(key []byte) string {
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

func webhookKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, likeness.Errorf(likeness.EINVALID, "webhook secret must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) == 0 {
		return nil, likeness.Errorf(likeness.EINVALID, "webhook secret must be whsec_ followed by base64")
	}
	return key, nil
}

func sign(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Name implements Sink.
func (w *Webhook) Name() string { return w.name }

// Send implements Sink.
func (w *Webhook) Send(ctx context.Context, m *likeness.OutboxMessage) error {
	body, err := Marshal(m, w.Source)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.name, err)
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.name, err)
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("User-Agent", "likeness-outbox")
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sign(w.key, m.ID, ts, body))
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: WebhookTimeout}
	}
	res, err := client.Do(req)
	if err != nil {
		// The URL may carry a token: report the cause without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook %s: %w", w.name, err)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, maxResponse))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("webhook %s: receiver answered %s", w.name, res.Status)
	}
	return nil
}

// VerifyWebhook checks a Standard Webhooks request: the three headers are
// present, webhook-timestamp is within tolerance of now (replays of old
// requests fail), and one of the space-separated v1 signatures matches body
// under secret, compared in constant time. Receivers then drop a
// webhook-id they have already processed.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := webhookKey(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" {
		return errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return errors.New("webhook: webhook-timestamp is not a number of seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook: webhook-timestamp is too far from now")
	}
	want := []byte(sign(key, id, ts, body))
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return errors.New("webhook: no signature matches")
}
