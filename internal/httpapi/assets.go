package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"likeness"
	"likeness/internal/authz"
	"likeness/internal/http/input"
	"likeness/internal/vault"
)

func assetRoutes(s *Server) []Route {
	if s.vault == nil {
		return nil
	}
	return []Route{
		{Method: "POST", Pattern: "/v1/subjects/{id}/assets", Roles: collectors, Handler: s.idempotent(s.vault.MaxSize(), s.handleUpload)},
		{Method: "GET", Pattern: "/v1/subjects/{id}/assets", Roles: subjectRead, Handler: s.handleSubjectAssets},
		{Method: "GET", Pattern: "/v1/assets/{id}", Roles: subjectRead, Handler: s.handleGetAsset},
		{Method: "GET", Pattern: "/v1/assets/{id}/content", Roles: contentReaders, Handler: s.handleContent},
		{Method: "GET", Pattern: "/v1/subjects/{id}/access-log", Roles: readers, Handler: s.handleAccessLog},
		{Method: "GET", Pattern: "/v1/subjects/{id}/withdrawal-erasures", Roles: readers, Handler: s.handleWithdrawalErasures},
		{Method: "DELETE", Pattern: "/v1/assets/{id}", Roles: adminOnly, Handler: s.handleEraseAsset},
		{Method: "DELETE", Pattern: "/v1/subjects/{id}", Roles: authz.Roles(authz.Erase), Handler: s.idempotent(0, s.handleEraseSubject)},
	}
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := input.Params(q, "purpose", "category", "derived_from"); err != nil {
		return err
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return likeness.Errorf(likeness.EUNSUPPORTED, "Content-Type is required: the media type of the body, e.g. image/jpeg or audio/wav")
	}
	if q.Get("purpose") == "" || q.Get("category") == "" {
		return likeness.Errorf(likeness.EINVALID, "query parameters purpose and category are required")
	}
	if r.ContentLength > s.vault.MaxSize() {
		return likeness.Errorf(likeness.ETOOLARGE, "the upload is larger than %d bytes", s.vault.MaxSize())
	}
	body := http.MaxBytesReader(w, r.Body, s.vault.MaxSize())
	a, err := s.vault.Ingest(r.Context(), &vault.Upload{SubjectID: r.PathValue("id"), Purpose: q.Get("purpose"),
		Category: q.Get("category"), ContentType: ct, DerivedFrom: q.Get("derived_from"), Body: body})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a)
}

func (s *Server) handleGetAsset(w http.ResponseWriter, r *http.Request) error {
	a, err := s.vault.Asset(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleSubjectAssets(w http.ResponseWriter, r *http.Request) error {
	assets, err := s.vault.SubjectAssets(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"assets": assets})
}

func (s *Server) handleContent(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("purpose") == "" {
		return likeness.Errorf(likeness.EINVALID, "query parameter purpose is required")
	}
	return s.serveContent(w, r, &vault.Access{AssetID: r.PathValue("id"), Purpose: q.Get("purpose"),
		Recipient: q.Get("recipient"), Country: q.Get("country")})
}

// serveContent streams the content acc opens, if the vault allows it.
func (s *Server) serveContent(w http.ResponseWriter, r *http.Request, acc *vault.Access) error {
	a, rc, err := s.vault.Open(r.Context(), acc)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
	w.Header().Set("X-Content-SHA256", a.SHA256)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		// The status is sent; abort the connection so the client cannot
		// mistake a cut-off or tampered stream for the whole asset.
		s.log.Error("content stream failed", "asset", a.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) handleAccessLog(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	entries, err := s.vault.AccessLog(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
}

// withdrawalErasure is a withdrawal's erasure as the API shows it: the
// record, and its signed certificate once done.
type withdrawalErasure struct {
	*likeness.WithdrawalErasure
	Certificate string `json:"certificate,omitempty"`
}

func (s *Server) handleWithdrawalErasures(w http.ResponseWriter, r *http.Request) error {
	if err := input.Params(r.URL.Query()); err != nil {
		return err
	}
	sub, err := s.store.Subject(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	recs, err := s.store.SubjectWithdrawalErasures(r.Context(), sub.ID)
	if err != nil {
		return err
	}
	out := []withdrawalErasure{}
	for _, e := range recs {
		out = append(out, withdrawalErasure{e, string(e.Certificate)})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"erasures": out})
}

func (s *Server) handleEraseAsset(w http.ResponseWriter, r *http.Request) error {
	a, err := s.vault.Asset(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ids, err := s.vault.EraseAsset(r.Context(), a.ID, vault.ErasedOnRequest)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"erased": ids})
}

func (s *Server) handleEraseSubject(w http.ResponseWriter, r *http.Request) error {
	if err := authz.Check(r.Context(), authz.Erase, r.PathValue("id")); err != nil {
		return err
	}
	cert, err := s.eraser.EraseSubject(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	claims, err := s.eraser.VerifyCertificate(cert)
	if err != nil {
		return errors.Join(likeness.Errorf(likeness.EINTERNAL, "certificate does not verify"), err)
	}
	s.markRevision(w, claims.LedgerIndex+1)
	return writeJSON(w, http.StatusOK, map[string]any{"certificate": map[string]any{"jws": string(cert), "claims": claims}, "revision": claims.LedgerIndex + 1})
}

// queryLimit is a list's ?limit: 1 to 10,000, 1,000 when absent.
func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, likeness.Errorf(likeness.EINVALID, "limit must be 1..10000")
	}
	return n, nil
}
