package console

import (
	"net/http"
	"time"

	"likeness"
)

type eventsView struct {
	Rows    []deadRow
	Retried bool
}

type deadRow struct {
	MsgID, Type, Sink, SubjectID string
	Attempts                     int
	Created                      time.Time
	LastError                    string
}

// maxErrorShown bounds how much of a delivery's last error the page shows.
const maxErrorShown = 300

// deadShown is the most dead deliveries the console lists (and counts).
const deadShown = 1000

func (h *Handler) events(w http.ResponseWriter, r *http.Request, s *session) {
	dead, err := h.cfg.Store.DeadDeliveries(r.Context(), "", deadShown)
	if err != nil {
		h.failed(w, r, s, "dead deliveries", err)
		return
	}
	v := &eventsView{Retried: r.URL.Query().Get("retried") == "1"}
	for _, d := range dead {
		v.Rows = append(v.Rows, deadRow{MsgID: d.Message.ID, Type: d.Message.Type, Sink: d.Sink, SubjectID: d.Message.SubjectID,
			Attempts: d.Attempts, Created: d.Message.CreatedAt, LastError: likeness.Elide(d.LastError, maxErrorShown)})
	}
	h.render(w, r, s, http.StatusOK, "events", &view{Title: "events.title", Nav: "events", Data: v})
}

// retry puts a dead delivery back in the queue (admins only; see action).
func (h *Handler) retry(w http.ResponseWriter, r *http.Request, s *session) {
	sink, msgID := r.PostForm.Get("sink"), r.PostForm.Get("msg_id")
	if sink == "" || msgID == "" {
		h.message(w, r, s, http.StatusBadRequest, "error.title", "error.form")
		return
	}
	if err := h.cfg.Store.RetryDead(r.Context(), sink, msgID); err != nil {
		h.failed(w, r, s, "retry dead delivery", err)
		return
	}
	h.recordAs(r, s, "console: retry dead delivery "+sink+"/"+msgID, "")
	h.Log.Info("console: dead delivery retried", "key_id", s.KeyID, "sink", sink, "msg", msgID)
	http.Redirect(w, r, "/console/events?retried=1", http.StatusSeeOther)
}
