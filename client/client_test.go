package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"likeness"
	"likeness/client"
	"likeness/internal/httpapi"
	"likeness/internal/likenesstest"
)

// server starts the API on a real deployment, as the httpapi tests do, and
// returns its URL and a collector's token.
func server(t *testing.T) (string, string) {
	t.Helper()
	d := likenesstest.New(t, likenesstest.Options{})
	api := httpapi.New(d.APIConfig())
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	_, token, err := httpapi.CreateAPIKey(context.Background(), d.Store, "integrator", likeness.RoleCollector, d.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, token
}

func TestClientWithdrawalDeniesTheNextDecision(t *testing.T) {
	url, token := server(t)
	ctx := context.Background()
	c, err := client.New(url, token)
	if err != nil {
		t.Fatal(err)
	}

	sub, err := c.CreateSubjectWithResponse(ctx, client.CreateSubjectJSONRequestBody{ExternalId: "crm-4711", Jurisdiction: "EU-DE"})
	if err != nil || sub.JSON201 == nil {
		t.Fatalf("create subject: %v %s", err, body(sub))
	}
	id := sub.JSON201.Id

	notice, err := c.GetCurrentNoticeWithResponse(ctx, &client.GetCurrentNoticeParams{})
	if err != nil || notice.JSON200 == nil {
		t.Fatalf("notice: %v %s", err, body(notice))
	}
	grant, err := c.GrantConsentWithResponse(ctx, id, &client.GrantConsentParams{}, client.GrantConsentJSONRequestBody{
		Purposes: []string{"ai-training"}, NoticeVersion: notice.JSON200.Version, NoticeSha256: notice.JSON200.Sha256,
		Method: "checkbox", Language: "en"})
	if err != nil || grant.JSON201 == nil {
		t.Fatalf("grant: %v %s", err, body(grant))
	}

	decide := func() client.Decision {
		t.Helper()
		r, err := c.DecideWithResponse(ctx, client.DecideJSONRequestBody{SubjectId: &id, Purpose: "ai-training", DataCategory: ptr(client.DecisionRequestDataCategory("image"))})
		if err != nil || r.JSON200 == nil {
			t.Fatalf("decide: %v %s", err, body(r))
		}
		return *r.JSON200
	}
	if d := decide(); !d.Allow || d.ConsentEvent == nil || d.ConsentEvent.Id != grant.JSON201.Events[0].Id {
		t.Fatalf("decision after the grant = %+v, want allowed by the grant", d)
	}

	w, err := c.WithdrawConsentWithResponse(ctx, id, "ai-training", &client.WithdrawConsentParams{}, client.WithdrawConsentJSONRequestBody{})
	if err != nil || w.JSON201 == nil {
		t.Fatalf("withdraw: %v %s", err, body(w))
	}
	if d := decide(); d.Allow || len(d.Reasons) != 1 || d.Reasons[0] != "withdrawn" {
		t.Fatalf("decision after the withdrawal = %+v, want denied as withdrawn", d)
	}

	// Errors come back as the one error schema.
	anon, err := client.New(url, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := anon.GetSubjectWithResponse(ctx, id)
	if err != nil || r.StatusCode() != http.StatusUnauthorized || r.JSON4XX == nil || r.JSON4XX.Error.Code != "unauthorized" {
		t.Fatalf("no key: %v %d %s", err, r.StatusCode(), body(r))
	}
}

func ptr[T any](v T) *T { return &v }

// body is a response's status and body for a failure message.
func body(r any) string {
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return "<no response>"
	}
	return fmt.Sprintf("%d %.300s", v.Elem().FieldByName("HTTPResponse").Interface().(*http.Response).StatusCode, v.Elem().FieldByName("Body").Bytes())
}
