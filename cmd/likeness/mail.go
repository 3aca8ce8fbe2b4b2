package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"likeness/internal/mail"
)

// mailFlags configure how likeness reaches people by e-mail.
type mailFlags struct {
	addr, from, user, password string
	requireTLS                 bool
	remindDays                 int
}

func (f *mailFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "smtp-addr", env("LIKENESS_SMTP_ADDR", ""), "SMTP server (host:port) that mails people their portal links, reminders, breach notices\nand confirmations; STARTTLS is used whenever offered (env LIKENESS_SMTP_ADDR; unset: mails are\nrecorded as not sent)")
	fs.StringVar(&f.from, "smtp-from", env("LIKENESS_SMTP_FROM", ""), "sender of those mails, e.g. \"Privacy <privacy@example.com>\" (env LIKENESS_SMTP_FROM)")
	fs.StringVar(&f.user, "smtp-user", env("LIKENESS_SMTP_USER", ""), "SMTP username, if the server wants AUTH (env LIKENESS_SMTP_USER; the password only from\nenv LIKENESS_SMTP_PASSWORD)")
	fs.BoolVar(&f.requireTLS, "smtp-require-tls", env("LIKENESS_SMTP_REQUIRE_TLS", "") == "1", "refuse an SMTP server that offers no STARTTLS (env LIKENESS_SMTP_REQUIRE_TLS=1)")
	fs.IntVar(&f.remindDays, "remind-days", int(envInt("LIKENESS_REMIND_DAYS", 14)), "mail a reminder this many days before a consent ends (env LIKENESS_REMIND_DAYS)")
	f.password = env("LIKENESS_SMTP_PASSWORD", "")
}

// sink builds the mail sink: through the SMTP server if one is set, else
// one that records every mail as not sent. baseURL is where the mails'
// links point.
func (f *mailFlags) sink(svc *mail.Service, baseURL string, logger *slog.Logger) (*mail.Sink, error) {
	cfg := mail.SinkConfig{BaseURL: baseURL}
	if f.addr != "" {
		if f.from == "" {
			return nil, fmt.Errorf("%w: --smtp-addr needs --smtp-from, the sender of the mails", errUsage)
		}
		if !strings.Contains(f.addr, ":") {
			return nil, fmt.Errorf("%w: --smtp-addr %q needs a port (host:587)", errUsage, f.addr)
		}
		cfg.Transport = &mail.SMTP{Addr: f.addr, Username: f.user, Password: f.password, RequireTLS: f.requireTLS}
		cfg.From = f.from
	} else {
		logger.Warn("no SMTP server is configured (--smtp-addr): mails to people are recorded as not sent")
	}
	return svc.Sink(cfg)
}

// remindEvery is how often due renewal reminders are looked for.
const remindEvery = time.Hour
