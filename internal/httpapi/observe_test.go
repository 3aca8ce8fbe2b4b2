package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/httpapi"
	"likeness/internal/likenesstest"
)

// withServer points e at a second API over the same deployment, built from
// cfg (the deployment's parts are filled in), so its keys still work.
func (e *env) withServer(cfg httpapi.Config) *httpapi.Server {
	base := e.d.APIConfig()
	base.Logger, base.Registry, base.SeparateMetrics, base.StatsTimeout, base.Collectors = cfg.Logger, cfg.Registry, cfg.SeparateMetrics, cfg.StatsTimeout, cfg.Collectors
	api := httpapi.New(base)
	srv := httptest.NewServer(api)
	e.t.Cleanup(srv.Close)
	e.api, e.srv = api, srv
	return api
}

func TestRequestLogNamesTheRouteNeverTheIDsOrTheToken(t *testing.T) {
	e := newEnv(t, "")
	var logs likenesstest.Buffer
	e.withServer(httpapi.Config{Logger: slogJSON(&logs)})
	sub := e.subject("person-4711@example.com", "EU-DE")
	e.grant(sub, "ai-training")
	r := e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub+"/consents?note=query-secret-value", nil)
	if r.status != 200 {
		t.Fatalf("consents: %d %s", r.status, r.body)
	}
	e.call(likeness.RoleAuditor, "GET", "/v1/subjects/sub_doesnotexist", nil)
	out := logs.String()
	for _, secret := range []string{sub, "sub_doesnotexist", "person-4711", "query-secret-value",
		e.tokens[likeness.RoleAuditor], e.tokens[likeness.RoleCollector]} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
	}
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Bytes())
		}
		if l["msg"] == "request" {
			lines = append(lines, l)
		}
	}
	want := map[string]bool{"POST /v1/subjects 201": false, "POST /v1/subjects/{id}/consents 201": false,
		"GET /v1/subjects/{id}/consents 200": false, "GET /v1/subjects/{id} 404": false}
	for _, l := range lines {
		k := l["method"].(string) + " " + l["route"].(string) + " " + strconv.Itoa(int(l["status"].(float64)))
		if _, ok := want[k]; ok {
			want[k] = true
		}
		if key, _ := l["key"].(string); !strings.HasPrefix(key, "key_") {
			t.Errorf("request line without the key id: %v", l)
		}
		if _, ok := l["duration_ms"].(float64); !ok {
			t.Errorf("request line without a duration: %v", l)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no request line for %s in:\n%s", k, out)
		}
	}
}

func TestMetricsNeedAnAdminOrAuditorKey(t *testing.T) {
	e := newEnv(t, "")
	for role, want := range map[likeness.Role]int{"": 401, likeness.RoleCollector: 403, likeness.RolePipeline: 403,
		likeness.RoleAuditor: 200, likeness.RoleAdmin: 200} {
		if r := e.call(role, "GET", "/metrics", nil); r.status != want {
			t.Errorf("GET /metrics as %q: %d, want %d", role, r.status, want)
		}
	}
}

func TestSeparateMetricsLeaveTheAPIAndServeWithoutAKey(t *testing.T) {
	e := newEnv(t, "")
	api := e.withServer(httpapi.Config{SeparateMetrics: true})
	if r := e.call(likeness.RoleAdmin, "GET", "/metrics", nil); r.status != 404 {
		t.Fatalf("GET /metrics on the API with SeparateMetrics: %d, want 404", r.status)
	}
	rec := httptest.NewRecorder()
	api.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "likeness_ledger_entries 0") {
		t.Fatalf("metrics handler: %d\n%s", rec.Code, rec.Body)
	}
}

// scrape returns /metrics as an auditor sees it.
func (e *env) scrape() string {
	e.t.Helper()
	r := e.call(likeness.RoleAuditor, "GET", "/metrics", nil)
	if r.status != 200 {
		e.t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	return string(r.body)
}

// sample returns the value of the series named exactly by series
// ("name{labels}"), or -1 if it is absent.
func sample(t *testing.T, text, series string) float64 {
	t.Helper()
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

func TestMetricsPassPromtoolAndMove(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			before := e.scrape()
			promtoolCheck(t, before)

			sub := e.subject("metrics", "EU-DE")
			if r := e.grant(sub, "ai-training", "voice-transcription"); r.status != 201 {
				t.Fatalf("grant: %d %s", r.status, r.body)
			}
			e.grant("sub_nobody", "ai-training")
			body := wav("metrics", 2000)
			if r := e.upload(likeness.RoleCollector, sub, "purpose=ai-training&category=voice", "audio/wav", body); r.status != 201 {
				t.Fatalf("upload: %d %s", r.status, r.body)
			}
			if r := e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+sub+"/consents/voice-transcription/withdraw", nil); r.status != 201 {
				t.Fatalf("withdraw: %d %s", r.status, r.body)
			}
			e.decide(map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "voice"})
			// A sink claims one message and gives up on it: it has a
			// backlog and a dead letter.
			ctx := context.Background()
			claimed, err := e.store.ClaimDeliveries(ctx, "webhook", e.clock.Now(), 1)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v, %d", err, len(claimed))
			}
			if err := e.store.MarkFailed(ctx, "webhook", claimed[0].Message.ID, 1, e.clock.Now(), "refused", true); err != nil {
				t.Fatal(err)
			}

			after := e.scrape()
			promtoolCheck(t, after)
			for series, want := range map[string]float64{
				`likeness_grants_total{outcome="ok"}`:            1,
				`likeness_grants_total{outcome="not_found"}`:     1,
				`likeness_withdrawals_total{outcome="ok"}`:       1,
				`likeness_decisions_total{outcome="allow"}`:      1,
				`likeness_decision_seconds_count{kind="single"}`: 1,
				`likeness_ledger_entries`:                        3,
				`likeness_assets`:                                1,
				`likeness_blob_bytes`:                            float64(len(body)),
				`likeness_outbox_dead{sink="webhook"}`:           1,
				`likeness_store_stats_up`:                        1,
				`likeness_http_request_seconds_count{method="POST",route="/v1/subjects/{id}/consents"}`: 2,
			} {
				if got := sample(t, after, series); got != want {
					t.Errorf("%s = %v, want %v", series, got, want)
				}
				if series == "likeness_store_stats_up" || strings.HasPrefix(series, "likeness_outbox") {
					continue
				}
				if was := sample(t, before, series); was >= want {
					t.Errorf("%s did not move: %v before, %v after", series, was, want)
				}
			}
			if p := sample(t, after, `likeness_outbox_pending{sink="webhook"}`); p < 1 {
				t.Errorf("webhook backlog %v, want at least 1", p)
			}
			if age := sample(t, after, `likeness_ledger_checkpoint_age_seconds`); age < 0 {
				t.Errorf("no checkpoint age:\n%s", after)
			}
			dashboardNamesOnly(t, after)
		})
	}
}

// promtoolCheck runs `promtool check metrics` on a scrape.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Log("promtool is not installed (apt-get install prometheus); the exposition is not linted")
		return
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func slogJSON(w *likenesstest.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// dashboardNamesOnly checks that every likeness_ metric the Grafana
// dashboard queries is in the scrape.
func dashboardNamesOnly(t *testing.T, scrape string) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/grafana/likeness.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`likeness_[a-z_]+`).FindAllString(string(doc), -1) {
		if !strings.Contains(scrape, "\n"+name) {
			t.Errorf("the dashboard queries %s, which /metrics does not export", name)
		}
	}
}
