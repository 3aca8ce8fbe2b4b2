package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"likeness"
)

// DecisionJSON is the JSON shape of one decision.
type DecisionJSON struct {
	Allow        bool              `json:"allow"`
	Reasons      []string          `json:"reasons"`
	ConsentEvent *DecisionEvidence `json:"consent_event"`
	SubjectID    string            `json:"subject_id,omitempty"`
}

// DecisionEvidence names the consent event a decision rests on.
type DecisionEvidence struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
}

// appendDecision writes d as JSON onto b, by hand: decisions are the hot path.
func appendDecision(b []byte, d *likeness.Decision) []byte {
	b = append(b, `{"allow":`...)
	b = strconv.AppendBool(b, d.Allow)
	b = append(b, `,"reasons":[`...)
	first := true
	for _, name := range d.Reasons.Names() {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = strconv.AppendQuote(b, name)
	}
	b = append(b, `],"consent_event":`...)
	if d.EventID == "" {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = strconv.AppendQuote(b, d.EventID)
		b = append(b, `,"time":"`...)
		b = likeness.FromMicros(d.EventTime).AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	if d.SubjectID != "" {
		b = append(b, `,"subject_id":`...)
		b = strconv.AppendQuote(b, d.SubjectID)
	}
	return append(b, '}')
}

func (s *Server) handleDecision(w http.ResponseWriter, r *http.Request) error {
	var req likeness.DecisionRequest
	if err := DecodeJSON(r, w, s.maxBody, &req); err != nil {
		return err
	}
	d, err := s.consent.Decide(&req)
	if err != nil {
		return err
	}
	s.countDecision(d.Allow, 1)
	b := appendDecision(make([]byte, 0, 256), &d)
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(append(b, '\n'))
	return err
}

func (s *Server) handleDecisionBatch(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Items []likeness.DecisionRequest `json:"items"`
	}
	if err := DecodeJSON(r, w, 16*s.maxBody, &in); err != nil {
		return err
	}
	if len(in.Items) == 0 {
		return likeness.Errorf(likeness.EINVALID, "items is empty")
	}
	if len(in.Items) > MaxBatch {
		return likeness.Errorf(likeness.ETOOLARGE, "a batch holds at most %d items, not %d", MaxBatch, len(in.Items))
	}
	now := s.now()
	for i := range in.Items {
		if err := s.consent.CheckDecision(&in.Items[i]); err != nil {
			return likeness.Errorf(likeness.EINVALID, "items[%d]: %s", i, likeness.ErrorMessage(err))
		}
		if in.Items[i].At.IsZero() {
			in.Items[i].At = now
		}
	}
	out := make([]likeness.Decision, len(in.Items))
	s.consent.Engine().DecideBatch(in.Items, out)
	allowed := 0
	b := make([]byte, 0, 128*len(out)+16)
	b = append(b, `{"results":[`...)
	for i := range out {
		if i > 0 {
			b = append(b, ',')
		}
		if out[i].Allow {
			allowed++
		}
		b = appendDecision(b, &out[i])
	}
	b = append(b, "]}\n"...)
	s.metrics.decisions.WithLabelValues("allow").Add(float64(allowed))
	s.metrics.decisions.WithLabelValues("deny").Add(float64(len(out) - allowed))
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(b)
	return err
}

func (s *Server) countDecision(allow bool, n int) {
	outcome := "deny"
	if allow {
		outcome = "allow"
	}
	s.metrics.decisions.WithLabelValues(outcome).Add(float64(n))
}
