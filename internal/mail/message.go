package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// messageID is the Message-ID of the mail answering outbox message msgID
// for subjectID: the same on every try, so a copy sent twice is one
// message to the reader's client.
func messageID(msgID, subjectID, domain string) string {
	h := sha256.Sum256([]byte(msgID + "\x00" + subjectID))
	return "<" + hex.EncodeToString(h[:16]) + "@" + domain + ">"
}

// senderDomain is the domain of the From address, for Message-IDs.
func senderDomain(from *mail.Address) string {
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		return d
	}
	return "localhost"
}

var htmlBody = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; max-width: 40em">
{{range .Paragraphs}}{{if .Link}}<p><a href="{{.Link}}">{{.Text}}</a></p>
{{else}}<p>{{.Text}}</p>
{{end}}{{end}}</body></html>
`))

type htmlParagraph struct {
	Text string
	Link template.URL
}

// isLink reports whether a paragraph is a URL alone (the drafts' links).
func isLink(p string) bool {
	return (strings.HasPrefix(p, "https://") || strings.HasPrefix(p, "http://")) && !strings.ContainsAny(p, " \n\"<>")
}

// oneLine keeps header values on their line, whatever a policy's titles hold.
var oneLine = strings.NewReplacer("\r", " ", "\n", " ")

// render writes d as a MIME message: plain text with an HTML alternative,
// both UTF-8 in quoted-printable, with its Message-ID and date.
func render(d *draft, from *mail.Address, msgID string, date time.Time) ([]byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	h("From", from.String())
	h("To", d.To)
	h("Subject", mime.QEncoding.Encode("utf-8", oneLine.Replace(d.Subject)))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", msgID)
	h("MIME-Version", "1.0")
	h("Content-Language", d.Locale)
	h("Auto-Submitted", "auto-generated")
	h("Content-Type", "multipart/alternative; boundary="+mw.Boundary())
	buf.WriteString("\r\n")

	text := strings.Join(d.Paragraphs, "\n\n") + "\n"
	var html bytes.Buffer
	paras := make([]htmlParagraph, len(d.Paragraphs))
	for i, p := range d.Paragraphs {
		paras[i] = htmlParagraph{Text: p}
		if isLink(p) {
			paras[i].Link = template.URL(p)
		}
	}
	if err := htmlBody.Execute(&html, map[string]any{"Lang": d.Locale, "Subject": d.Subject, "Paragraphs": paras}); err != nil {
		return nil, err
	}
	for _, part := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", html.String()}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(strings.ReplaceAll(part.body, "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
