package mail_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/mail"
	"likeness/internal/outbox"
)

const (
	org     = "Acme Portraits GmbH"
	baseURL = "https://privacy.acme.example"
)

// fixture is a whole deployment whose mailer sends to a real SMTP server.
type fixture struct {
	t    *testing.T
	ctx  context.Context
	d    *likenesstest.Deployment
	mp   *likenesstest.Mailpit
	disp *outbox.Dispatcher
	log  *likenesstest.Buffer
	// addrs are every address the test used: none may reach the log.
	addrs []string
}

func newFixture(t *testing.T, mailpitFlags ...string) *fixture {
	t.Helper()
	mp := likenesstest.StartMailpit(t, mailpitFlags...)
	log := &likenesstest.Buffer{}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := likenesstest.New(t, likenesstest.Options{Logger: logger})
	f := &fixture{t: t, ctx: likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_test", Role: likeness.RoleAdmin}),
		d: d, mp: mp, log: log}
	f.disp = &outbox.Dispatcher{Store: d.Store, Sinks: []outbox.Sink{f.sink(&mail.SMTP{Addr: mp.SMTPAddr})}, Now: d.Clock.Now, Logger: logger,
		Backoff: func(int) time.Duration { return time.Minute }}
	t.Cleanup(func() {
		for _, a := range f.addrs {
			if strings.Contains(strings.ToLower(f.log.String()), a) {
				t.Errorf("the log holds the address %s:\n%s", a, f.log.String())
			}
		}
	})
	return f
}

func (f *fixture) sink(tr mail.Transport) *mail.Sink {
	f.t.Helper()
	s, err := f.d.Mail.Sink(mail.SinkConfig{Transport: tr, From: "Acme Privacy <privacy@acme.example>", BaseURL: baseURL})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// person creates a subject speaking locale with addr on file.
func (f *fixture) person(ext, locale, addr string) string {
	f.t.Helper()
	sub, _, err := f.d.Subjects.CreateSubject(f.ctx, ext, locale, "EU-DE")
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.d.Subjects.SetContact(f.ctx, sub.ID, addr); err != nil {
		f.t.Fatal(err)
	}
	f.addrs = append(f.addrs, strings.ToLower(addr))
	return sub.ID
}

// deliver runs the dispatcher once: every due mail is handed to the
// server before it returns.
func (f *fixture) deliver() int {
	f.t.Helper()
	n, err := f.disp.RunOnce(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// only returns the one mail addr received since the last call, failing
// unless there is exactly one.
func (f *fixture) only(addr string, seen *int) *likenesstest.MailMessage {
	f.t.Helper()
	got := f.mp.To(f.t, addr)
	if len(got) != *seen+1 {
		f.t.Fatalf("%s received %d mails, want %d", addr, len(got), *seen+1)
	}
	*seen++
	return got[len(got)-1]
}

func contains(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, text)
		}
	}
}

// texts are what each kind of mail says, per language.
var texts = map[string]map[string][]string{
	"en": {
		"portal":     {"Your sign-in link to your privacy portal at " + org, "Open this link within 30 minutes. It works once:"},
		"withdrawal": {"Confirmation: you withdrew your consent to “Train our portrait and voice AI models”", "no longer uses your data for this purpose"},
		"renewal":    {"Your consent to “Train our portrait and voice AI models” ends on 2027-11-23", "renew it in your privacy portal"},
		"breach":     {"Important: a security incident affected your data at " + org, "What happened: Transcription bucket readable by anyone", "It concerned 1 item(s)"},
		"erasure":    {"Your data at " + org + " has been erased", "This is the last message we send you"},
	},
	"de": {
		"portal":     {"Ihr Anmeldelink zu Ihrem Datenschutzportal bei " + org, "Öffnen Sie diesen Link innerhalb von 30 Minuten."},
		"withdrawal": {"Bestätigung: Sie haben Ihre Einwilligung zu „Training unserer Porträt- und Stimm-KI-Modelle“ widerrufen", "Ihre Daten nicht mehr für diesen Zweck"},
		"renewal":    {"Ihre Einwilligung zu „Training unserer Porträt- und Stimm-KI-Modelle“ endet am 2027-11-23", "erneuern Sie sie in Ihrem Datenschutzportal"},
		"breach":     {"Wichtig: Ein Sicherheitsvorfall betraf Ihre Daten bei " + org, "Was geschehen ist: Transcription bucket readable by anyone", "Betroffen waren 1 Ihrer Datensätze"},
		"erasure":    {"Ihre Daten bei " + org + " wurden gelöscht", "Dies ist die letzte Nachricht"},
	},
}

