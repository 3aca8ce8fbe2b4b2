package dpv_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/piprate/json-gold/ld"

	"likeness"
	"likeness/internal/dpv"
	"likeness/policy"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func examplePolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Load("../../../shared/examples/likeness.yaml")
	if err != nil {
		p, err = policy.Load("../../policy/example.yaml")
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func event(sub, purpose string, typ likeness.EventType, at time.Time, index int64) *likeness.ConsentEvent {
	return &likeness.ConsentEvent{ID: "evt_" + purpose + string(typ), SubjectID: sub, Purpose: purpose, Type: typ,
		Method: likeness.Checkbox, NoticeVersion: 2, NoticeSHA256: strings.Repeat("ab", 32), Language: "de", Time: at, LedgerIndex: index}
}

func records(t *testing.T, p *policy.Policy, sub *likeness.Subject, states []likeness.PurposeState, hist []*likeness.ConsentEvent) map[string]any {
	t.Helper()
	raw, err := dpv.Records(dpv.Input{Policy: p, Origin: "acme/0123456789abcdef", Subject: sub, States: states, History: hist, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestConsentRecordsFollowTheDPV27560Profile records one purpose granted
// and one withdrawn for a person in Germany, and checks each record
// against the policy: profile, status, legal basis (explicit consent for
// biometric data), purpose, personal data, every recipient with its
// country, and the history with ledger indexes.
func TestConsentRecordsFollowTheDPV27560Profile(t *testing.T) {
	p := examplePolicy(t)
	sub := &likeness.Subject{ID: "sub_1", Locale: "de", Jurisdiction: "EU-DE", CreatedAt: t0}
	granted, withdrawn := p.PurposeIDs[0], p.PurposeIDs[1]
	hist := []*likeness.ConsentEvent{
		event(sub.ID, granted, likeness.Grant, t0, 0),
		event(sub.ID, withdrawn, likeness.Grant, t0, 1),
		event(sub.ID, withdrawn, likeness.Withdraw, t0.Add(time.Hour), 2),
	}
	states := []likeness.PurposeState{
		{Purpose: granted, State: likeness.StateActive, Since: t0},
		{Purpose: withdrawn, State: likeness.StateWithdrawn, Since: t0.Add(time.Hour)},
	}
	for _, id := range p.PurposeIDs[2:] {
		states = append(states, likeness.PurposeState{Purpose: id, State: likeness.StateNone})
	}
	doc := records(t, p, sub, states, hist)
	graph := doc["@graph"].([]any)
	if len(graph) != 2 {
		t.Fatalf("%d records, want one per purpose with history (2)", len(graph))
	}
	want := map[string]string{granted: "dpv:ConsentGiven", withdrawn: "dpv:ConsentWithdrawn"}
	for _, g := range graph {
		r := g.(map[string]any)
		proc := r["dpv:hasProcess"].(map[string]any)
		id := proc["dpv:hasPurpose"].(map[string]any)["dct:identifier"].(string)
		pur := p.Purposes[id]
		if r["@type"] != "dpv:ConsentRecord" || r["dct:conformsTo"] != dpv.Profile {
			t.Errorf("%s: type %v, profile %v", id, r["@type"], r["dct:conformsTo"])
		}
		if got := r["dpv:hasConsentStatus"].(map[string]any)["@type"]; got != want[id] {
			t.Errorf("%s: status %v, want %s", id, got, want[id])
		}
		if r["dpv:hasJurisdiction"] != "loc:DE" || r["dpv:hasApplicableLaw"] != "eu-gdpr:GDPR" {
			t.Errorf("%s: jurisdiction %v, law %v", id, r["dpv:hasJurisdiction"], r["dpv:hasApplicableLaw"])
		}
		if basis, _ := json.Marshal(r["dpv:hasLegalBasis"]); !strings.Contains(string(basis), "eu-gdpr:A9-2-a") {
			t.Errorf("%s: legal basis %s lacks explicit consent for biometric data", id, basis)
		}
		if title := proc["dpv:hasPurpose"].(map[string]any)["dct:title"]; title != pur.Title["de"] {
			t.Errorf("%s: purpose title %v, want the person's language", id, title)
		}
		var cats []string
		for _, d := range proc["dpv:hasPersonalData"].([]any) {
			cats = append(cats, d.(map[string]any)["dct:title"].(string))
		}
		if !slices.Equal(cats, pur.Data) {
			t.Errorf("%s: personal data %v, policy %v", id, cats, pur.Data)
		}
		var recips []string
		for _, x := range proc["dpv:hasRecipient"].([]any) {
			rec := x.(map[string]any)
			rid := rec["dct:identifier"].(string)
			recips = append(recips, rid)
			if rec["dpv:hasLocation"] != "loc:"+p.Recipients[rid].Country {
				t.Errorf("%s: recipient %s at %v, policy says %s", id, rid, rec["dpv:hasLocation"], p.Recipients[rid].Country)
			}
		}
		if !slices.Equal(recips, pur.Recipients) {
			t.Errorf("%s: recipients %v, policy %v", id, recips, pur.Recipients)
		}
		n := 1
		if id == withdrawn {
			n = 2
		}
		if h := r["likeness:history"].([]any); len(h) != n {
			t.Errorf("%s: %d history entries, want %d", id, len(h), n)
		}
	}
}

// TestConsentRecordsExpandAsJSONLD runs the document through a JSON-LD
// processor (json-gold): every term must expand to an IRI, so a property
// outside the declared vocabularies would be dropped and caught here.
func TestConsentRecordsExpandAsJSONLD(t *testing.T) {
	p := examplePolicy(t)
	sub := &likeness.Subject{ID: "sub_2", Locale: "en", Jurisdiction: "US-IL", CreatedAt: t0}
	purpose := p.PurposeIDs[0]
	doc := records(t, p, sub, []likeness.PurposeState{{Purpose: purpose, State: likeness.StateActive, Since: t0}},
		[]*likeness.ConsentEvent{event(sub.ID, purpose, likeness.Grant, t0, 0)})
	expanded, err := ld.NewJsonLdProcessor().Expand(doc, ld.NewJsonLdOptions(""))
	if err != nil {
		t.Fatalf("expand: %v", err)
	}
	ctx := doc["@context"].(map[string]any)
	var walk func(compact, exp any, where string)
	walk = func(compact, exp any, where string) {
		cm, ok := compact.(map[string]any)
		if !ok {
			return
		}
		em := firstNode(exp)
		if em == nil {
			t.Errorf("%s: node lost in expansion", where)
			return
		}
		for k, v := range cm {
			if k == "@context" || k == "@value" || k == "@type" || k == "@id" {
				continue
			}
			prefix, local, _ := strings.Cut(k, ":")
			base, ok := ctx[prefix].(string)
			if !ok {
				t.Errorf("%s: %s has no declared prefix", where, k)
				continue
			}
			iri := base + local
			if _, ok := em[iri]; !ok {
				t.Errorf("%s: %s (%s) was dropped by expansion; expanded keys %v", where, k, iri, slices.Sorted(maps.Keys(em)))
				continue
			}
			switch v := v.(type) {
			case map[string]any:
				walk(v, em[iri], where+"/"+k)
			case []any:
				if len(v) > 0 {
					walk(v[0], em[iri], where+"/"+k)
				}
			}
		}
	}
	root := expanded[0].(map[string]any)
	graph := doc["@graph"].([]any)
	egraph, _ := root["@graph"].([]any)
	if len(graph) != 1 || len(egraph) != 1 {
		t.Fatalf("graph %d records, expanded %d", len(graph), len(egraph))
	}
	walk(graph[0], egraph[0], "record")
	r := graph[0].(map[string]any)
	if law, _ := json.Marshal(r["dpv:hasApplicableLaw"]); !strings.Contains(string(law), "Biometric Information Privacy Act") {
		t.Errorf("a person in Illinois: applicable law %s, want BIPA", law)
	}
}

// firstNode returns the first node object of an expanded value.
func firstNode(v any) map[string]any {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				return m
			}
		}
	case map[string]any:
		return v
	}
	return nil
}
