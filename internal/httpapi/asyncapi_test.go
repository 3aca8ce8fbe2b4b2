package httpapi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// asyncAPIFile is the event catalogue for NATS, next to the other docs.
var asyncAPIFile = filepath.Join("..", "..", "docs", "asyncapi.yaml")

type asyncAPI struct {
	AsyncAPI string `yaml:"asyncapi"`
	Channels map[string]struct {
		Address  string `yaml:"address"`
		Messages map[string]struct {
			Ref string `yaml:"$ref"`
		} `yaml:"messages"`
	} `yaml:"channels"`
	Components struct {
		Messages map[string]struct {
			Name    string `yaml:"name"`
			Payload struct {
				Ref string `yaml:"$ref"`
			} `yaml:"payload"`
		} `yaml:"messages"`
	} `yaml:"components"`
}

// TestAsyncAPIListsEveryEventType holds docs/asyncapi.yaml to the event
// types the service emits: each has a channel on its NATS subject, and a
// message whose payload is the schema the OpenAPI document's webhook of the
// same type uses, so the two catalogues cannot drift apart.
func TestAsyncAPIListsEveryEventType(t *testing.T) {
	raw, err := os.ReadFile(asyncAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc asyncAPI
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.AsyncAPI, "3.") {
		t.Errorf("asyncapi version %q, want 3.x", doc.AsyncAPI)
	}
	api := loadOpenAPI(t)
	byAddress := map[string]string{}
	for name, ch := range doc.Channels {
		byAddress[ch.Address] = name
	}
	for _, typ := range messageTypes {
		name, ok := byAddress["likeness.events."+typ]
		if !ok {
			t.Errorf("no channel for %s", typ)
			continue
		}
		var ref string
		for _, m := range doc.Channels[name].Messages {
			ref = m.Ref
		}
		msg, ok := doc.Components.Messages[strings.TrimPrefix(ref, "#/components/messages/")]
		if !ok || msg.Name != typ {
			t.Errorf("channel %s: message %q is not the %s message", name, ref, typ)
			continue
		}
		hook := api.Webhooks[typ]
		if hook == nil || hook.Post == nil {
			continue // reported by TestOpenAPIDocumentIsValidAndNamesEveryOperation
		}
		want := hook.Post.RequestBody.Value.Content["application/cloudevents+json"].Schema.Ref
		if got := msg.Payload.Ref; !strings.HasSuffix(got, "openapi.json"+want) {
			t.Errorf("%s payload is %q, the webhook's is %q", typ, got, want)
		}
	}
	if len(doc.Channels) != len(messageTypes) {
		t.Errorf("asyncapi.yaml has %d channels for %d event types", len(doc.Channels), len(messageTypes))
	}
}

// TestAsyncAPIDocumentParses runs the AsyncAPI project's own parser over the
// document (external references included). It needs Node.js and the
// parser installed by `npm ci` in testdata/asyncapi, which .ci/run does.
func TestAsyncAPIDocumentParses(t *testing.T) {
	dir := filepath.Join("testdata", "asyncapi")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@asyncapi", "parser")); err != nil {
		t.Skip("AsyncAPI parser check skipped: run `npm ci` in internal/httpapi/testdata/asyncapi (needs Node.js)")
	}
	abs, err := filepath.Abs(asyncAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "validate.mjs", abs)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("asyncapi.yaml does not parse: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
