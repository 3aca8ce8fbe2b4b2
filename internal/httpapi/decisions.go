package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"likeness"
	"likeness/internal/http/input"
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
		b = appendString(b, name)
	}
	b = append(b, `],"consent_event":`...)
	if d.EventID == "" {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = appendString(b, d.EventID)
		b = append(b, `,"time":"`...)
		b = likeness.FromMicros(d.EventTime).AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	if d.SubjectID != "" {
		b = append(b, `,"subject_id":`...)
		b = appendString(b, d.SubjectID)
	}
	return append(b, '}')
}

// appendString writes s as a JSON string. Ids and reason codes are plain
// ASCII, which is copied as is; anything else goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// decisionIn is a decision request with the client's consistency token.
type decisionIn struct {
	likeness.DecisionRequest
	MinRevision int64 `json:"min_revision,omitempty"`
}

func (s *Server) handleDecision(w http.ResponseWriter, r *http.Request) error {
	var in decisionIn
	if err := s.decodeDecision(w, r, &in); err != nil {
		return err
	}
	req := &in.DecisionRequest
	if err := s.awaitRevision(w, r, in.MinRevision); err != nil {
		return err
	}
	start := time.Now()
	d, err := s.consent.Decide(req)
	if err != nil {
		return err
	}
	s.metrics.decideSingle.Observe(time.Since(start).Seconds())
	if s.stale() {
		d = staleDecision
	}
	if d.Allow {
		s.metrics.countDecisions(1, 1)
	} else {
		s.metrics.countDecisions(0, 1)
	}
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	b := appendDecision((*bp)[:0], &d)
	*bp = b[:0]
	setJSON(w.Header())
	_, err = w.Write(append(b, '\n'))
	return err
}

// batchBuffers are reused across batch requests: a batch of 10,000 would
// otherwise grow three slices from nothing on every call.
type batchBuffers struct {
	items []likeness.DecisionRequest
	out   []likeness.Decision
	body  []byte
	in    []byte // the request body
}

var batchPool = sync.Pool{New: func() any { return new(batchBuffers) }}

func (s *Server) handleDecisionBatch(w http.ResponseWriter, r *http.Request) error {
	buf := batchPool.Get().(*batchBuffers)
	defer func() {
		// Nothing of one request may leak into the next.
		clear(buf.items[:cap(buf.items)])
		clear(buf.out[:cap(buf.out)])
		buf.items, buf.out, buf.body, buf.in = buf.items[:0], buf.out[:0], buf.body[:0], buf.in[:0]
		batchPool.Put(buf)
	}()
	in := struct {
		Items       []likeness.DecisionRequest `json:"items"`
		MinRevision int64                      `json:"min_revision,omitempty"`
	}{Items: buf.items}
	body, err := s.readBatch(w, r, buf)
	if err != nil {
		return err
	}
	var ok bool
	if in.Items, in.MinRevision, ok = decodeBatch(string(body), buf.items); !ok {
		clear(buf.items[:cap(buf.items)])
		in.Items, in.MinRevision = buf.items[:0], 0
		if err := input.UnmarshalBody(body, &in); err != nil {
			return err
		}
	}
	if err := s.awaitRevision(w, r, in.MinRevision); err != nil {
		return err
	}
	buf.items = in.Items
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
	out := slices.Grow(buf.out[:0], len(in.Items))[:len(in.Items)]
	buf.out = out
	start := time.Now()
	s.index.DecideBatch(in.Items, out)
	s.metrics.decideBatch.Observe(time.Since(start).Seconds())
	if s.stale() {
		for i := range out {
			out[i] = staleDecision
		}
	}
	allowed := 0
	b := slices.Grow(buf.body[:0], 128*len(out)+16)
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
	buf.body = b
	s.metrics.countDecisions(allowed, len(out))
	setJSON(w.Header())
	_, err = w.Write(b)
	return err
}

// readBatch reads a batch body (at most 16 times the server's body limit)
// into buf.in when its length is announced, else as input.DecodeJSON does.
// The body must arrive within RequestTimeout and its length at uploadRate,
// and buf.in grows only as it arrives: an announced length that never
// comes holds neither the connection nor the memory it names.
func (s *Server) readBatch(w http.ResponseWriter, r *http.Request, buf *batchBuffers) ([]byte, error) {
	if err := input.JSONContentType(r); err != nil {
		return nil, err
	}
	limit := 16 * s.maxBody
	n := r.ContentLength
	if n <= 0 || n > limit {
		bodyDeadline(w, bodyTime(limit))
		return input.ReadBody(r, w, limit)
	}
	bodyDeadline(w, bodyTime(n))
	in := buf.in[:0]
	for int64(len(in)) < n {
		if len(in) == cap(in) {
			in = slices.Grow(in, int(min(n-int64(len(in)), int64(max(cap(in), batchChunk)))))
		}
		m, err := r.Body.Read(in[len(in):min(cap(in), int(n))])
		in = in[:len(in)+m]
		if err != nil && (err != io.EOF || int64(len(in)) < n) {
			buf.in = in
			return nil, likeness.Errorf(likeness.EINVALID, "could not read the request body: %d of the %d bytes announced arrived", len(in), n)
		}
	}
	buf.in = in
	return in, nil
}

// batchChunk is the least a batch body's buffer grows by.
const batchChunk = 64 << 10

// jsonType is the Content-Type header value of every decision answer,
// shared: net/http only reads it.
var jsonType = []string{"application/json"}

func setJSON(h http.Header) { h["Content-Type"] = jsonType }
