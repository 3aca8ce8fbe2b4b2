package likenesstest

import (
	"io"
	"net/http"
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
