// Package cookie makes the cookies likeness's pages set: signed, expiring
// session cookies that carry a few fields, an expiry and a random nonce
// (never a secret), and plain preference cookies such as the language. All
// are HttpOnly and SameSite=Strict unless the caller loosens them, and
// Secure over TLS or when the deployment sits behind a TLS proxy.
package cookie

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"likeness/internal/signed"
)

// Jar makes the cookies of one set of pages. Safe for concurrent use.
type Jar struct {
	Path   string           // the pages' path ("/me", "/console")
	Signer *signed.Signer   // signs session cookies
	Secure bool             // force Secure (behind a TLS-terminating proxy)
	Now    func() time.Time // the clock session expiry is read against
}

// Make returns a cookie of the jar's path; maxAge < 0 deletes it.
func (j *Jar) Make(r *http.Request, name, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: j.Path, MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil || j.Secure, SameSite: http.SameSiteStrictMode}
	if maxAge > 0 {
		c.Expires = j.Now().Add(time.Duration(maxAge) * time.Second)
	}
	return c
}

// Session is a signed-in visit read back from its cookie.
type Session struct {
	Fields  []string // what the caller stored, in order
	Expires time.Time
	Nonce   string // random; CSRF tokens may be bound to it
	Payload string // the whole signed text; CSRF tokens may be bound to it
}

// Start sets a session cookie called name that lasts ttl and holds fields
// (which must not contain "|"), and returns the session.
func (j *Jar) Start(w http.ResponseWriter, r *http.Request, name string, ttl time.Duration, fields ...string) *Session {
	exp := j.Now().Add(ttl)
	n := Nonce()
	parts := append(append([]string{"v1"}, fields...), strconv.FormatInt(exp.Unix(), 10), n)
	payload := strings.Join(parts, "|")
	http.SetCookie(w, j.Make(r, name, j.Signer.Seal("session", payload), int(ttl.Seconds())))
	return &Session{Fields: fields, Expires: time.Unix(exp.Unix(), 0), Nonce: n, Payload: payload}
}

// End deletes the session cookie called name.
func (j *Jar) End(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, j.Make(r, name, "", -1))
}

// Read returns the session in r's cookie called name if it is signed by
// the jar's key, holds nfields fields and has not expired.
func (j *Jar) Read(r *http.Request, name string, nfields int) (*Session, bool) {
	c, err := r.Cookie(name)
	if err != nil {
		return nil, false
	}
	payload, ok := j.Signer.Open("session", c.Value)
	if !ok {
		return nil, false
	}
	f := strings.Split(payload, "|")
	if len(f) != nfields+3 || f[0] != "v1" {
		return nil, false
	}
	exp, err := strconv.ParseInt(f[nfields+1], 10, 64)
	if err != nil || !j.Now().Before(time.Unix(exp, 0)) {
		return nil, false
	}
	return &Session{Fields: f[1 : nfields+1], Expires: time.Unix(exp, 0), Nonce: f[nfields+2], Payload: payload}, true
}

// Nonce returns 16 random bytes as cookie-safe text.
func Nonce() string {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		panic("cookie: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(n[:])
}
