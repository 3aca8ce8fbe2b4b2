package console

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"likeness"
	"likeness/internal/vault"
)

// content hands an asset's media to a person who says why they need it.
// The reason is required (400 without one) and is written, with the
// operator's name, into the subject's access log, which the person sees
// in their portal. Auditors read logs, never content. The read is for the
// asset's own purpose and goes through the vault's decision like any other;
// a consent recording, which no decision releases, is heard only by a
// reviewer who may validate consent (vault.OpenEvidence).
func (h *Handler) content(w http.ResponseWriter, r *http.Request, s *session) {
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if reason == "" || utf8.RuneCountInString(reason) > vault.MaxReason {
		h.render(w, r, s, http.StatusBadRequest, "message", &view{Title: "error.title",
			Data: &messageView{Title: "error.title", Body: "content.error.reason"}})
		return
	}
	if s.Role == likeness.RoleAuditor {
		h.message(w, r, s, http.StatusForbidden, "error.forbidden.title", "content.error.auditor")
		return
	}
	ctx := r.Context()
	a, err := h.cfg.Vault.Asset(ctx, r.PathValue("id"))
	if err != nil {
		h.failed(w, r, s, "read asset", err)
		return
	}
	ctx = likeness.WithActor(ctx, s.actor())
	var rc io.ReadCloser
	if a.Purpose == vault.EvidencePurpose {
		// A consent recording: heard by a reviewer validating the consent.
		a, rc, err = h.cfg.Vault.OpenEvidence(ctx, a.ID, reason)
	} else {
		a, rc, err = h.cfg.Vault.Open(ctx, &vault.Access{AssetID: a.ID, Purpose: a.Purpose, Reason: reason})
	}
	if err != nil {
		if d := (*likeness.DeniedError)(nil); errors.As(err, &d) {
			h.render(w, r, s, http.StatusForbidden, "message", &view{Title: "error.forbidden.title",
				Data: &messageView{Title: "error.forbidden.title", Detail: d.Message + " (" + strings.Join(d.Reasons, ", ") + ")"}})
			return
		}
		h.failed(w, r, s, "open asset", err)
		return
	}
	defer rc.Close()
	// Which asset, and whose, is in the audit log and the person's access
	// log; the process log keeps no identifier of a person.
	h.Log.Info("console: content read", "key_id", s.KeyID, "operator", s.Operator)
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
	w.Header().Set("Content-Disposition", "inline")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; media-src 'self'; img-src 'self'")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		// The status is sent: abort, so a cut-off stream is not taken for the whole.
		h.Log.Error("console: content stream failed", "key_id", s.KeyID, "operator", s.Operator, "err", likeness.RedactIDs(err.Error()))
		panic(http.ErrAbortHandler)
	}
}
