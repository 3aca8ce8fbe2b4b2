package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"likeness"
	"likeness/internal/httpapi"
)

// loadOpenAPI parses and validates the served document.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValidAndNamesEveryOperation(t *testing.T) {
	doc := loadOpenAPI(t)
	if len(doc.Servers) == 0 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want a relative / entry", doc.Servers)
	}
	seen := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			} else if other, dup := seen[op.OperationID]; dup {
				t.Errorf("operationId %q is used by %s and %s", op.OperationID, other, where)
			}
			seen[op.OperationID] = where
			for code, r := range op.Responses.Map() {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				for _, mt := range r.Value.Content {
					if mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error" {
						t.Errorf("%s %s does not answer with the Error schema", where, code)
					}
				}
			}
		}
	}
	for _, typ := range messageTypes {
		if doc.Webhooks[typ] == nil {
			t.Errorf("webhooks has no entry for %s", typ)
		}
	}
}

// messageTypes is every outbox event type the service emits.
var messageTypes = likeness.MessageTypes

// TestOpenAPICoversEveryRoute holds the document and the server to the same
// list of /v1 routes, both ways.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	b := newBoundaryEnv(t, newEnv(t, ""))
	served := map[string]bool{}
	for _, r := range b.api.Routes() {
		served[r.Method+" "+r.Pattern] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("%s is served but not in openapi.json", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("%s is in openapi.json but not served", k)
		}
	}
}

// validator checks every response the test client receives against the
// document and records which operations answered.
type validator struct {
	t    testing.TB
	doc  *openapi3.T
	base http.RoundTripper
	ops  []docRoute

	mu  sync.Mutex
	hit map[string]bool
}

type docRoute struct {
	re     *regexp.Regexp
	names  []string
	route  *routers.Route
	method string
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// The dataset card is also served as Markdown, which kin-openapi does not
// decode by itself: it is text, checked like text/plain.
func init() { openapi3filter.RegisterBodyDecoder("text/markdown", openapi3filter.PlainBodyDecoder) }

func newValidator(t testing.TB, doc *openapi3.T, base http.RoundTripper) *validator {
	v := &validator{t: t, doc: doc, base: base, hit: map[string]bool{}}
	for path, item := range doc.Paths.Map() {
		var names []string
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			names = append(names, m[1])
		}
		segs := strings.Split(path, "/")
		for i, seg := range segs {
			if pathParam.MatchString(seg) {
				segs[i] = `([^/]+)`
			} else {
				segs[i] = regexp.QuoteMeta(seg)
			}
		}
		re := regexp.MustCompile("^" + strings.Join(segs, "/") + "$")
		for method, op := range item.Operations() {
			v.ops = append(v.ops, docRoute{re: re, names: names, method: method,
				route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}})
		}
	}
	return v
}

func (v *validator) find(r *http.Request) (*routers.Route, map[string]string) {
	for _, o := range v.ops {
		if o.method != r.Method {
			continue
		}
		if m := o.re.FindStringSubmatch(r.URL.EscapedPath()); m != nil {
			params := map[string]string{}
			for i, n := range o.names {
				params[n], _ = url.PathUnescape(m[i+1])
			}
			return o.route, params
		}
	}
	return nil, nil
}

func (v *validator) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := v.base.RoundTrip(r)
	if err != nil || !strings.HasPrefix(r.URL.Path, "/v1/") {
		return res, err
	}
	route, params := v.find(r)
	if route == nil {
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			v.t.Errorf("%s %s answered %d but is not in openapi.json", r.Method, r.URL.Path, res.StatusCode)
		}
		return res, nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
		v.t.Errorf("%s %s → %d does not match openapi.json: %v\nbody: %.600s", r.Method, r.URL.Path, res.StatusCode, err, body)
	}
	v.mu.Lock()
	v.hit[route.Method+" "+route.Path] = true
	v.mu.Unlock()
	return res, nil
}

// missed lists the documented operations no response came from.
func (v *validator) missed() []string {
	var out []string
	for _, o := range v.ops {
		if k := o.method + " " + o.route.Path; !v.hit[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// validateResponses makes every later call of e check its response
// against the document.
func validateResponses(t testing.TB, e *env) *validator {
	t.Helper()
	c := e.srv.Client()
	v := newValidator(t, loadOpenAPI(t), c.Transport)
	c.Transport = v
	return v
}
