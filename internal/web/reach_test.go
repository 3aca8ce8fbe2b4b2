package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"likeness"
	"likeness/internal/subjects"
)

// countingSubjects is the real registry, counting the reads of people the
// mailer makes.
type countingSubjects struct {
	*subjects.Registry
	n atomic.Int64
}

func (c *countingSubjects) Subject(ctx context.Context, id string) (*likeness.Subject, error) {
	c.n.Add(1)
	return c.Registry.Subject(ctx, id)
}

func (c *countingSubjects) Contact(ctx context.Context, id string) (string, error) {
	c.n.Add(1)
	return c.Registry.Contact(ctx, id)
}

func (c *countingSubjects) SubjectsByContact(ctx context.Context, hash string) ([]*likeness.Subject, error) {
	c.n.Add(1)
	return c.Registry.SubjectsByContact(ctx, hash)
}

// linkRequests are the queued "send me a link" messages, oldest first.
func (e *env) linkRequests() []string {
	e.t.Helper()
	rows, err := e.store.SQL().Query(`SELECT data FROM outbox_messages WHERE type = ? ORDER BY seq`, likeness.MsgMailPortalLink)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		rows.Scan(&d)
		out = append(out, d)
	}
	return out
}

// TestSendMeALinkAnswersTheSameWhetherTheAddressIsKnown asks for a portal
// link for an address on file and for one that is not: the two answers are
// the same bytes, each request did the same work (one message of the same
// shape queued), and neither read anything about any person; that happens
// later, out of band, in the mail sink.
func TestSendMeALinkAnswersTheSameWhetherTheAddressIsKnown(t *testing.T) {
	e := newEnv(t)
	known := e.subject("u1", "EU-DE", "en")
	if err := e.d.Subjects.SetContact(context.Background(), known, "known.person@example.org"); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	form := b.Get("/me/link")
	if form.Status != http.StatusOK || !strings.Contains(form.Body, `type="email"`) {
		t.Fatalf("form: %d %s", form.Status, form.Body)
	}
	fields := hidden(t, form, "/me/link")
	answers := map[string]page{}
	for _, addr := range []string{"known.person@example.org", "nobody.known@example.org"} {
		fields.Set("email", addr)
		answers[addr] = b.Post("/me/link", fields)
	}
	k, u := answers["known.person@example.org"], answers["nobody.known@example.org"]
	if k.Status != http.StatusOK || u.Status != http.StatusOK {
		t.Fatalf("statuses %d and %d, want 200 both", k.Status, u.Status)
	}
	if k.Body != u.Body {
		t.Fatalf("the answers differ:\nknown:   %s\nunknown: %s", k.Body, u.Body)
	}
	k.Header.Del("Date")
	u.Header.Del("Date")
	for name := range k.Header {
		if !slices.Equal(k.Header[name], u.Header[name]) {
			t.Errorf("header %s differs: %v / %v", name, k.Header[name], u.Header[name])
		}
	}
	if !strings.Contains(k.Body, "If this address is on file, a link to your privacy portal is on its way.") {
		t.Errorf("answer: %s", k.Body)
	}
	if n := e.reads.n.Load(); n != 0 {
		t.Fatalf("asking for a link read %d times about people: the answer could depend on who is known", n)
	}
	reqs := e.linkRequests()
	if len(reqs) != 2 || len(reqs[0]) != len(reqs[1]) {
		t.Fatalf("queued %v; want one message of the same shape per request", reqs)
	}
	for _, r := range reqs {
		if strings.Contains(r, "example.org") {
			t.Fatalf("a queued request holds the address: %s", r)
		}
	}
}

func TestSendMeALinkRefusesBadInputAndQueuesNothing(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	fields := hidden(t, b.Get("/me/link?lang=de"), "/me/link")
	fields.Set("email", "not an address")
	if p := b.Post("/me/link", fields); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "sieht nicht wie eine E-Mail-Adresse aus") {
		t.Fatalf("malformed address: %d %s", p.Status, p.Body)
	}
	if p := b.Post("/me/link", url.Values{"email": {"a@example.org"}}); p.Status != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d", p.Status)
	}
	fields.Set("csrf", "forged")
	fields.Set("email", "a@example.org")
	if p := b.Post("/me/link", fields); p.Status != http.StatusForbidden {
		t.Fatalf("forged CSRF token: %d", p.Status)
	}
	if n := len(e.linkRequests()); n != 0 {
		t.Fatalf("refused requests queued %d messages", n)
	}
}

func TestSendMeALinkIsLimitedPerAddressAndPerClient(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := hidden(t, b.Get("/me/link"), "/me/link").Get("csrf")
	send := func(addr string) page {
		t.Helper()
		return b.Post("/me/link", url.Values{"csrf": {csrf}, "lang": {"en"}, "email": {addr}})
	}
	for i := range 3 {
		if p := send("same@example.org"); p.Status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, p.Status)
		}
	}
	p := send("Same@Example.org")
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "Several links were already asked for this address") {
		t.Fatalf("fourth request for one address: %d %s", p.Status, p.Body)
	}
	if p := send("other@example.org"); p.Status != http.StatusOK {
		t.Fatalf("another address from the same client: %d", p.Status)
	}
	// That was the client's fifth request in a minute: the sixth waits.
	if p := send("third@example.org"); p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Too many links were asked for from here") {
		t.Fatalf("sixth request from one client: %d, want 429", p.Status)
	}
	if n := len(e.linkRequests()); n != 4 {
		t.Fatalf("%d requests queued, want the 4 let through", n)
	}
}

func TestAnExpiredLinkOffersANewOneByMail(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "de")
	portal := e.portalLink(sub)
	e.clock.Add(16 * time.Minute)
	p := e.browser().Get(portal)
	if p.Status != http.StatusGone || !strings.Contains(p.Body, `href="/me/link?lang=de"`) || !strings.Contains(p.Body, "Neuen Link per E-Mail anfordern") {
		t.Fatalf("expired portal link: %d %s", p.Status, p.Body)
	}
}
