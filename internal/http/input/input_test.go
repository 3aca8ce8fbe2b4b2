package input

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"likeness"
)

func decode(t *testing.T, ctype, body string, v any) error {
	t.Helper()
	r := httptest.NewRequest("POST", "/v1/x", strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return DecodeJSON(r, httptest.NewRecorder(), 64, v)
}

func TestDecodeJSONRefusesWhatNoServiceShouldSee(t *testing.T) {
	type in struct {
		Name  string            `json:"name"`
		Tags  []string          `json:"tags"`
		Attrs map[string]string `json:"attrs"`
		Raw   json.RawMessage   `json:"raw"`
	}
	for _, c := range []struct {
		name, ctype, body, code string
	}{
		{"empty", "application/json", "", likeness.EINVALID},
		{"white space", "application/json", "  \n", likeness.EINVALID},
		{"null", "application/json", "null", likeness.EINVALID},
		{"array", "application/json", `["a"]`, likeness.EINVALID},
		{"unknown field", "application/json", `{"nme":"a"}`, likeness.EINVALID},
		{"trailing brace", "application/json", `{"name":"a"}}`, likeness.EINVALID},
		{"two objects", "application/json", `{} {}`, likeness.EINVALID},
		{"NUL escape", "application/json", `{"name":"a\u0000"}`, likeness.EINVALID},
		{"NUL in a slice", "application/json", `{"tags":["\u0000"]}`, likeness.EINVALID},
		{"NUL in a map key", "application/json", `{"attrs":{"\u0000":"x"}}`, likeness.EINVALID},
		{"NUL in raw JSON", "application/json", `{"raw":{"k":"\u0000"}}`, likeness.EINVALID},
		{"a key twice", "application/json", `{"name":"a","name":"b"}`, likeness.EINVALID},
		{"a key twice in a map", "application/json", `{"attrs":{"k":"a","k":"b"}}`, likeness.EINVALID},
		{"a key twice in raw JSON", "application/json", `{"raw":[1,{"k":1,"k":2}]}`, likeness.EINVALID},
		{"invalid UTF-8", "application/json", "{\"name\":\"\xff\"}", likeness.EINVALID},
		{"too large", "application/json", `{"name":"` + strings.Repeat("a", 100) + `"}`, likeness.ETOOLARGE},
		{"wrong type", "text/plain", `{}`, likeness.EUNSUPPORTED},
		{"no type", "", `{}`, likeness.EUNSUPPORTED},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v in
			if got := likeness.ErrorCode(decode(t, c.ctype, c.body, &v)); got != c.code {
				t.Fatalf("code %q, want %q", got, c.code)
			}
		})
	}
	var v in
	if err := decode(t, "application/json; charset=utf-8", `{"name":"Zoë","tags":["a"]}`, &v); err != nil || v.Name != "Zoë" {
		t.Fatalf("a good body: %v %+v", err, v)
	}
}

