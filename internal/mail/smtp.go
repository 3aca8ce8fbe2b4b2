package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"time"

	"likeness/internal/outbox"
)

// Transport hands a composed message to a mail server. Send must be safe
// for concurrent use. An error wrapping outbox.ErrPermanent is one no
// retry will mend (the server refused the recipient for good).
type Transport interface {
	Send(ctx context.Context, from, to string, msg []byte) error
}

// SMTP sends through one SMTP server (RFC 5321): STARTTLS whenever the
// server offers it (or always, with RequireTLS), then AUTH PLAIN if a
// username is set, which net/smtp sends only over TLS or to localhost.
type SMTP struct {
	Addr       string // host:port
	Username   string // "": no authentication
	Password   string
	RequireTLS bool   // refuse a server that offers no STARTTLS
	HelloName  string // EHLO name; default "localhost"
	// Timeout bounds the whole conversation; default 20 s, so that a
	// dispatcher's batch of ten stays well inside its outbox lease.
	Timeout time.Duration
	// TLSConfig is used for STARTTLS; nil checks the server's
	// certificate against the host of Addr.
	TLSConfig *tls.Config
}

// Send delivers msg from from to to. A 5xx answer is permanent, any other
// failure worth a retry.
func (s *SMTP) Send(ctx context.Context, from, to string, msg []byte) error {
	err := s.send(ctx, from, to, msg)
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return outbox.Permanent(err)
	}
	return err
}

func (s *SMTP) send(ctx context.Context, from, to string, msg []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("smtp: address %q: %w", s.Addr, err)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp: connect: %w", err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: greeting: %w", err)
	}
	defer c.Close()
	hello := s.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return fmt.Errorf("smtp: EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := s.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp: STARTTLS: %w", err)
		}
	} else if s.RequireTLS {
		return errors.New("smtp: the server does not offer STARTTLS and TLS is required")
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("smtp: AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: end of DATA: %w", err)
	}
	return c.Quit()
}
