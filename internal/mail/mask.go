package mail

import (
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Mask returns the form of an address the console shows: the first
// character of the local part and of the domain, and the top-level domain
// ("jane.doe@example.com" → "j•••@e•••.com"). It is enough to tell two
// mails apart, not to write to anyone.
func Mask(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return "•••"
	}
	first := func(s string) string {
		r, n := utf8.DecodeRuneInString(s)
		if n == 0 || r == utf8.RuneError {
			return ""
		}
		return string(r)
	}
	tld := ""
	if i := strings.LastIndexByte(domain, '.'); i >= 0 {
		tld = domain[i:]
	}
	return first(local) + "•••@" + first(domain) + "•••" + tld
}

// scrub removes addr from text (an SMTP server's error, which may quote
// the recipient), case-insensitively, putting its masked form instead; its
// local part goes too when long enough to identify someone.
func scrub(text, addr string) string {
	if addr == "" {
		return text
	}
	text = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(addr)).ReplaceAllLiteralString(text, Mask(addr))
	if local, _, ok := strings.Cut(addr, "@"); ok && len(local) >= 4 {
		text = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(local)).ReplaceAllLiteralString(text, "•••")
	}
	return text
}

// scrubbedError is an error whose text had the address taken out. It keeps
// the original's kind (permanent or not) but not its text.
type scrubbedError struct {
	text string
	orig error
}

func (e *scrubbedError) Error() string { return e.text }

// Is lets errors.Is see through to the kind of the original (e.g.
// outbox.ErrPermanent) without exposing its text.
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.orig, target) }

func scrubError(err error, addr string) error {
	if err == nil {
		return nil
	}
	return &scrubbedError{text: scrub(err.Error(), addr), orig: err}
}
