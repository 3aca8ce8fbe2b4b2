package main

import (
	"context"
	"net/http"
	"strings"

	"likeness/httpapi"
	"likeness/web"
)

// withPages adds the consent page and privacy portal next to the API: their
// API routes go into api, their pages into a mux that serves both.
func withPages(ctx context.Context, d *deployment, api *httpapi.Server, baseURL string, secure bool) (http.Handler, error) {
	key, err := web.DeploymentKey(ctx, d.store, d.kek)
	if err != nil {
		return nil, err
	}
	wh := web.New(web.Config{Consent: d.consent, Links: d.store, Key: key, BaseURL: baseURL, SecureCookies: secure,
		Eraser: d.consent, Recordings: d.vault, Media: d.vault, AccessLog: accessLog{d}})
	for _, r := range wh.APIRoutes() {
		api.Handle(r)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	mux.Handle("/healthz", api)
	mux.Handle("/metrics", api)
	wh.Register(mux)
	return mux, nil
}

// accessLog shows the vault's access log to the person in the portal.
type accessLog struct{ d *deployment }

func (a accessLog) SubjectAccessLog(ctx context.Context, subjectID string) ([]web.AccessEntry, error) {
	entries, err := a.d.vault.AccessLog(ctx, subjectID, 200)
	if err != nil {
		return nil, err
	}
	out := make([]web.AccessEntry, 0, len(entries))
	for _, e := range entries {
		who := e.Recipient
		if who == "" {
			who = string(e.Role)
		}
		action := e.Action
		switch {
		case e.Action == "content" && e.Allow:
			action = "content read"
		case e.Action == "content":
			action = "content refused (" + strings.Join(e.Reasons, ", ") + ")"
		}
		out = append(out, web.AccessEntry{Time: e.Time, Who: who, Purpose: e.Purpose, Action: action, Recipient: e.Recipient})
	}
	return out, nil
}
