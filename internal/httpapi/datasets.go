package httpapi

import (
	"net/http"
	"time"

	"likeness"
	"likeness/internal/dataset"
	"likeness/internal/http/input"
)

var (
	builders       = []likeness.Role{likeness.RoleAdmin, likeness.RolePipeline}
	datasetReaders = []likeness.Role{likeness.RoleAdmin, likeness.RolePipeline, likeness.RoleAuditor}
)

// datasetRoutes are registered whether or not the server has a dataset
// service, so the API's shape does not depend on configuration; without one
// they answer 404.
func datasetRoutes(s *Server) []Route {
	return []Route{
		{Method: "POST", Pattern: "/v1/datasets", Roles: builders, Handler: s.handleBuildDataset},
		{Method: "GET", Pattern: "/v1/datasets", Roles: datasetReaders, Handler: s.handleListDatasets},
		{Method: "GET", Pattern: "/v1/datasets/{id}", Roles: datasetReaders, Handler: s.handleGetDataset},
		{Method: "POST", Pattern: "/v1/datasets/{id}/rebuild", Roles: builders, Handler: s.handleRebuildDataset},
		{Method: "GET", Pattern: "/v1/datasets/{id}/audit", Roles: datasetReaders, Handler: s.handleDatasetAudit},
		{Method: "POST", Pattern: "/v1/models", Roles: builders, Handler: s.handleRegisterModel},
		{Method: "GET", Pattern: "/v1/subjects/{id}/lineage", Roles: readers, Handler: s.handleLineage},
		{Method: "PUT", Pattern: "/v1/subjects/{id}/attributes", Roles: collectors, Handler: s.handlePutAttributes},
	}
}

func (s *Server) datasetService() (*dataset.Service, error) {
	if s.datasets == nil {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "datasets are not enabled on this server")
	}
	return s.datasets, nil
}

// handleBuildDataset builds a dataset on the server. It records the dataset,
// its members and its manifest's SHA-256 and returns the record; the media
// themselves are not kept on the server (they would rest there decrypted):
// `likeness dataset build --out DIR` writes them where the ML team loads them.
func (s *Server) handleBuildDataset(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	var req dataset.BuildRequest
	if err := input.DecodeJSON(r, w, s.maxBody, &req); err != nil {
		return err
	}
	if err := ds.Check(&req); err != nil {
		return err // not worth a retry: refused before the build queue
	}
	release, err := s.startBuild(w)
	if err != nil {
		return err
	}
	defer release()
	s.logProgress(&req, "dataset build")
	v, err := ds.Build(r.Context(), &req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

// buildRetryAfter is the Retry-After of a build refused for another
// running: builds take minutes.
const buildRetryAfter = "60"

// startBuild takes one of the server's build tokens and returns the
// function that gives it back; with none free it refuses (429), saying
// why, rather than let any number of builds share the cores and memory.
func (s *Server) startBuild(w http.ResponseWriter) (release func(), err error) {
	select {
	case s.builds <- struct{}{}:
		return func() { <-s.builds }, nil
	default:
		w.Header().Set("Retry-After", buildRetryAfter)
		return nil, likeness.Errorf(likeness.ERATELIMIT, "%d dataset build(s) already running on this server, the most it runs at once; retry when one ends", cap(s.builds))
	}
}

// logProgress makes req log how far it is every buildProgressEvery (also
// while one item takes longer), and when every item is done: counts only,
// no identifier.
func (s *Server) logProgress(req *dataset.BuildRequest, what string) {
	req.ProgressEvery = s.buildProgressEvery
	req.Progress = func(p dataset.BuildProgress) {
		args := []any{"done", p.Done, "selected", p.Items, "held_for_review", p.Held, "skipped", p.Skipped,
			"elapsed", p.Elapsed.Round(time.Millisecond).String()}
		if p.Current > 0 {
			args = append(args, "item_at_work_for", p.Current.Round(time.Second).String())
		}
		s.log.Info(what, args...)
	}
}

// handleListDatasets lists every dataset version, newest first, with its
// number of items waiting for review.
func (s *Server) handleListDatasets(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	all, err := ds.List(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"datasets": all})
}

func (s *Server) handleGetDataset(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	v, err := ds.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// handleRebuildDataset takes no body, or an empty JSON object.
func (s *Server) handleRebuildDataset(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	if _, err := input.OptionalJSON(r, w, s.maxBody, &struct{}{}); err != nil {
		return err
	}
	if err := ds.CheckRebuild(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	release, err := s.startBuild(w)
	if err != nil {
		return err
	}
	defer release()
	req := &dataset.BuildRequest{}
	s.logProgress(req, "dataset rebuild")
	v, err := ds.RebuildWith(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

// handleDatasetAudit takes the target distribution as the query parameter
// target, a JSON object {"attribute": {"group": share, …}, …}.
func (s *Server) handleDatasetAudit(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	var target dataset.Target
	if t := r.URL.Query().Get("target"); t != "" {
		if len(t) > 64<<10 {
			return likeness.Errorf(likeness.ETOOLARGE, "target is larger than 64 KiB")
		}
		if err := input.Unmarshal([]byte(t), &target); err != nil {
			return likeness.Errorf(likeness.EINVALID, "target must be a JSON object of attribute → group → share: %s", likeness.ErrorMessage(err))
		}
	}
	rep, err := ds.Audit(r.Context(), r.PathValue("id"), target)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

func (s *Server) handleRegisterModel(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	var req struct {
		Name      string `json:"name"`
		DatasetID string `json:"dataset_id"`
	}
	if err := input.DecodeJSON(r, w, s.maxBody, &req); err != nil {
		return err
	}
	m, err := ds.RegisterModel(r.Context(), req.Name, req.DatasetID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, m)
}

func (s *Server) handleLineage(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	l, err := ds.Lineage(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, l)
}

func (s *Server) handlePutAttributes(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.datasetService()
	if err != nil {
		return err
	}
	var req struct {
		Purpose    string            `json:"purpose"`
		Attributes map[string]string `json:"attributes"`
	}
	if err := input.DecodeJSON(r, w, s.maxBody, &req); err != nil {
		return err
	}
	if err := ds.PutAttributes(r.Context(), r.PathValue("id"), req.Purpose, req.Attributes); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"subject_id": r.PathValue("id"), "purpose": req.Purpose, "stored": true})
}
