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

// floorHandler is the floor itself. The decision route is the ~30 lines a
// careful engineer would write with the standard library alone.
func floorHandler(token string) http.Handler {
	type event struct {
		ID   string    `json:"id"`
		Time time.Time `json:"time"`
	}
	type decision struct {
		Allow        bool     `json:"allow"`
		Reasons      []string `json:"reasons"`
		ConsentEvent *event   `json:"consent_event"`
	}
	var mu sync.RWMutex
	granted := map[string]*event{} // subject id and purpose
	want := []byte("Bearer " + token)
	authorized := func(w http.ResponseWriter, r *http.Request) bool {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) == 1 {
			return true
		}
		http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
		return false
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/decisions", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(w, r) {
			return
		}
		var in struct {
			SubjectID string `json:"subject_id"`
			Purpose   string `json:"purpose"`
			Category  string `json:"data_category"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, `{"error":{"code":"invalid"}}`, http.StatusBadRequest)
			return
		}
		mu.RLock()
		ev := granted[in.SubjectID+"\x00"+in.Purpose]
		mu.RUnlock()
		d := decision{Allow: ev != nil, Reasons: []string{}, ConsentEvent: ev}
		if ev == nil {
			d.Reasons = []string{"no_consent"}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(d)
	})
	mux.HandleFunc("POST /v1/decisions/batch", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(w, r) {
			return
		}
		var in struct {
			Items []struct {
				SubjectID string `json:"subject_id"`
				Purpose   string `json:"purpose"`
				Category  string `json:"data_category"`
			} `json:"items"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&in); err != nil {
			http.Error(w, `{"error":{"code":"invalid"}}`, http.StatusBadRequest)
			return
		}
		out := struct {
			Results []decision `json:"results"`
		}{Results: make([]decision, len(in.Items))}
		mu.RLock()
		for i, it := range in.Items {
			ev := granted[it.SubjectID+"\x00"+it.Purpose]
			out.Results[i] = decision{Allow: ev != nil, Reasons: []string{}, ConsentEvent: ev}
			if ev == nil {
				out.Results[i].Reasons = []string{"no_consent"}
			}
		}
		mu.RUnlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	// What `likeness bench` calls to set up its subjects: not measured.
	mux.HandleFunc("GET /v1/notices/current", func(w http.ResponseWriter, r *http.Request) {
		if authorized(w, r) {
			io.WriteString(w, `{"version":1,"sha256":"floor","language":"en","purposes":[{"id":"profile-photo","data":["image"]}]}`)
		}
	})
	var next int
	mux.HandleFunc("POST /v1/subjects", func(w http.ResponseWriter, r *http.Request) {
		if authorized(w, r) {
			mu.Lock()
			next++
			id := fmt.Sprintf("sub_floor%020d", next)
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"id":%q}`, id)
		}
	})
	mux.HandleFunc("POST /v1/subjects/{id}/consents", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Purposes []string }
		if !authorized(w, r) || json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in) != nil {
			return
		}
		mu.Lock()
		for _, p := range in.Purposes {
			granted[r.PathValue("id")+"\x00"+p] = &event{ID: fmt.Sprintf("evt_floor%020d", len(granted)), Time: time.Now().UTC()}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{}`)
	})
	return mux
}
