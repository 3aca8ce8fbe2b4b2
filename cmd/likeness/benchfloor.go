package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// runBenchFloor serves the floor that likeness's decision route is measured
// against (see BenchmarkDecisionsAgainstFloor): a plain net/http server that
// answers the same POST /v1/decisions question, with the same request and
// response JSON and the same bearer check, from a Go map. It ships in the
// binary so that an operator can measure the ratio on their own machine
// with the same load generator. It also answers the few setup calls
// `likeness bench` makes, and keeps nothing when it stops.
func runBenchFloor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench-floor --addr ADDR --token KEY", "Serves the plain net/http decision server `likeness bench` is compared against.", stderr)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	token := fs.String("token", env("LIKENESS_ADMIN_TOKEN", ""), "the bearer key it accepts (env LIKENESS_ADMIN_TOKEN)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *token == "" {
		return fmt.Errorf("%w: --token is required", errUsage)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: floorHandler(*token), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Fprintf(stdout, "floor listening on http://%s\n", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// floor is the floor server: a map from subject and purpose to the grant.
type floor struct {
	want    []byte // "Bearer " and the token
	mu      sync.RWMutex
	granted map[string]*floorEvent
	next    int
}

type floorEvent struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
}

type floorDecision struct {
	Allow        bool        `json:"allow"`
	Reasons      []string    `json:"reasons"`
	ConsentEvent *floorEvent `json:"consent_event"`
}

// floorHandler is the floor's routes: the decision route, the ~30 lines a
// careful engineer would write with the standard library alone, its batch
// twin, and the set-up calls `likeness bench` makes.
func floorHandler(token string) http.Handler {
	f := &floor{want: []byte("Bearer " + token), granted: map[string]*floorEvent{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/decisions", f.decide)
	mux.HandleFunc("POST /v1/decisions/batch", f.decideBatch)
	mux.HandleFunc("GET /v1/notices/current", f.notice)
	mux.HandleFunc("POST /v1/subjects", f.createSubject)
	mux.HandleFunc("POST /v1/subjects/{id}/consents", f.grant)
	return mux
}

func (f *floor) authorized(w http.ResponseWriter, r *http.Request) bool {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), f.want) == 1 {
		return true
	}
	http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
	return false
}

// answer is the decision on subject and purpose.
func (f *floor) answer(subject, purpose string) floorDecision {
	f.mu.RLock()
	ev := f.granted[subject+"\x00"+purpose]
	f.mu.RUnlock()
	if ev == nil {
		return floorDecision{Reasons: []string{"no_consent"}}
	}
	return floorDecision{Allow: true, Reasons: []string{}, ConsentEvent: ev}
}

type floorRequest struct {
	SubjectID string `json:"subject_id"`
	Purpose   string `json:"purpose"`
	Category  string `json:"data_category"`
}

func (f *floor) decide(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	var in floorRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		http.Error(w, `{"error":{"code":"invalid"}}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(f.answer(in.SubjectID, in.Purpose))
}

func (f *floor) decideBatch(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	var in struct {
		Items []floorRequest `json:"items"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&in); err != nil {
		http.Error(w, `{"error":{"code":"invalid"}}`, http.StatusBadRequest)
		return
	}
	out := struct {
		Results []floorDecision `json:"results"`
	}{Results: make([]floorDecision, len(in.Items))}
	for i, it := range in.Items {
		out.Results[i] = f.answer(it.SubjectID, it.Purpose)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// What `likeness bench` calls to set up its subjects: not measured.

func (f *floor) notice(w http.ResponseWriter, r *http.Request) {
	if f.authorized(w, r) {
		io.WriteString(w, `{"version":1,"sha256":"floor","language":"en","purposes":[{"id":"profile-photo","data":["image"]}]}`)
	}
}

func (f *floor) createSubject(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	f.mu.Lock()
	f.next++
	id := fmt.Sprintf("sub_floor%020d", f.next)
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":%q}`, id)
}

func (f *floor) grant(w http.ResponseWriter, r *http.Request) {
	var in struct{ Purposes []string }
	if !f.authorized(w, r) || json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in) != nil {
		return
	}
	f.mu.Lock()
	for _, p := range in.Purposes {
		f.granted[r.PathValue("id")+"\x00"+p] = &floorEvent{ID: fmt.Sprintf("evt_floor%020d", len(f.granted)), Time: time.Now().UTC()}
	}
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{}`)
}
