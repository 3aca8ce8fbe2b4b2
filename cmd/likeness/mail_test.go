package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"likeness/internal/likenesstest"
)

// TestServeMailsAPortalLinkThroughTheSMTPServer boots the real program
// against a real SMTP server: an admin keeps a person's address, the
// person asks for a link on the page, the link arrives in their language
// and signs them in.
func TestServeMailsAPortalLinkThroughTheSMTPServer(t *testing.T) {
	mp := likenesstest.StartMailpit(t)
	const token = "mail-test-admin-token-0123456789"
	t.Setenv("LIKENESS_ADMIN_TOKEN", token)
	m, _ := start(t, false, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0",
		"--smtp-addr", mp.SMTPAddr, "--smtp-from", "Privacy <privacy@example.com>")
	api := func(method, path, body string, want int) string {
		t.Helper()
		req, _ := http.NewRequest(method, m.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, b := likenesstest.Visit(t, http.DefaultClient, req)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		return string(b)
	}
	out := api("POST", "/v1/subjects", `{"external_id":"u1","jurisdiction":"EU-DE","locale":"de"}`, 201)
	sub := regexp.MustCompile(`"id":"(sub_[a-z2-7]+)"`).FindStringSubmatch(out)[1]
	api("PUT", "/v1/subjects/"+sub+"/contact", `{"email":"person@example.net"}`, 204)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	_, form := likenesstest.GetPage(t, hc, m.URL()+"/me/link")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(form))
	if csrf == nil {
		t.Fatalf("no form: %s", form)
	}
	res, body := likenesstest.PostForm(t, hc, m.URL()+"/me/link", url.Values{"csrf": {csrf[1]}, "email": {"person@example.net"}})
	if res.StatusCode != 200 {
		t.Fatalf("asking for a link: %d %s", res.StatusCode, body)
	}
	got := mp.WaitTo(t, "person@example.net", 1, 20*time.Second)
	if !strings.Contains(got[0].Subject, "Ihr Anmeldelink") {
		t.Fatalf("mail subject %q, want the German one", got[0].Subject)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(m.URL()) + `/me/login/lnk_[a-z2-7]+`).FindString(got[0].Text)
	if link == "" {
		t.Fatalf("no link to this server in the mail:\n%s", got[0].Text)
	}
	res, body = likenesstest.GetPage(t, hc, link)
	if res.StatusCode != 200 || !strings.Contains(string(body), "angemeldet") {
		t.Fatalf("the mailed link: %d %s", res.StatusCode, body)
	}
}

func TestServeRefusesAnSMTPServerWithoutASender(t *testing.T) {
	m := NewMain(false, &likenesstest.Buffer{}, &likenesstest.Buffer{})
	if err := m.ParseFlags([]string{"--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--smtp-addr", "127.0.0.1:2525"}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "--smtp-from") {
		t.Fatalf("Run = %v, want a usage error naming --smtp-from", err)
	}
}
