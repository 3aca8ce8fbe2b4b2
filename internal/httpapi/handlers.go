package httpapi

import (
	"encoding/hex"
	"likeness/internal/dpv"
	"net/http"
	"strconv"
	"time"

	"likeness"
	"likeness/internal/http/input"
	"likeness/ledger"
)

type subjectJSON struct {
	ID           string    `json:"id"`
	Locale       string    `json:"locale"`
	Jurisdiction string    `json:"jurisdiction"`
	Guardian     bool      `json:"guardian,omitempty"`
	HasContact   bool      `json:"has_contact"` // a contact address is on file (never shown)
	CreatedAt    time.Time `json:"created_at"`
}

func subjectOut(s *likeness.Subject) subjectJSON {
	return subjectJSON{ID: s.ID, Locale: s.Locale, Jurisdiction: s.Jurisdiction, Guardian: s.Guardian, HasContact: s.HasContact(),
		CreatedAt: s.CreatedAt}
}

func (s *Server) handleCreateSubject(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ExternalID   string `json:"external_id"`
		Locale       string `json:"locale"`
		Jurisdiction string `json:"jurisdiction"`
		Guardian     bool   `json:"guardian"` // a minor: a guardian gives consent
	}
	if err := input.DecodeJSON(r, w, s.maxBody, &in); err != nil {
		return err
	}
	if err := input.Locale("locale", in.Locale); err != nil {
		return err
	}
	create := s.subjects.CreateSubject
	if in.Guardian {
		create = s.subjects.CreateMinor
	}
	sub, created, err := create(r.Context(), in.ExternalID, in.Locale, in.Jurisdiction)
	if err != nil {
		return err
	}
	if err := s.honourGPC(r, sub.ID, nil); err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, subjectOut(sub))
}

func (s *Server) handleFindSubject(w http.ResponseWriter, r *http.Request) error {
	ext := r.URL.Query().Get("external_id")
	if ext == "" {
		return likeness.Errorf(likeness.EINVALID, "query parameter external_id is required")
	}
	sub, err := s.subjects.SubjectByExternalID(r.Context(), ext)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, subjectOut(sub))
}

// handleLookupSubject is handleFindSubject with the external id in the
// body, out of URLs and the access logs of whatever stands in between.
func (s *Server) handleLookupSubject(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ExternalID string `json:"external_id"`
	}
	if err := input.DecodeJSON(r, w, 4<<10, &in); err != nil {
		return err
	}
	if in.ExternalID == "" {
		return likeness.Errorf(likeness.EINVALID, "external_id is required")
	}
	sub, err := s.subjects.SubjectByExternalID(r.Context(), in.ExternalID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, subjectOut(sub))
}

func (s *Server) handleGetSubject(w http.ResponseWriter, r *http.Request) error {
	sub, err := s.subjects.Subject(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, subjectOut(sub))
}

func (s *Server) handleRectifySubject(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Locale       string `json:"locale"`
		Jurisdiction string `json:"jurisdiction"`
	}
	if err := input.DecodeJSON(r, w, s.maxBody, &in); err != nil {
		return err
	}
	if err := input.Locale("locale", in.Locale); err != nil {
		return err
	}
	if in.Locale == "" && in.Jurisdiction == "" {
		return likeness.Errorf(likeness.EINVALID, "nothing to correct: give locale and/or jurisdiction")
	}
	sub, err := s.subjects.Rectify(r.Context(), r.PathValue("id"), in.Locale, in.Jurisdiction)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, subjectOut(sub))
}