// TestAKeyNamedTwiceIsRefusedWhereItIs checks that a body naming one key
// twice in an object is refused with the place and the key, wherever the
// object is, and that the same key in different objects is not a repeat.
func TestAKeyNamedTwiceIsRefusedWhereItIs(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"purpose":"a","purpose":"b"}`, `body has the key "purpose" twice`},
		{`{"consents":[{"p":1},{"p":1},{"p":1,"q":2,"p":3}]}`, `body.consents[2] has the key "p" twice`},
		{`{"a":{"b":[[],{"c":{"d":1,"d":1}}]}}`, `body.a.b[1].c has the key "d" twice`},
		{`{"purpose":"a","PURPOSE":"b"}`, `body has the key "PURPOSE" twice`},
		{`{"kind":"a","\u212aind":"b"}`, "body has the key \"\u212aind\" twice"},
		{`{"a.b":{"x\nline 7: recorded":{"k":1,"k":1}}}`, `body["a.b"]["x\nline 7: recorded"] has the key "k" twice`},
		{`{"` + strings.Repeat("é", 100) + `":1,"` + strings.Repeat("é", 100) + `":2}`, `body has the key "` + strings.Repeat("é", 32) + `…" twice`},
	} {
		var v any
		err := Unmarshal([]byte(c.body), &v)
		if likeness.ErrorCode(err) != likeness.EINVALID || !strings.Contains(likeness.ErrorMessage(err), c.want) {
			t.Errorf("%s: %v, want EINVALID saying %q", c.body, err, c.want)
		}
	}
	for _, body := range []string{
		`{"a":{"k":1},"b":{"k":1},"k":[{"k":1},{"k":2}]}`,
		`{"k":"k","v":["k","k"]}`,
		`[{"k":1},{"k":1}]`,
		`{"k":{},"K2":[],"v":[{},[],{"k":[{"k":{}}]}]}`,
	} {
		var v any
		if err := Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("%s: %v, want it taken", body, err)
		}
	}
	var v any
	if err := Unmarshal([]byte(`{"a":1,"b":}`), &v); err == nil || !strings.Contains(err.Error(), "malformed JSON") {
		t.Errorf("malformed JSON: %v, want the decoder's error", err)
	}
}

func TestOptionalJSONTakesNoBodyButNotNull(t *testing.T) {
	var v struct{}
	r := httptest.NewRequest("POST", "/v1/x", nil)
	if ok, err := OptionalJSON(r, httptest.NewRecorder(), 64, &v); ok || err != nil {
		t.Fatalf("no body: %v %v", ok, err)
	}
	r = httptest.NewRequest("POST", "/v1/x", strings.NewReader("null"))
	r.Header.Set("Content-Type", "application/json")
	if _, err := OptionalJSON(r, httptest.NewRecorder(), 64, &v); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Fatalf("null body: %v", err)
	}
}

func TestNoBody(t *testing.T) {
	if err := NoBody(httptest.NewRequest("POST", "/x", nil)); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/x", strings.NewReader("{}"))
	r.ContentLength = -1 // chunked: the length is not known
	if likeness.ErrorCode(NoBody(r)) != likeness.EINVALID {
		t.Fatal("a chunked body passed")
	}
}

func TestLocaleIsBCP47(t *testing.T) {
	for _, ok := range []string{"", "de", "en-GB", "pt-BR", "zh-Hant-TW", "es-419"} {
		if err := Locale("locale", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"en_US", "de DE", "x", "english", "de\x00", "\xff", "en-", "../de", strings.Repeat("a", 40)} {
		if err := Locale("locale", bad); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("%q passed: %v", bad, err)
		}
	}
}

func TestPathValuesAndQuery(t *testing.T) {
	mux := http.NewServeMux()
	var got error
	mux.HandleFunc("GET /v1/things/{id}/{rest...}", func(w http.ResponseWriter, r *http.Request) { got = Request(r) })
	for target, want := range map[string]string{
		"/v1/things/a/b":       "",
		"/v1/things/a%00/b":    likeness.EINVALID,
		"/v1/things/a/b%ff":    likeness.EINVALID,
		"/v1/things/a/b?q=%00": likeness.EINVALID,
		"/v1/things/a/b?q=%zz": likeness.EINVALID,
		"/v1/things/" + strings.Repeat("a", MaxPathValue+1) + "/b": likeness.EINVALID,
	} {
		got = nil
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
		if likeness.ErrorCode(got) != want {
			t.Errorf("%.40s: %v, want %q", target, got, want)
		}
	}
}

// grantBody is the request struct of POST /v1/subjects/{id}/consents.
type grantBody = likeness.GrantRequest

// FuzzDecodeJSONGrantRequest holds the strict decoder to its promise with a
// route's request struct: it never panics, and whatever it accepts is valid
// UTF-8 without NUL bytes in any string, and decodes again the same way.
func FuzzDecodeJSONGrantRequest(f *testing.F) {
	for _, s := range []string{
		`{"purposes":["ai-training"],"notice_version":1,"notice_sha256":"ab","method":"checkbox","language":"en"}`,
		`{"purposes":["a"],"evidence":{"guardian":"Ann"}}`,
		`null`, `[]`, `{}`, `{} {}`, `{"purposes":["\u0000"]}`, `{"evidence":{"\u0000":""}}`, "{\"language\":\"\xff\"}",
		`{"purposes":"a"}`, `{"unknown":1}`, `{"notice_version":1e400}`, `{"purposes":["\ud800"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v grantBody
		err := Unmarshal(data, &v)
		if err != nil {
			if likeness.ErrorCode(err) != likeness.EINVALID {
				t.Fatalf("refused with code %q: %v", likeness.ErrorCode(err), err)
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatal("accepted a body that is not UTF-8")
		}
		strs := append([]string{v.NoticeSHA256, string(v.Method), v.Language}, v.Purposes...)
		for k, x := range v.Evidence {
			strs = append(strs, k, x)
		}
		for _, s := range strs {
			if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
				t.Fatalf("accepted a string that is not text: %q", s)
			}
		}
		again, _ := json.Marshal(&v)
		var w grantBody
		if err := Unmarshal(again, &w); err != nil {
			t.Fatalf("an accepted body does not decode again: %v", err)
		}
	})
}

// TestMessagesSayWhatWasSentInJSONTerms: a body or field of the wrong
// kind is named as JSON names it, never by a Go type.
func TestMessagesSayWhatWasSentInJSONTerms(t *testing.T) {
	type in struct {
		Name  string   `json:"name"`
		Tags  []string `json:"tags"`
		Count int      `json:"count"`
		On    bool     `json:"on"`
	}
	for body, want := range map[string]string{
		`[]`:               "request body must be a JSON object, not an array",
		`"x"`:              "request body must be a JSON object, not a string",
		`1`:                "request body must be a JSON object, not a number",
		`true`:             "request body must be a JSON object, not a boolean",
		`null`:             "request body must be a JSON object, not null",
		`{"tags":"image"}`: `field "tags" must be an array of strings, not a JSON string`,
		`{"count":"3"}`:    `field "count" must be a whole number, not a JSON string`,
		`{"name":3}`:       `field "name" must be a string, not a JSON number`,
		`{"on":"yes"}`:     `field "on" must be true or false, not a JSON string`,
	} {
		var v in
		err := decode(t, "application/json", body, &v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestParamsRefusesUnknownAndRepeated(t *testing.T) {
	for q, want := range map[string]string{
		"purpose=a&category=b":            "",
		"purpose=a&colour=b":              `unknown query parameter "colour"; this route takes purpose, category`,
		"purpose=a&category=b&category=c": `query parameter "category" is given 2 times; give it once`,
	} {
		vs, _ := url.ParseQuery(q)
		err := Params(vs, "purpose", "category")
		if got := ""; err != nil {
			got = err.Error()
			if !strings.Contains(got, want) || want == "" {
				t.Errorf("%s: %v, want %q", q, err, want)
			}
		} else if want != "" {
			t.Errorf("%s: accepted, want %q", q, want)
		}
	}
}
