package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// runBench is the project's load generator: it sets up subjects with
// consents through the API, then sends decisions over keep-alive
// connections for a bounded time and reports throughput and latency.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench --url URL --token ADMIN_KEY", "Load-tests POST /v1/decisions (or /v1/decisions/batch with --batch N) of a running\nserver for a bounded time and prints decisions/s and latency percentiles.", stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	token := fs.String("token", env("LIKENESS_ADMIN_TOKEN", ""), "an admin API key (env LIKENESS_ADMIN_TOKEN)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send load (at most 2m)")
	conc := fs.Int("concurrency", 32, "concurrent connections")
	subjects := fs.Int("subjects", 200, "subjects to create for the run")
	batch := fs.Int("batch", 0, "items per request: 0 sends single decisions, N uses the batch endpoint")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *token == "" {
		return fmt.Errorf("%w: --token is required", errUsage)
	}
	if *duration > 2*time.Minute || *duration <= 0 {
		return fmt.Errorf("%w: --duration must be between 0 and 2m", errUsage)
	}
	if *conc < 1 || *conc > 1024 || *batch < 0 || *batch > 10000 {
		return fmt.Errorf("%w: --concurrency must be 1..1024 and --batch 0..10000", errUsage)
	}
	tr := &http.Transport{MaxIdleConns: *conc, MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}
	c := &benchClient{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, url: *url, token: *token}

	ids, purpose, category, err := benchSubjects(c, *subjects, stderr)
	if err != nil {
		return err
	}
	bodies := make([][]byte, len(ids))
	for i, id := range ids {
		item := map[string]string{"subject_id": id, "purpose": purpose, "data_category": category}
		if *batch > 0 {
			items := make([]map[string]string, *batch)
			for k := range items {
				items[k] = map[string]string{"subject_id": ids[(i+k)%len(ids)], "purpose": purpose, "data_category": category}
			}
			bodies[i], _ = json.Marshal(map[string]any{"items": items})
		} else {
			bodies[i], _ = json.Marshal(item)
		}
	}
	path := "/v1/decisions"
	per := 1
	if *batch > 0 {
		path, per = "/v1/decisions/batch", *batch
	}
	fmt.Fprintf(stderr, "sending %s for %s over %d connections…\n", path, *duration, *conc)
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	lat, errs, elapsed := benchLoad(ctx, c, path, bodies, *conc)
	if len(lat) == 0 {
		return fmt.Errorf("no request succeeded (%d errors)", errs)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Fprintf(stdout, "requests: %d in %.1fs (%d errors)\n", len(lat), elapsed.Seconds(), errs)
	fmt.Fprintf(stdout, "decisions/s: %.0f\n", float64(len(lat)*per)/elapsed.Seconds())
	fmt.Fprintf(stdout, "latency per request: p50 %s  p90 %s  p99 %s  max %s\n", pct(.50), pct(.90), pct(.99), lat[len(lat)-1])
	if errs > 0 {
		return fmt.Errorf("%d requests failed", errs)
	}
	return nil
}

type benchClient struct {
	http       *http.Client
	url, token string
}

func (c *benchClient) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (c *benchClient) raw(path string, body []byte) error {
	req, err := http.NewRequest("POST", c.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// benchSubjects creates n subjects through the API and grants every other one
// the notice's first purpose, so the load sees both outcomes.
func benchSubjects(c *benchClient, n int, stderr io.Writer) (ids []string, purpose, category string, err error) {
	fmt.Fprintf(stderr, "setting up %d subjects with consents…\n", n)
	var notice struct {
		Version  int64  `json:"version"`
		SHA256   string `json:"sha256"`
		Language string `json:"language"`
		Purposes []struct {
			ID   string   `json:"id"`
			Data []string `json:"data"`
		} `json:"purposes"`
	}
	if err := c.do("GET", "/v1/notices/current", nil, &notice); err != nil {
		return nil, "", "", err
	}
	if len(notice.Purposes) == 0 {
		return nil, "", "", fmt.Errorf("the server's notice declares no purposes")
	}
	purpose, category = notice.Purposes[0].ID, notice.Purposes[0].Data[0]
	ids = make([]string, n)
	run := time.Now().UnixNano()
	for i := range ids {
		var sub struct{ ID string }
		if err := c.do("POST", "/v1/subjects", map[string]string{"external_id": fmt.Sprintf("bench-%d-%d", run, i), "jurisdiction": "EU-DE"}, &sub); err != nil {
			return nil, "", "", err
		}
		ids[i] = sub.ID
		if i%2 == 0 {
			if err := c.do("POST", "/v1/subjects/"+sub.ID+"/consents", map[string]any{"purposes": []string{purpose},
				"notice_version": notice.Version, "notice_sha256": notice.SHA256, "method": "checkbox", "language": notice.Language}, nil); err != nil {
				return nil, "", "", err
			}
		}
	}
	return ids, purpose, category, nil
}

// benchLoad sends the request bodies round-robin over conc connections until
// ctx ends and returns every successful request's latency and the failures.
func benchLoad(ctx context.Context, c *benchClient, path string, bodies [][]byte, conc int) (lat []time.Duration, errs int, elapsed time.Duration) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for i := w; ctx.Err() == nil; i += conc {
				t := time.Now()
				if err := c.raw(path, bodies[i%len(bodies)]); err != nil {
					if ctx.Err() == nil {
						bad++
					}
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat, errs = append(lat, mine...), errs+bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, errs, time.Since(start)
}
