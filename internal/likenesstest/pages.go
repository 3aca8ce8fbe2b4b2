package likenesstest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// Visit sends req with hc, whose cookie jar plays a person's browser, and
// returns the response with its body read. A transport error fails the test.
func Visit(t testing.TB, hc *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// GetPage visits url with a GET.
func GetPage(t testing.TB, hc *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	return Visit(t, hc, req)
}

// PostForm submits form to url as a browser does.
func PostForm(t testing.TB, hc *http.Client, url string, form url.Values) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return Visit(t, hc, req)
}

// Page is a page as a browser received it.
type Page struct {
	Status int
	Body   string
	Raw    []byte
	URL    *url.URL // where it came from, after any redirect followed
	Header http.Header
}

// Visitor visits one server's pages as one person's browser does: with a
// cookie jar of its own. The web and console tests drive their pages with
// it.
type Visitor struct {
	T    testing.TB
	HTTP *http.Client
	Base string // the server's URL; paths are relative to it
}

// NewVisitor returns a Visitor for the server at base. With
// followRedirects false, a redirect is answered as it came (3xx and
// Location), as tests of redirects need.
func NewVisitor(t testing.TB, base string, followRedirects bool) *Visitor {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if !followRedirects {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &Visitor{T: t, HTTP: hc, Base: base}
}

// Do sends req and returns the page.
func (b *Visitor) Do(req *http.Request) Page {
	b.T.Helper()
	res, raw := Visit(b.T, b.HTTP, req)
	return Page{Status: res.StatusCode, Body: string(raw), Raw: raw, URL: res.Request.URL, Header: res.Header}
}

// Get visits path.
func (b *Visitor) Get(path string) Page {
	b.T.Helper()
	req, _ := http.NewRequest("GET", b.Base+path, nil)
	return b.Do(req)
}

// Post submits form to path as a browser does.
func (b *Visitor) Post(path string, form url.Values) Page {
	b.T.Helper()
	req, _ := http.NewRequest("POST", b.Base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}
