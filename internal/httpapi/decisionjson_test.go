package httpapi

import (
	"reflect"
	"testing"

	"likeness"
	"likeness/internal/http/input"
)

var decisionSeeds = []string{
	`{"subject_id":"sub_abc","purpose":"ai-training","data_category":"image"}`,
	` { "asset_id" : "ast_1" , "purpose":"p","data_category":"c","recipient":"r","country":"DE","min_revision":42 } `,
	`{"subject_id":"sub_abc","purpose":"ai-training","data_category":"image","min_revision":0}`,
	`{}`, `{"subject_id":"a",}`, `{"subject_id":"a","subject_id":"b"}`, `{"Subject_ID":"a"}`, `{"subject_id":null}`,
	`{"subject_id":"a\u0000"}`, `{"subject_id":"ü"}`, `{"subject_id":"a\"b"}`, `{"min_revision":-1}`, `{"min_revision":01}`,
	`{"min_revision":1.0}`, `{"min_revision":1e3}`, `{"min_revision":99999999999999999999}`, `{"at":"2026-01-01T00:00:00Z"}`,
	`{"subject_id":"a"}{}`, `{"subject_id":"a"} x`, `[]`, `null`, ``, `{"subject_id":1}`, `{"extra":"x"}`, `{"subject_id" "a"}`,
	"{\"subject_id\":\"a\"}\n", "{\"subject_id\":\"a\tb\"}",
}

// FuzzDecisionDecoder holds the hand-written decision decoder to the API's
// general one: whatever it accepts, input.Unmarshal (encoding/json with
// unknown fields refused, then the text checks) accepts too and decodes
// to the same request.
func FuzzDecisionDecoder(f *testing.F) {
	for _, s := range decisionSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var fast decisionIn
		end, ok := parseDecisionObject(body, skipSpace(body, 0), &fast, true)
		if !ok || skipSpace(body, end) != len(body) {
			return // declined: the general decoder answers
		}
		var slow decisionIn
		if err := input.Unmarshal([]byte(body), &slow); err != nil {
			t.Fatalf("fast decoder accepted %q, which the API refuses: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast decoder gave %+v, encoding/json %+v", body, fast, slow)
		}
	})
}

// FuzzBatchDecoder is FuzzDecisionDecoder for batch bodies.
func FuzzBatchDecoder(f *testing.F) {
	f.Add(`{"items":[{"subject_id":"sub_a","purpose":"p","data_category":"c"},{"asset_id":"ast_b","purpose":"p","data_category":"c"}]}`)
	f.Add(`{ "min_revision" : 7 , "items" : [ {"subject_id":"s","purpose":"p","data_category":"c"} ] }`)
	for _, s := range []string{`{"items":[]}`, `{"items":null}`, `{"items":[{}],"items":[{}]}`, `{"items":[{},]}`, `{"items":[{"min_revision":1}]}`,
		`{"items":[{}]}x`, `{"items":[{}],}`, `{"items":[{}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fast, rev, ok := decodeBatch(body, nil)
		if !ok {
			return
		}
		var slow struct {
			Items       []likeness.DecisionRequest `json:"items"`
			MinRevision int64                      `json:"min_revision,omitempty"`
		}
		if err := input.Unmarshal([]byte(body), &slow); err != nil {
			t.Fatalf("fast decoder accepted %q, which the API refuses: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow.Items) || rev != slow.MinRevision {
			t.Fatalf("%q: fast decoder gave %+v (%d), encoding/json %+v (%d)", body, fast, rev, slow.Items, slow.MinRevision)
		}
	})
}

// The decoder takes what clients send and declines, rather than guesses
// at, everything else.
func TestDecisionDecoderTakesPlainRequestsAndDeclinesTheRest(t *testing.T) {
	// The seeds the hand-written decoder takes; it declines every other.
	takes := map[string]bool{
		decisionSeeds[0]: true, decisionSeeds[1]: true, decisionSeeds[2]: true, `{}`: true,
		"{\"subject_id\":\"a\"}\n": true,
	}
	for _, s := range decisionSeeds {
		var in decisionIn
		end, ok := parseDecisionObject(s, skipSpace(s, 0), &in, true)
		ok = ok && skipSpace(s, end) == len(s)
		if want := takes[s]; ok != want {
			t.Errorf("%q: accepted %v, want %v", s, ok, want)
		}
	}
	var in decisionIn
	parseDecisionObject(decisionSeeds[1], 1, &in, true)
	want := decisionIn{DecisionRequest: likeness.DecisionRequest{AssetID: "ast_1", Purpose: "p", Category: "c", Recipient: "r", Country: "DE"}, MinRevision: 42}
	if in != want {
		t.Errorf("decoded %+v, want %+v", in, want)
	}
}