func (s *Server) handleNotice(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notices.Notice(r.URL.Query().Get("lang"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, n)
}

func (s *Server) handleGrant(w http.ResponseWriter, r *http.Request) error {
	var req likeness.GrantRequest
	if err := input.DecodeJSON(r, w, s.maxBody, &req); err != nil {
		return err
	}
	req.SubjectID = r.PathValue("id")
	if err := s.honourGPC(r, req.SubjectID, req.Purposes); err != nil {
		return err
	}
	evs, err := s.consent.Grant(r.Context(), &req)
	if err != nil {
		return err
	}
	rev := revisionOf(evs...)
	s.markRevision(w, rev)
	out := committedAnswer{"events": evs, "revision": rev}
	s.receipts(r, out, evs, "receipts", false)
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) receiptsFor(r *http.Request, evs []*likeness.ConsentEvent) ([]string, error) {
	sub, err := s.subjects.Subject(r.Context(), evs[0].SubjectID)
	if err != nil {
		return nil, err
	}
	return s.ledger.Receipts(r.Context(), s.notices.Policy(), sub, evs)
}

func (s *Server) handleWithdraw(w http.ResponseWriter, r *http.Request) error {
	var req likeness.WithdrawRequest
	if _, err := input.OptionalJSON(r, w, s.maxBody, &req); err != nil {
		return err
	}
	req.SubjectID, req.Purpose = r.PathValue("id"), r.PathValue("purpose")
	ev, err := s.consent.Withdraw(r.Context(), &req)
	if ev == nil {
		return err
	}
	rev := revisionOf(ev)
	s.markRevision(w, rev)
	out := committedAnswer{"event": ev, "revision": rev}
	if err != nil {
		// The withdrawal stands; sweeping its purpose's data failed and is
		// retried by withdrawing again.
		s.log.Error("withdrawal recorded; erasing its purpose's data failed", "purpose", ev.Purpose, "err", err)
		out["erasure_pending"] = true
	}
	s.receipts(r, out, []*likeness.ConsentEvent{ev}, "receipt", true)
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleConsents(w http.ResponseWriter, r *http.Request) error {
	if err := s.awaitRevision(w, r, 0); err != nil {
		return err
	}
	states, hist, err := s.consent.Consents(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if hist == nil {
		hist = []*likeness.ConsentEvent{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"subject_id": r.PathValue("id"), "purposes": states, "history": hist})
}

// handleConsentRecords answers the person's consents as ISO/IEC TS 27560
// consent records in JSON-LD with DPV terms (package dpv).
func (s *Server) handleConsentRecords(w http.ResponseWriter, r *http.Request) error {
	sub, err := s.subjects.Subject(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	states, hist, err := s.consent.Consents(r.Context(), sub.ID)
	if err != nil {
		return err
	}
	doc, err := dpv.Records(dpv.Input{Policy: s.notices.Policy(), Origin: s.ledger.Signer().Name(), Subject: sub,
		States: states, History: hist, Now: s.now()})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", dpv.MediaType)
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(doc)
	return err
}

// handleReceipts signs and proves a receipt per consent event of the
// subject: the latest ?limit (default 1000, at most 10000), as each costs
// an inclusion proof.
func (s *Server) handleReceipts(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	_, hist, err := s.consent.Consents(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hist = hist[max(0, len(hist)-limit):]
	receipts := []string{}
	if len(hist) > 0 {
		if receipts, err = s.receiptsFor(r, hist); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"receipts": receipts})
}

func (s *Server) handleCheckpoint(w http.ResponseWriter, r *http.Request) error {
	_, signed, err := s.ledger.Checkpoint(r.Context(), true)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err = w.Write(signed)
	return err
}

func (s *Server) handleLedgerKey(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte(s.ledger.Signer().VerifierKey() + "\n"))
	return err
}

// handleLedgerJWKS serves the receipt key as an RFC 7517 key set: public,
// so anyone holding a receipt can check it.
func (s *Server) handleLedgerJWKS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, err := w.Write(s.ledger.Signer().Verifier().JWKS())
	return err
}

func queryUint(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, likeness.Errorf(likeness.EINVALID, "query parameter %s must be a non-negative integer, not %q", name, v)
	}
	return n, nil
}

func (s *Server) handleInclusionProof(w http.ResponseWriter, r *http.Request) error {
	index, err := queryUint(r, "index")
	if err != nil {
		return err
	}
	size, err := queryUint(r, "size")
	if err != nil {
		return err
	}
	proof, err := s.ledger.InclusionProof(index, size)
	if err != nil {
		return err
	}
	leaf, err := s.ledger.Tree().LeafHash(index)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"index": index, "size": size,
		"leaf_hash": hex.EncodeToString(leaf[:]), "proof": ledger.EncodeHashes(proof)})
}

func (s *Server) handleConsistencyProof(w http.ResponseWriter, r *http.Request) error {
	from, err := queryUint(r, "from")
	if err != nil {
		return err
	}
	to, err := queryUint(r, "to")
	if err != nil {
		return err
	}
	proof, err := s.ledger.ConsistencyProof(from, to)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "proof": ledger.EncodeHashes(proof)})
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.store.APIKeys(r.Context())
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []*likeness.APIKey{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) error {
	limit := 200
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return likeness.Errorf(likeness.EINVALID, "limit must be 1..10000")
		}
		limit = n
	}
	entries, err := s.store.RecentAccess(r.Context(), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
}
