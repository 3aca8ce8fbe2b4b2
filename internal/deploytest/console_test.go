package deploytest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestConsoleSignOutOnOneReplicaEndsTheSessionOnEvery signs in to the
// console on one of two serve processes, shows that the session cookie
// works on the other (one deployment, one cookie key), signs out on the
// first, and then sends a copy of the cookie, kept from before the sign-out,
// to both: each must send it to the sign-in page, at once.
func TestConsoleSignOutOnOneReplicaEndsTheSessionOnEvery(t *testing.T) {
	c := startCluster(t, 2, "")
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	// get fetches a page and returns its body and the path it ended at.
	get := func(cl *http.Client, u string, cookies []*http.Cookie) (string, string) {
		t.Helper()
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range cookies {
			req.AddCookie(k)
		}
		res, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b), res.Request.URL.Path
	}
	post := func(u string, form url.Values) string {
		t.Helper()
		res, err := browser.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return res.Request.URL.Path
	}
	csrf := func(body string) string {
		t.Helper()
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token on the page:\n%s", body)
		}
		return m[1]
	}
	first, second := c.replicas[0].URL, c.replicas[1].URL

	form, _ := get(browser, first+"/console/login", nil)
	if at := post(first+"/console/login", url.Values{"csrf": {csrf(form)}, "key": {c.admin}}); at != "/console" {
		t.Fatalf("sign-in on replica 1 ended at %s", at)
	}
	if _, at := get(browser, second+"/console", nil); at != "/console" {
		t.Fatalf("replica 2 sends the session signed in on replica 1 to %s", at)
	}
	kept := jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(first, "http://"), Path: "/console/"})
	if len(kept) == 0 {
		t.Fatal("no cookie kept after sign-in")
	}

	page, _ := get(browser, first+"/console", nil)
	if at := post(first+"/console/logout", url.Values{"csrf": {csrf(page)}}); at != "/console/login" {
		t.Fatalf("sign-out on replica 1 ended at %s", at)
	}
	copyHolder := &http.Client{} // no jar: it sends the kept copy as it is
	for i, u := range []string{first, second} {
		if _, at := get(copyHolder, u+"/console", kept); at != "/console/login" {
			t.Errorf("replica %d still takes a copy of the cookie after the sign-out on replica 1 (at %s)", i+1, at)
		}
	}
}
