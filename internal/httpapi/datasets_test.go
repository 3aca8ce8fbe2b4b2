package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness"
	"likeness/internal/dataset"
	"likeness/internal/httpapi"
	"likeness/internal/likenesstest"
)

// newDatasetEnv is newEnv with the dataset service wired in.
func newDatasetEnv(t *testing.T, dsn string) *env {
	t.Helper()
	e := newEnv(t, dsn)
	cfg := e.d.APIConfig()
	cfg.Datasets, cfg.Requests = e.d.Datasets, e.d.Requests(t)
	e.srv = httptest.NewServer(httpapi.New(cfg))
	t.Cleanup(e.srv.Close)
	return e
}

func smallJPEG(t testing.TB, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{uint8(x * seed), uint8(y * 7), 99, 255})
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, nil)
	return b.Bytes()
}

type datasetJSON struct {
	ID             string    `json:"id"`
	Version        int       `json:"version"`
	Status         string    `json:"status"`
	ItemCount      int       `json:"item_count"`
	Purpose        string    `json:"purpose"`
	Categories     []string  `json:"categories"`
	Recipient      string    `json:"recipient"`
	CreatedAt      time.Time `json:"created_at"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	PredecessorID  string    `json:"predecessor_id"`
	SuccessorID    string    `json:"successor_id"`
	TaintReason    string    `json:"taint_reason"`
	TaintedAt      time.Time `json:"tainted_at"`
	Models         []struct {
		ID string `json:"id"`
	} `json:"models"`
	ModelsToRetrain []struct {
		ID string `json:"id"`
	} `json:"models_to_retrain"`
}

func (e *env) consentingSubject(ext string) string {
	e.t.Helper()
	sub := e.subject(ext, "EU-DE")
	if r := e.grant(sub, "ai-training"); r.status != 201 {
		e.t.Fatalf("grant: %d %s", r.status, r.body)
	}
	// A photo with a face: the example policy's ai-training declares no
	// anonymization, so its images are blurred (a faceless one is held for review).
	face, err := os.ReadFile("../anonymize/testdata/face.jpg")
	if err != nil {
		e.t.Fatal(err)
	}
	if r := e.upload(likeness.RoleCollector, sub, "purpose=ai-training&category=image", "image/jpeg", face); r.status != 201 {
		e.t.Fatalf("upload: %d %s", r.status, r.body)
	}
	return sub
}

func TestDatasetAPIWithdrawalTaintsAndRebuildExcludes(t *testing.T) {
	e := newDatasetEnv(t, "")
	a := e.consentingSubject("ann")
	b := e.consentingSubject("ben")
	r := e.call(likeness.RolePipeline, "POST", "/v1/datasets", map[string]any{"purpose": "ai-training", "categories": []string{"image"}, "recipient": "acme-ml"})
	if r.status != 201 {
		t.Fatalf("build: %d %s", r.status, r.body)
	}
	var d datasetJSON
	r.json(t, &d)
	if d.ID == "" || d.Version != 1 || d.Status != "ready" || d.ItemCount != 2 || d.Purpose != "ai-training" || len(d.ManifestSHA256) != 64 || d.CreatedAt.IsZero() {
		t.Fatalf("build body: %s", r.body)
	}
	if r := e.call(likeness.RolePipeline, "POST", "/v1/models", map[string]any{"name": "faces-v1", "dataset_id": d.ID}); r.status != 201 {
		t.Fatalf("register model: %d %s", r.status, r.body)
	}
	e.clock.Set(e.clock.Now().Add(time.Hour))
	if w := e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+b+"/consents/ai-training/withdraw", nil); w.status != 201 {
		t.Fatalf("withdraw: %d %s", w.status, w.body)
	}
	r = e.call(likeness.RoleAuditor, "GET", "/v1/datasets/"+d.ID, nil)
	var got datasetJSON
	r.json(t, &got)
	if r.status != 200 || got.Status != "tainted" || got.TaintReason != "consent_withdrawn" || !got.TaintedAt.Equal(e.clock.Now()) ||
		len(got.ModelsToRetrain) != 1 {
		t.Fatalf("after withdrawal: %d %s", r.status, r.body)
	}
	r = e.call(likeness.RolePipeline, "POST", "/v1/datasets/"+d.ID+"/rebuild", nil)
	var next datasetJSON
	r.json(t, &next)
	if r.status != 201 || next.Version != 2 || next.PredecessorID != d.ID || next.ItemCount != 1 {
		t.Fatalf("rebuild: %d %s", r.status, r.body)
	}
	if r := e.call(likeness.RolePipeline, "POST", "/v1/datasets/"+d.ID+"/rebuild", nil); r.status != 409 {
		t.Fatalf("second rebuild: %d %s", r.status, r.body)
	}
	var lin struct {
		Datasets []struct{ ID, Status string } `json:"datasets"`
		Models   []struct{ ID string }         `json:"models"`
	}
	r = e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+a+"/lineage", nil)
	r.json(t, &lin)
	if r.status != 200 || len(lin.Datasets) != 2 || lin.Datasets[0].ID != d.ID || lin.Datasets[1].ID != next.ID || len(lin.Models) != 1 {
		t.Fatalf("lineage of a: %d %s", r.status, r.body)
	}
	r = e.call(likeness.RoleCollector, "GET", "/v1/subjects/"+b+"/lineage", nil)
	r.json(t, &lin)
	if r.status != 200 || len(lin.Datasets) != 1 || lin.Datasets[0].Status != "tainted" {
		t.Fatalf("lineage of b: %d %s", r.status, r.body)
	}
}

func TestDatasetAPIRefusesBadInputAndWritesNothing(t *testing.T) {
	e := newDatasetEnv(t, "")
	e.consentingSubject("ann")
	for _, c := range []struct {
		name   string
		role   likeness.Role
		method string
		path   string
		body   any
		status int
	}{
		{"unknown purpose", likeness.RolePipeline, "POST", "/v1/datasets", map[string]any{"purpose": "nope", "categories": []string{"image"}}, 400},
		{"category not in purpose", likeness.RolePipeline, "POST", "/v1/datasets", map[string]any{"purpose": "ai-training", "categories": []string{"video"}}, 400},
		{"unknown field", likeness.RolePipeline, "POST", "/v1/datasets", `{"purpose":"ai-training","categories":["image"],"everyone":true}`, 400},
		{"malformed JSON", likeness.RolePipeline, "POST", "/v1/datasets", `{"purpose":`, 400},
		{"collector may not build", likeness.RoleCollector, "POST", "/v1/datasets", map[string]any{"purpose": "ai-training", "categories": []string{"image"}}, 403},
		{"unknown dataset", likeness.RoleAuditor, "GET", "/v1/datasets/" + likeness.NewID("dst"), nil, 404},
		{"rebuild unknown dataset", likeness.RolePipeline, "POST", "/v1/datasets/dst_x/rebuild", nil, 404},
		{"model on unknown dataset", likeness.RolePipeline, "POST", "/v1/models", map[string]any{"name": "m", "dataset_id": likeness.NewID("dst")}, 404},
		{"model without name", likeness.RolePipeline, "POST", "/v1/models", map[string]any{"dataset_id": likeness.NewID("dst")}, 400},
		{"lineage of unknown subject", likeness.RoleAuditor, "GET", "/v1/subjects/" + likeness.NewID("sub") + "/lineage", nil, 404},
		{"pipeline may not read lineage", likeness.RolePipeline, "GET", "/v1/subjects/" + likeness.NewID("sub") + "/lineage", nil, 403},
	} {
		r := e.call(c.role, c.method, c.path, c.body)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
			continue
		}
		r.errCode(t)
	}
	all, err := e.store.Datasets(context.Background())
	if err != nil || len(all) != 0 {
		t.Fatalf("refused requests stored datasets: %v %v", all, err)
	}
}

func TestAttributesNeedConsentAndAuditSuppressesSmallCells(t *testing.T) {
	e := newDatasetEnv(t, "")
	var subs []string
	for i, ext := range []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7"} {
		sub := e.consentingSubject(ext)
		subs = append(subs, sub)
		gender := "female"
		if i >= 5 {
			gender = "male"
		}
		r := e.call(likeness.RoleCollector, "PUT", "/v1/subjects/"+sub+"/attributes",
			map[string]any{"purpose": "ai-training", "attributes": map[string]string{"gender": gender, "age_band": "25-34"}})
		if r.status != 200 {
			t.Fatalf("put attributes: %d %s", r.status, r.body)
		}
	}
	noConsent := e.subject("nc", "EU-DE")
	r := e.call(likeness.RoleCollector, "PUT", "/v1/subjects/"+noConsent+"/attributes",
		map[string]any{"purpose": "ai-training", "attributes": map[string]string{"gender": "female"}})
	if r.status != 403 {
		t.Fatalf("attributes without consent: %d %s", r.status, r.body)
	}
	r = e.call(likeness.RoleCollector, "PUT", "/v1/subjects/"+subs[0]+"/attributes",
		map[string]any{"purpose": "ai-training", "attributes": map[string]string{"religion": "x"}})
	if r.status != 400 {
		t.Fatalf("unknown attribute: %d %s", r.status, r.body)
	}
	r = e.call(likeness.RolePipeline, "POST", "/v1/datasets", map[string]any{"purpose": "ai-training", "categories": []string{"image"}})
	var d datasetJSON
	r.json(t, &d)
	target := `{"gender":{"female":0.5,"male":0.5},"age_band":{"25-34":0.5,"65+":0.2}}`
	r = e.call(likeness.RoleAuditor, "GET", "/v1/datasets/"+d.ID+"/audit?target="+url.QueryEscape(target), nil)
	if r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	var rep dataset.Report
	r.json(t, &rep)
	groups := map[string]dataset.Group{}
	for _, a := range rep.Attributes {
		for _, g := range a.Groups {
			groups[a.Attribute+"."+g.Value] = g
		}
	}
	// 5 female, 2 male, k = 5 (the example policy declares none, so the default).
	// Only the cell under k is hidden: the female cell (exactly k) is shown.
	if f := groups["gender.female"]; f.Suppressed || f.Count == nil || *f.Count != 5 || f.UnderRepresented {
		t.Errorf("female cell: %+v", f)
	}
	if m := groups["gender.male"]; !m.Suppressed || m.Count != nil || m.Share != nil || !m.UnderRepresented {
		t.Errorf("male cell (2 < k, share 0.29 < 0.5×0.8): %+v", m)
	}
	if o := groups["age_band.65+"]; !o.Suppressed || !o.UnderRepresented {
		t.Errorf("65+ cell (0 people, target 0.2): %+v", o)
	}
	if y := groups["age_band.25-34"]; y.Count == nil || *y.Count != 7 || y.UnderRepresented {
		t.Errorf("25-34 cell: %+v", y)
	}
	if r := e.call(likeness.RoleAuditor, "GET", "/v1/datasets/"+d.ID+"/audit?target="+url.QueryEscape(`{"gender":{"f":2}}`), nil); r.status != 400 {
		t.Errorf("bad target: %d %s", r.status, r.body)
	}
}

// TestDatasetBuildLogsHowFarItIs builds and rebuilds a dataset of two
// photographs through the API and checks the log: a progress line when
// every item is done (the test's clock stands still, so no interval
// passes before; TestABuildReportsItsProgressItemByItem shows the lines
// along the way), and no subject identifier in any line.
func TestDatasetBuildLogsHowFarItIs(t *testing.T) {
	e := newEnv(t, "")
	var logs likenesstest.Buffer
	cfg := e.d.APIConfig()
	cfg.Datasets, cfg.Requests = e.d.Datasets, e.d.Requests(t)
	// An interval far longer than the builds: their items finish on the
	// test's clock, which does not move, so only the last report of each
	// is logged.
	cfg.Logger, cfg.BuildProgressEvery = slogJSON(&logs), time.Hour
	e.srv = httptest.NewServer(httpapi.New(cfg))
	t.Cleanup(e.srv.Close)
	subs := []string{e.consentingSubject("ann"), e.consentingSubject("ben")}
	r := e.call(likeness.RolePipeline, "POST", "/v1/datasets", map[string]any{"purpose": "ai-training", "categories": []string{"image"}, "recipient": "acme-ml"})
	if r.status != 201 {
		t.Fatalf("build: %d %s", r.status, r.body)
	}
	var d datasetJSON
	r.json(t, &d)
	if r := e.call(likeness.RolePipeline, "POST", "/v1/datasets/"+d.ID+"/rebuild", nil); r.status != 201 {
		t.Fatalf("rebuild: %d %s", r.status, r.body)
	}
	type line struct {
		Msg            string
		Done, Selected int
		Held           int `json:"held_for_review"`
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var v line
		if json.Unmarshal([]byte(l), &v) == nil && strings.HasPrefix(v.Msg, "dataset ") {
			got = append(got, v)
		}
		for _, id := range subs {
			if strings.Contains(l, id) {
				t.Errorf("a log line names subject %s: %s", id, l)
			}
		}
	}
	want := []line{{"dataset build", 2, 2, 0}, {"dataset rebuild", 2, 2, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("progress lines = %+v, want %+v\n%s", got, want, logs.String())
	}
}

// heldBuild is a log handler that holds the first dataset build at its
// first progress line until released: a build that takes as long as the
// test needs.
type heldBuild struct {
	slog.Handler
	once     sync.Once
	inside   chan struct{} // closed when the build is held
	released chan struct{}
}

func (h *heldBuild) Enabled(context.Context, slog.Level) bool { return true }

func (h *heldBuild) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "dataset build" {
		h.once.Do(func() {
			close(h.inside)
			<-h.released
		})
	}
	return h.Handler.Handle(ctx, r)
}

// One build runs at a time on a server: another build or rebuild meanwhile
// is refused with 429 and a Retry-After (one that could never run, with
// its own error), and goes through once it ends.
func TestASecondBuildWhileOneRunsIsRefusedWithRetryAfter(t *testing.T) {
	e := newEnv(t, "")
	h := &heldBuild{Handler: slog.DiscardHandler, inside: make(chan struct{}), released: make(chan struct{})}
	cfg := e.d.APIConfig()
	cfg.Datasets, cfg.Requests = e.d.Datasets, e.d.Requests(t)
	cfg.Logger, cfg.BuildProgressEvery = slog.New(h), time.Hour // held at its last line
	e.srv = httptest.NewServer(httpapi.New(cfg))
	t.Cleanup(e.srv.Close)
	e.consentingSubject("ann")
	build := map[string]any{"purpose": "ai-training", "categories": []string{"image"}, "recipient": "acme-ml"}
	first := make(chan resp, 1)
	go func() { first <- e.call(likeness.RolePipeline, "POST", "/v1/datasets", build) }()
	<-h.inside

	r := e.call(likeness.RolePipeline, "POST", "/v1/datasets", build)
	if r.status != 429 || r.errCode(t) != likeness.ERATELIMIT || !strings.Contains(string(r.body), "already running") {
		t.Errorf("a second build while one runs: %d %s", r.status, r.body)
	}
	// A request that could never run is refused as such, not asked to wait.
	if r := e.call(likeness.RolePipeline, "POST", "/v1/datasets", map[string]any{"purpose": "nope", "categories": []string{"image"}}); r.status != 400 {
		t.Errorf("an invalid build while one runs: %d %s, want 400", r.status, r.body)
	}
	if r := e.call(likeness.RolePipeline, "POST", "/v1/datasets/dst_aaaaaaaaaaaaaaaaaaaaaaaaaa/rebuild", nil); r.status != 404 {
		t.Errorf("a rebuild of an unknown dataset while one runs: %d %s, want 404", r.status, r.body)
	}
	close(h.released)
	r = <-first
	if r.status != 201 {
		t.Fatalf("the first build: %d %s", r.status, r.body)
	}
	var d datasetJSON
	r.json(t, &d)
	if r := e.call(likeness.RolePipeline, "POST", "/v1/datasets/"+d.ID+"/rebuild", nil); r.status != 201 {
		t.Errorf("a rebuild once the build ended: %d %s", r.status, r.body)
	}
}
