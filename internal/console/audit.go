package console

import (
	"context"
	"net/http"

	"likeness"
)

// AuditLimit bounds the rows the audit page lists.
const AuditLimit = 200

// record puts an operator's console action in the audit log.
func (h *Handler) record(r *http.Request, action, keyID string, role likeness.Role) {
	e := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: h.Now().UTC(), Action: action, KeyID: keyID, Role: role, Allow: true}
	if err := h.cfg.Store.AppendAccess(context.WithoutCancel(r.Context()), e); err != nil {
		h.Log.Error("could not record a console action in the audit log", "key_id", keyID, "err", err)
	}
}

// recordAs is record for a session, with the operator's name and the
// subject the action was about.
func (h *Handler) recordAs(r *http.Request, s *session, action, subjectID string) {
	e := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: h.Now().UTC(), Action: action, KeyID: s.KeyID, Role: s.Role,
		Operator: s.Operator, SubjectID: subjectID, Allow: true}
	if err := h.cfg.Store.AppendAccess(context.WithoutCancel(r.Context()), e); err != nil {
		h.Log.Error("could not record a console action in the audit log", "key_id", s.KeyID, "operator", s.Operator, "err", err)
	}
}

// audit shows the newest entries of the audit log: content accesses and
// refusals, exports, and every operator change through the API, the CLI or
// this console.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request, s *session) {
	entries, err := h.cfg.Store.RecentAccess(r.Context(), AuditLimit)
	if err != nil {
		h.failed(w, r, s, "read the audit log", err)
		return
	}
	h.render(w, r, s, http.StatusOK, "audit-log", &view{Title: "auditlog.title", Nav: "audit", Data: entries})
}
