package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"likeness/internal/console"
	"likeness/internal/http/page"
	"likeness/internal/httpapi"
	"likeness/internal/operators"
	"likeness/internal/records"
	"likeness/internal/subjects"
	"likeness/internal/vault"
	"likeness/internal/web"
)

// pageFlags are the serve flags the pages read.
type pageFlags struct {
	baseURL      string
	allowedHosts []string
	secure       bool
	mailSending  bool // an SMTP server is configured
	clientIP     func(*http.Request) string
	logger       *slog.Logger // the process's, as --log-format made it
}

// withPages adds the consent page, the privacy portal and the operator
// console next to the API: the pages' API routes go into api, the pages into
// a mux that serves both.
func withPages(ctx context.Context, d *deployment, api *httpapi.Server, f pageFlags) (http.Handler, error) {
	key, err := d.subjects.DeploymentKey(ctx, subjects.WebCookieKey)
	if err != nil {
		return nil, err
	}
	wh := web.New(web.Config{Consent: d.consent, Subjects: d.subjects, Notices: d.notices, Receipts: d.ledger, Links: d.store, Sessions: d.store,
		AllowedHosts: f.allowedHosts, Key: key, BaseURL: f.baseURL, Options: page.Options{SecureCookies: f.secure, Logger: f.logger, ClientIP: f.clientIP},
		Eraser: d.erasure, Recordings: d.vault, Media: d.vault, AccessLog: accessLog{d}, Lineage: lineage{d}, Reach: d.mail,
		Withdrawn: d.store})
	for _, r := range wh.APIRoutes() {
		api.Handle(r)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	mux.Handle("/healthz", api)
	mux.Handle("/readyz", api)
	mux.Handle("/metrics", api)
	wh.Register(mux)
	console.New(console.Config{Subjects: d.subjects, Consents: d.consent, Index: d.engine, Policy: d.notices.Policy, Vault: d.vault, Datasets: d.datasets, Store: d.store, Validations: d.consent,
		Records:     records.New(d.notices.Policy, d.store, nil),
		Operators:   operators.New(operators.Config{Store: d.store, Sealer: d.kek, Logger: f.logger}),
		MailSending: f.mailSending,
		Key:         key, Options: page.Options{SecureCookies: f.secure, Logger: f.logger, ClientIP: f.clientIP}}).Register(mux)
	return apiFirst{api: api, rest: mux}, nil
}

// apiFirst hands /v1/ requests to the API without the pages' pattern
// lookup (the API routes, and cleans paths, itself): decisions are the
// hot path. Pages register nothing under /v1/.
type apiFirst struct{ api, rest http.Handler }

func (h apiFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		h.api.ServeHTTP(w, r)
		return
	}
	h.rest.ServeHTTP(w, r)
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
		if e.Action != "content" && e.Action != "export" && e.Action != vault.ActionErasedOnWithdrawal && e.Action != vault.ActionEvidence {
			continue // operator changes show in the person's consent history
		}
		// Who read (a system's role, or a named operator); the page adds
		// the recipient it was read for.
		who := string(e.Role)
		if e.Operator != "" {
			who = e.Operator + " (" + string(e.Role) + ")"
		}
		action, kind, detail := e.Action, e.Action, ""
		switch {
		case e.Action == "content" && e.Allow && e.Reason != "":
			action, kind, detail = "content read, because: "+e.Reason, "read_because", e.Reason
		case e.Action == "content" && e.Allow:
			action, kind = "content read", "read"
		case e.Action == "content":
			detail = strings.Join(e.Reasons, ", ")
			action, kind = "content refused ("+detail+")", "refused"
		case e.Action == vault.ActionEvidence && e.Allow:
			action, kind, detail = "recording of your consent heard to check it, because: "+e.Reason, "heard", e.Reason
		case e.Action == vault.ActionEvidence:
			action, kind, detail = "recording of your consent refused to "+string(e.Role), "not_heard", string(e.Role)
		case e.Action == vault.ActionErasedOnWithdrawal:
			who, action, kind = "likeness", "erased after withdrawal of "+e.Purpose, "erased"
		}
		out = append(out, web.AccessEntry{Time: e.Time, Who: who, Purpose: e.Purpose, Action: action, Recipient: e.Recipient,
			Kind: kind, Detail: detail})
	}
	return out, nil
}

// lineage shows the person which training sets and models used their data.
type lineage struct{ d *deployment }

func (l lineage) SubjectTraining(ctx context.Context, subjectID string) ([]web.TrainingUse, error) {
	lin, err := l.d.datasets.Lineage(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	models := map[string][]string{}
	for _, m := range lin.Models {
		models[m.DatasetID] = append(models[m.DatasetID], m.Name)
	}
	out := make([]web.TrainingUse, 0, len(lin.Datasets))
	for _, ds := range lin.Datasets {
		out = append(out, web.TrainingUse{Dataset: ds.ID, Version: ds.Version, Purpose: ds.Purpose, Status: ds.Status,
			Created: ds.CreatedAt, Models: models[ds.ID]})
	}
	return out, nil
}

// linkHosts is the --allowed-hosts list: the flag's names, or else the
// listen address's host and localhost; a demo builds links for any host.
func linkHosts(flag, addr string, demo bool) []string {
	if flag != "" {
		hosts := strings.Split(flag, ",")
		for i := range hosts {
			hosts[i] = strings.TrimSpace(hosts[i])
		}
		return hosts
	}
	if demo {
		return []string{"*"}
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	return hosts
}
