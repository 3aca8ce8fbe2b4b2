// Package input is the one boundary where HTTP requests enter likeness: it
// decodes JSON bodies strictly and checks path values, query values and
// locales, so that what reaches a service is the same on every database.
// Every string that passes it is valid UTF-8 without NUL bytes (which
// PostgreSQL refuses and SQLite would store), and every refusal is a
// likeness.Error with code EINVALID, ETOOLARGE or EUNSUPPORTED.
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"

	"likeness"
)

// MaxPathValue bounds one path segment such as an id.
const MaxPathValue = 256

// DecodeJSON reads r's body strictly into v: the content type must be JSON,
// the body at most limit bytes of valid UTF-8 holding exactly one JSON value;
// unknown fields and a key named twice in one object (in any case) are
// refused, and so is null (or any non-object) where v is
// a struct or a map, and any string holding a NUL byte.
func DecodeJSON(r *http.Request, w http.ResponseWriter, limit int64, v any) error {
	if err := JSONContentType(r); err != nil {
		return err
	}
	body, err := ReadBody(r, w, limit)
	if err != nil {
		return err
	}
	return UnmarshalBody(body, v)
}

// UnmarshalBody is DecodeJSON for a body its caller has read, having
// checked the content type and the size limit itself.
func UnmarshalBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return likeness.Errorf(likeness.EINVALID, "request body is empty: send a JSON object")
	}
	return Unmarshal(body, v)
}

// OptionalJSON is DecodeJSON for routes whose body may be left out: with no
// body at all it leaves v untouched and reports false. A body that is there
// is held to every rule of DecodeJSON (so null is refused, not taken for
// "no body").
func OptionalJSON(r *http.Request, w http.ResponseWriter, limit int64, v any) (bool, error) {
	body, err := ReadBody(r, w, limit)
	if err != nil || len(body) == 0 {
		return false, err
	}
	if err := JSONContentType(r); err != nil {
		return false, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return false, likeness.Errorf(likeness.EINVALID, "request body holds only white space: send a JSON object or no body")
	}
	return true, Unmarshal(body, v)
}

// NoBody refuses a request that carries a body on a route that takes none.
func NoBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	var one [1]byte
	n, _ := io.ReadFull(r.Body, one[:])
	if n > 0 || r.ContentLength > 0 {
		return likeness.Errorf(likeness.EINVALID, "%s %s takes no request body", r.Method, patternPath(r))
	}
	return nil
}

// JSONContentType refuses a request whose Content-Type is not JSON.
func JSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return likeness.Errorf(likeness.EUNSUPPORTED, "Content-Type must be application/json, not %q", ct)
	}
	return nil
}

// ReadBody reads r's body of at most limit bytes (ETOOLARGE beyond).
func ReadBody(r *http.Request, w http.ResponseWriter, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, likeness.Errorf(likeness.ETOOLARGE, "request body is larger than %d bytes", limit)
		}
		return nil, likeness.Errorf(likeness.EINVALID, "could not read the request body")
	}
	return body, nil
}

// Unmarshal decodes one JSON value from data into v under the rules of
// DecodeJSON (without the size limit, which the caller applies).
func Unmarshal(data []byte, v any) error { return unmarshal(data, v, "request body", "body") }

// UnmarshalLine is Unmarshal for one line of a JSON Lines file: the same
// rules, with messages that speak of the line.
func UnmarshalLine(data []byte, v any) error { return unmarshal(data, v, "line", "line") }

// unmarshal is Unmarshal naming data as what in messages, and its fields
// from root ("body.purposes[0]").
func unmarshal(data []byte, v any, what, root string) error {
	if !utf8.Valid(data) {
		return likeness.Errorf(likeness.EINVALID, "%s is not valid UTF-8", what)
	}
	if wantsObject(v) {
		if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
			got := jsonKind(t)
			return likeness.Errorf(likeness.EINVALID, "%s must be a JSON object, not %s", what, got)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, what, root)
	}
	if _, err := dec.Token(); err != io.EOF {
		return likeness.Errorf(likeness.EINVALID, "%s holds more than one JSON value", root)
	}
	if at, key, ok := duplicateKey(data, root); ok {
		return likeness.Errorf(likeness.EINVALID, "%s has the key %q twice (keys are matched without regard to case): send each once", at, key)
	}
	return walk(reflect.ValueOf(v), root)
}

// jsonKind names the JSON value t starts with, as a message says what was
// sent instead of what was wanted: "an array", "a string", "null".
func jsonKind(t []byte) string {
	switch {
	case len(t) == 0:
		return "nothing"
	case t[0] == '[':
		return "an array"
	case t[0] == '"':
		return "a string"
	case t[0] == 't' || t[0] == 'f':
		return "a boolean"
	case t[0] == 'n':
		return "null"
	case t[0] == '-' || (t[0] >= '0' && t[0] <= '9'):
		return "a number"
	}
	return "something else"
}

// typeName is how a message names the Go type a JSON field decodes into:
// in JSON's terms ("an array of strings"), never Go's ("[]string").
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(plural(typeName(t.Elem())), "a "), "an ")
	case reflect.Map, reflect.Struct:
		return "a JSON object"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return "another type"
}

