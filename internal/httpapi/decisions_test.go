package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"likeness"
)

func TestBatchDecisionsKeepOrder(t *testing.T) {
	e := newEnv(t, "")
	a, b := e.subject("a", "EU-DE"), e.subject("b", "EU-DE")
	e.grant(a, "ai-training")
	r := e.call(likeness.RolePipeline, "POST", "/v1/decisions/batch", map[string]any{"items": []map[string]string{
		{"subject_id": b, "purpose": "ai-training", "data_category": "image"},
		{"subject_id": a, "purpose": "ai-training", "data_category": "image"},
		{"subject_id": a, "purpose": "ai-training", "data_category": "video"},
		{"subject_id": a, "purpose": "ai-training", "data_category": "image", "recipient": "gpu-cloud-us"},
		{"subject_id": "sub_unknown", "purpose": "ai-training", "data_category": "image"},
	}})
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	var out struct{ Results []decisionJSON }
	r.json(t, &out)
	want := []struct {
		allow  bool
		reason string
	}{{false, "no_consent"}, {true, ""}, {false, "category_not_covered"}, {true, ""}, {false, "subject_not_found"}}
	if len(out.Results) != len(want) {
		t.Fatalf("%d results", len(out.Results))
	}
	for i, w := range want {
		got := out.Results[i]
		if got.Allow != w.allow || (w.reason != "" && !has(got.Reasons, w.reason)) {
			t.Errorf("item %d: %+v, want allow=%v %s", i, got, w.allow, w.reason)
		}
	}
}

func TestTransferRulesInDecisions(t *testing.T) {
	e := newEnv(t, "")
	eu := e.subject("eu", "EU-DE")
	us := e.subject("us", "US-CA")
	e.grant(eu, "marketing-personalization", "ai-training")
	e.grant(us, "marketing-personalization")
	cases := []struct {
		name, sub, purpose, recipient, country string
		allow                                  bool
		reason                                 string
	}{
		{"EU subject to declared recipient in DE", eu, "marketing-personalization", "acme-marketing", "", true, ""},
		{"EU subject to US partner with transfer none", eu, "marketing-personalization", "adpartner-us", "", false, "transfer_not_permitted"},
		{"EU subject to US cloud under SCC", eu, "ai-training", "gpu-cloud-us", "", true, ""},
		{"recipient not declared for purpose", eu, "ai-training", "acme-marketing", "", false, "recipient_not_declared"},
		{"unknown recipient", eu, "ai-training", "nsa", "", false, "recipient_not_declared"},
		{"EU subject to a country without adequacy", eu, "ai-training", "", "CN", false, "transfer_not_permitted"},
		{"EU subject to Japan (adequacy)", eu, "ai-training", "", "JP", true, ""},
	}
	for _, c := range cases {
		d := e.decide(map[string]any{"subject_id": c.sub, "purpose": c.purpose, "data_category": "image", "recipient": c.recipient, "country": c.country})
		if d.Allow != c.allow || (c.reason != "" && !has(d.Reasons, c.reason)) {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
}

// Batch buffers are reused between requests: nothing of one request may
// reach the next one's decisions.
func TestBatchRequestsDoNotLeakIntoEachOther(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("pool", "EU-DE")
	e.grant(sub, "ai-training")
	batch := func(item map[string]string) decisionJSON {
		r := e.call(likeness.RolePipeline, "POST", "/v1/decisions/batch", map[string]any{"items": []map[string]string{item, item}})
		var out struct{ Results []decisionJSON }
		r.json(t, &out)
		if r.status != 200 || len(out.Results) != 2 {
			t.Fatalf("batch: %d %s", r.status, r.body)
		}
		return out.Results[1]
	}
	if d := batch(map[string]string{"subject_id": sub, "purpose": "ai-training", "data_category": "image", "recipient": "nsa", "country": "CN"}); d.Allow {
		t.Fatalf("first batch: %+v", d)
	}
	if d := batch(map[string]string{"subject_id": sub, "purpose": "ai-training", "data_category": "image"}); !d.Allow {
		t.Fatalf("second batch without recipient or country was decided with the first one's: %+v", d)
	}
}

// A caller that announces a large batch and sends almost none of it holds
// only what it sent: the body's buffer grows as bytes arrive. (Before, it
// was allocated whole from Content-Length, and 24 such connections held
// 384 MiB until they were closed.) A body cut short is a clear 400.
func TestAnAnnouncedBatchThatNeverArrivesHoldsNoMemory(t *testing.T) {
	e := newEnv(t, "")
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	const conns, announced = 24, 16 << 20
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var open []net.Conn
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/decisions/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{", e.tokens[likeness.RolePipeline], announced)
		open = append(open, c)
	}
	// Every handler reads its body within moments; watch the heap a while.
	var after runtime.MemStats
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		runtime.ReadMemStats(&after)
		if grew := int64(after.TotalAlloc) - int64(before.TotalAlloc); grew > conns*announced/8 {
			t.Fatalf("%d connections that announced %d MiB and sent one byte made the server allocate %d MiB", conns, announced>>20, grew>>20)
		}
	}
	// One of them hangs up: its request fails as a short body.
	c := open[0]
	c.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(c)
	if !bytes.Contains(reply, []byte("400 Bad Request")) || !bytes.Contains(reply, []byte("1 of the 16777216 bytes announced arrived")) {
		t.Errorf("a body cut short: %q", reply)
	}
}
