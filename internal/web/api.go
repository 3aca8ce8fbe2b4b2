package web

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"likeness"
	"likeness/internal/authz"
	"likeness/internal/http/input"
	"likeness/internal/http/response"
	"likeness/internal/http/route"
)

// APIRoutes are the /v1 endpoints that create links, for the API server's Handle.
func (h *Handler) APIRoutes() []route.Route {
	collectors := []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector}
	return []route.Route{
		{Method: "POST", Pattern: "/v1/consent-sessions", Roles: collectors, Handler: h.apiConsentSession},
		{Method: "POST", Pattern: "/v1/subjects/{id}/portal-links", Roles: authz.Roles(authz.IssuePortalLink), Handler: h.apiPortalLink},
	}
}

type linkOut struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// baseURL is the origin a new link points at: Config.BaseURL, or else the
// request's own origin when its Host is one of AllowedHosts. Any other
// Host is refused, so a forged Host header cannot send a person's link to
// someone else's site.
func (h *Handler) baseURL(r *http.Request) (string, error) {
	if h.cfg.BaseURL != "" {
		return h.cfg.BaseURL, nil
	}
	host := r.Host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" || !slices.ContainsFunc(h.cfg.AllowedHosts, func(a string) bool { return a == "*" || strings.EqualFold(a, host) }) {
		return "", likeness.Errorf(likeness.EINVALID, "links are built for the allowed hosts only and this request's Host is not one: set --base-url to the public origin of the pages (or add the host to --allowed-hosts)")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host, nil
}

// apiConsentSession creates a consent link for some purposes of a subject.
func (h *Handler) apiConsentSession(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		SubjectID string   `json:"subject_id"`
		Purposes  []string `json:"purposes"`
		ReturnURL string   `json:"return_url"`
	}
	if err := input.DecodeJSON(r, w, 64<<10, &req); err != nil {
		return err
	}
	sub, err := h.svc.Subject(r.Context(), req.SubjectID)
	if err != nil {
		return err
	}
	if err := h.svc.Policy().CheckPurposes(req.Purposes); err != nil {
		return err
	}
	if req.ReturnURL != "" {
		u, err := url.Parse(req.ReturnURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(req.ReturnURL) > 2048 {
			return likeness.Errorf(likeness.EINVALID, "return_url must be an absolute http or https URL")
		}
	}
	return h.createLink(w, r, &likeness.Link{Kind: likeness.LinkConsent, SubjectID: sub.ID, Purposes: req.Purposes, ReturnURL: req.ReturnURL},
		h.cfg.ConsentTTL, "/consent/")
}

// apiPortalLink creates a single-use sign-in link to the privacy portal.
func (h *Handler) apiPortalLink(w http.ResponseWriter, r *http.Request) error {
	if _, err := input.OptionalJSON(r, w, 1<<10, &struct{}{}); err != nil {
		return err
	}
	sub, err := h.svc.Subject(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := authz.Check(r.Context(), authz.IssuePortalLink, sub.ID); err != nil {
		return err
	}
	return h.createLink(w, r, &likeness.Link{Kind: likeness.LinkPortal, SubjectID: sub.ID}, h.cfg.PortalTTL, "/me/login/")
}

func (h *Handler) createLink(w http.ResponseWriter, r *http.Request, l *likeness.Link, ttl time.Duration, prefix string) error {
	base, err := h.baseURL(r)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	l.ID, l.CreatedAt, l.ExpiresAt = likeness.NewLinkID(), now, now.Add(ttl)
	if err := h.links.CreateLink(r.Context(), l); err != nil {
		return err
	}
	return response.JSON(w, http.StatusCreated, linkOut{URL: base + prefix + l.ID, ExpiresAt: l.ExpiresAt.Truncate(time.Second)})
}
