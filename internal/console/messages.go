package console

import (
	"net/http"
	"time"

	"likeness"
)

// MessagesLimit bounds the mails the messages page lists.
const MessagesLimit = 500

type messagesView struct {
	Sending bool // mail goes to an SMTP server
	Rows    []mailRow
}

type mailRow struct {
	When                         time.Time
	Kind, To, SubjectID, Locale  string
	Status, MessageID, LastError string
	Attempts                     int
}

// messages lists the mails sent to people: when, which kind, to whom (a
// masked address and the subject), and how it went. No address is shown.
func (h *Handler) messages(w http.ResponseWriter, r *http.Request, s *session) {
	mails, err := h.cfg.Store.Mails(r.Context(), MessagesLimit)
	if err != nil {
		h.failed(w, r, s, "list mails", err)
		return
	}
	v := &messagesView{Sending: h.cfg.MailSending}
	for _, m := range mails {
		when := m.CreatedAt
		if !m.SentAt.IsZero() {
			when = m.SentAt
		}
		v.Rows = append(v.Rows, mailRow{When: when, Kind: m.Kind, To: m.To, SubjectID: m.SubjectID, Locale: m.Locale,
			Status: m.Status, MessageID: m.MessageID, LastError: likeness.Elide(m.LastError, maxErrorShown), Attempts: m.Attempts})
	}
	h.render(w, r, s, http.StatusOK, "messages", &view{Title: "messages.title", Nav: "messages", Data: v})
}