// TestEveryKindOfMailArrivesInThePersonsLanguage follows one person per
// language through every mail likeness sends: the portal link they ask
// for (which signs them in), the confirmation of a withdrawal, the
// reminder before a consent ends, the notice of a breach and the
// confirmation of their erasure, each read back from a real SMTP server.
// It is kept as one function because it is one person's story, in order.
func TestEveryKindOfMailArrivesInThePersonsLanguage(t *testing.T) {
	for _, lang := range []string{"en", "de"} {
		t.Run(lang, func(t *testing.T) {
			f := newFixture(t)
			addr := "Jane.Doe-" + lang + "@Example.org"
			want := texts[lang]
			sub := f.person("user-"+lang, lang, addr)
			f.d.Grant(t, sub, "ai-training", "voice-transcription")
			seen := 0
			check := func(kind string, m *likenesstest.MailMessage) {
				t.Helper()
				contains(t, kind+" mail", m.Subject+"\n"+m.Text, want[kind]...)
				contains(t, kind+" mail", m.Text, "privacy@acme.example") // whom to ask
				h := f.mp.Headers(t, m.ID)
				if got := h["Content-Language"]; len(got) != 1 || got[0] != lang {
					t.Errorf("%s mail Content-Language = %v, want %s", kind, got, lang)
				}
				if m.MessageID == "" || !strings.HasSuffix(h["Message-Id"][0], "@acme.example>") {
					t.Errorf("%s mail Message-ID = %q / %v", kind, m.MessageID, h["Message-Id"])
				}
				if m.From.Address != "privacy@acme.example" || len(m.To) != 1 || m.To[0].Address != strings.ToLower(addr) {
					t.Errorf("%s mail from %v to %v", kind, m.From, m.To)
				}
				if !strings.Contains(m.HTML, `lang="`+lang+`"`) {
					t.Errorf("%s mail has no HTML part in %s: %q", kind, lang, m.HTML)
				}
			}

			// 1. The person asks for a link; it arrives and signs them in once.
			if err := f.d.Mail.RequestPortalLink(f.ctx, " "+addr+" "); err != nil {
				t.Fatal(err)
			}
			f.deliver()
			m := f.only(addr, &seen)
			check("portal", m)
			i := strings.Index(m.Text, baseURL+"/me/login/lnk_")
			if i < 0 {
				t.Fatalf("portal mail carries no link:\n%s", m.Text)
			}
			linkID := strings.Fields(m.Text[i+len(baseURL+"/me/login/"):])[0]
			link, err := f.d.Store.UseLink(f.ctx, linkID, f.d.Clock.Now())
			if err != nil || link.Kind != likeness.LinkPortal || link.SubjectID != sub {
				t.Fatalf("the mailed link: %+v, %v; want a portal link for %s", link, err, sub)
			}
			if !strings.Contains(m.HTML, `href="`+baseURL+"/me/login/"+linkID+`"`) {
				t.Errorf("the HTML part does not link to the portal: %s", m.HTML)
			}

			// 2. A withdrawal is confirmed.
			if _, err := f.d.Consent.Withdraw(f.ctx, &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
				t.Fatal(err)
			}
			f.deliver()
			m = f.only(addr, &seen)
			check("withdrawal", m)
			contains(t, "withdrawal mail", m.Text, baseURL+"/me/link")

			// 3. A consent that ends within two weeks gets its reminder, once.
			f.d.Grant(t, sub, "ai-training")
			f.d.Clock.Add(365*24*time.Hour - 10*24*time.Hour)
			for range 2 {
				if _, err := f.d.Mail.RemindRenewals(f.ctx); err != nil {
					t.Fatal(err)
				}
			}
			f.deliver()
			check("renewal", f.only(addr, &seen))

			// 4. A breach that reached their data is told to them.
			f.breach(sub)
			f.deliver()
			check("breach", f.only(addr, &seen))

			// 5. Their erasure is confirmed, and nothing reaches them after it.
			if _, err := f.d.Erasure.EraseSubject(f.ctx, sub); err != nil {
				t.Fatal(err)
			}
			f.deliver()
			check("erasure", f.only(addr, &seen))
			rec, err := f.d.Store.Mail(f.ctx, "msg_mail.erasure_"+sub, sub)
			if err != nil || rec.Status != likeness.MailSent || rec.Sealed != nil {
				t.Fatalf("erasure mail record %+v, %v: want sent, its sealed copy dropped", rec, err)
			}
			if err := f.d.Mail.RequestPortalLink(f.ctx, addr); err != nil {
				t.Fatal(err)
			}
			f.d.Clock.Add(400 * 24 * time.Hour)
			f.d.Mail.RemindRenewals(f.ctx)
			f.deliver()
			if got := f.mp.To(t, addr); len(got) != seen {
				t.Fatalf("after the erasure %d more mails arrived", len(got)-seen)
			}
			// The console's list shows every mail, masked.
			list, err := f.d.Store.Mails(f.ctx, 100)
			if err != nil || len(list) != 5 {
				t.Fatalf("Mails = %d, %v; want 5", len(list), err)
			}
			for _, r := range list {
				if r.Status != likeness.MailSent || r.To != "j•••@e•••.org" || r.Locale != lang || r.MessageID == "" {
					t.Errorf("mail record %+v", r)
				}
			}
		})
	}
}

// breach opens an incident over the person's voice recordings and tells
// the people affected.
func (f *fixture) breach(sub string) {
	f.t.Helper()
	inc := incidentsFor(f)
	if _, err := f.d.Vault.Ingest(f.ctx, uploadOf(sub)); err != nil {
		f.t.Fatal(err)
	}
	f.d.Clock.Add(time.Hour)
	v, err := inc.Open(f.ctx, "Transcription bucket readable by anyone", "A storage bucket was public for two days.",
		f.d.Clock.Now().Add(-time.Minute), likeness.IncidentScope{Purposes: []string{"voice-transcription"}})
	if err != nil {
		f.t.Fatal(err)
	}
	if v.AffectedSubjects != 1 {
		f.t.Fatalf("the breach affected %d people, want 1", v.AffectedSubjects)
	}
	if _, err := inc.NotifySubjects(f.ctx, v.ID, "", time.Time{}); err != nil {
		f.t.Fatal(err)
	}
}