// plural turns "a string" into "strings", "a JSON object" into "JSON
// objects"; anything else is left as it is.
func plural(s string) string {
	switch s {
	case "a string", "a number", "a whole number", "a JSON object":
		return s + "s"
	case "true or false":
		return "booleans"
	}
	return s
}

// wantsObject reports whether v decodes from a JSON object only.
func wantsObject(v any) bool {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map)
}

func decodeError(err error, what, root string) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return likeness.Errorf(likeness.EINVALID, "%s is empty: send a JSON object", what)
	case errors.As(err, &syntax):
		return likeness.Errorf(likeness.EINVALID, "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		return likeness.Errorf(likeness.EINVALID, "field %q must be %s, not a JSON %s", typ.Field, typeName(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return likeness.Errorf(likeness.EINVALID, "%s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return likeness.Errorf(likeness.EINVALID, "malformed JSON: the %s ends early", root)
	}
	return likeness.Errorf(likeness.EINVALID, "malformed JSON: %v", err)
}

// Text refuses a string that is not valid UTF-8 or holds a NUL byte; what
// names it in the message ("field name", "query parameter lang").
func Text(what, s string) error {
	if !utf8.ValidString(s) {
		return likeness.Errorf(likeness.EINVALID, "%s is not valid UTF-8", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return likeness.Errorf(likeness.EINVALID, "%s contains a NUL byte", what)
	}
	return nil
}

// Strings applies Text to every string reachable from v: struct fields,
// slice and map elements, map keys and JSON held raw.
func Strings(v any) error { return walk(reflect.ValueOf(v), "body") }

var rawMessage = reflect.TypeFor[json.RawMessage]()

func walk(v reflect.Value, at string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return walk(v.Elem(), at)
	case reflect.String:
		return Text("field "+at, v.String())
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			if err := walk(v.Field(i), at+"."+name); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type() == rawMessage {
			var inner any
			if len(v.Bytes()) > 0 && json.Unmarshal(v.Bytes(), &inner) == nil {
				return walk(reflect.ValueOf(inner), at)
			}
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // bytes (base64 in JSON), not text
		}
		for i := range v.Len() {
			if err := walk(v.Index(i), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if err := walk(it.Key(), at+" key"); err != nil {
				return err
			}
			if err := walk(it.Value(), at+"."+fmt.Sprint(it.Key())); err != nil {
				return err
			}
		}
	}
	return nil
}

// Locale refuses a locale that is not a BCP 47 language tag ("de",
// "en-GB", "pt-BR"); "" passes, for the caller's default.
func Locale(field, s string) error {
	if s == "" {
		return nil
	}
	bad := len(s) > 35 || strings.IndexFunc(s, func(c rune) bool {
		return !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
	}) >= 0
	if !bad {
		_, err := language.Parse(s)
		bad = err != nil
	}
	if bad {
		if err := Text(field, s); err != nil {
			return err
		}
		return likeness.Errorf(likeness.EINVALID, "%s %q is not a BCP 47 language tag such as \"de\" or \"en-GB\"", field, s)
	}
	return nil
}

// PathValues checks every wildcard of the route r matched: each must be
// text (see Text) of at most MaxPathValue bytes.
func PathValues(r *http.Request) error {
	rest := r.Pattern
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil
		}
		name := strings.TrimSuffix(rest[i+1:i+j], "...")
		rest = rest[i+j+1:]
		if name == "$" {
			continue
		}
		v := r.PathValue(name)
		if err := Text("path segment {"+name+"}", v); err != nil {
			return err
		}
		if len(v) > MaxPathValue {
			return likeness.Errorf(likeness.EINVALID, "path segment {%s} is longer than %d bytes", name, MaxPathValue)
		}
	}
}

// Query checks that the query string parses and that every name and value
// in it is text (see Text).
func Query(r *http.Request) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return likeness.Errorf(likeness.EINVALID, "malformed query string")
	}
	return Values("query parameter", q)
}

// Params refuses a query that names a parameter other than known, or
// gives one more than once: on a write, an ignored or ambiguous parameter
// ("category=image&category=voice") would store something other than what
// the caller meant.
func Params(q url.Values, known ...string) error {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(known, k) {
			return likeness.Errorf(likeness.EINVALID, "unknown query parameter %q; this route takes %s", k, strings.Join(known, ", "))
		}
		if n := len(q[k]); n > 1 {
			return likeness.Errorf(likeness.EINVALID, "query parameter %q is given %d times; give it once", k, n)
		}
	}
	return nil
}

// Values checks every name and value of a parsed form or query.
func Values(what string, vs url.Values) error {
	for k, list := range vs {
		if err := Text(what+" name", k); err != nil {
			return err
		}
		for _, v := range list {
			if err := Text(what+" "+k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Request checks a request's path values and query (not its body).
func Request(r *http.Request) error {
	if err := PathValues(r); err != nil {
		return err
	}
	return Query(r)
}

// patternPath is the route's path pattern, never the request path (which
// may carry a link secret).
func patternPath(r *http.Request) string {
	if _, p, ok := strings.Cut(r.Pattern, " "); ok {
		return p
	}
	if r.Pattern != "" {
		return r.Pattern
	}
	return "this route"
}
