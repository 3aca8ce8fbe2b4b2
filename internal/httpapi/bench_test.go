package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"likeness"
)

// BenchmarkDecisionBatchHTTP10k posts batches of 10,000 decisions to a real
// server over loopback and reports decisions per second.
func BenchmarkDecisionBatchHTTP10k(b *testing.B) {
	e := newEnv(b, "")
	var subs []string
	for i := range 200 {
		subs = append(subs, e.subject(fmt.Sprint("b", i), "EU-DE"))
		if i%2 == 0 {
			e.grant(subs[i], "ai-training")
		}
	}
	items := make([]map[string]string, 10000)
	for i := range items {
		items[i] = map[string]string{"subject_id": subs[i%len(subs)], "purpose": "ai-training", "data_category": "image"}
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/decisions/batch", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.tokens[likeness.RolePipeline])
		res, err := e.srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*len(items))/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkDecisionHTTP posts single decisions over loopback keep-alive
// from 8 goroutines and reports decisions per second.
func BenchmarkDecisionHTTP(b *testing.B) {
	e := newEnv(b, "")
	sub := e.subject("single", "EU-DE")
	e.grant(sub, "ai-training")
	body := []byte(`{"subject_id":"` + sub + `","purpose":"ai-training","data_category":"image"}`)
	token := "Bearer " + e.tokens[likeness.RolePipeline]
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1/decisions", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", token)
			res, err := e.srv.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// benchWriter is a ResponseWriter that keeps nothing, so the handler
// benchmark measures the server's work alone.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(int)             {}

// BenchmarkDecisionHandler runs one decision through the API's whole
// handler (routing, key check, metrics, request log, decoding, decision,
// encoding) without a network, and reports its allocations.
func BenchmarkDecisionHandler(b *testing.B) {
	e := newEnv(b, "")
	sub := e.subject("single", "EU-DE")
	e.grant(sub, "ai-training")
	body := []byte(`{"subject_id":"` + sub + `","purpose":"ai-training","data_category":"image"}`)
	token := "Bearer " + e.tokens[likeness.RolePipeline]
	rd := bytes.NewReader(body)
	req, _ := http.NewRequest("POST", "/v1/decisions", rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		clear(w.h)
		e.api.ServeHTTP(w, req)
	}
}
