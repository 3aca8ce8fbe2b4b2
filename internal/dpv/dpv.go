// Package dpv writes a person's consents as ISO/IEC TS 27560:2023 consent
// records in JSON-LD, using the W3C Data Privacy Vocabulary (DPV 2) as the
// DPVCG guide "Consent Records and Receipts as per ISO/IEC TS 27560:2023
// using DPV" lays them out (https://w3id.org/dpv/guides/consent-27560): one
// dpv:ConsentRecord per purpose the person was ever asked about, conforming
// to the dpv-27560 record profile, with its current status, the notice it
// was given under, how and when it was indicated, the process it covers
// (purpose, personal data, recipients and their countries, storage
// duration) and every event of its history with its ledger index.
//
// Data categories map to the closest DPV personal-data concept (Categories);
// the category's own name stays beside it, so nothing is lost in mapping.
package dpv

import (
	"encoding/json"
	"fmt"
	"time"

	"likeness"
	"likeness/internal/jurisdiction"
	"likeness/policy"
)

// Profile is the dpv-27560 profile every record conforms to.
const Profile = "https://w3id.org/dpv/schema/dpv-27560#record"

// MediaType is the media type of a document Records returns.
const MediaType = "application/ld+json"

// context maps the prefixes used in the records.
var context = map[string]string{
	"dpv":      "https://w3id.org/dpv#",
	"pd":       "https://w3id.org/dpv/pd#",
	"loc":      "https://w3id.org/dpv/loc#",
	"eu-gdpr":  "https://w3id.org/dpv/legal/eu/gdpr#",
	"dct":      "http://purl.org/dc/terms/",
	"xsd":      "http://www.w3.org/2001/XMLSchema#",
	"likeness": "https://w3id.org/likeness#",
}

// Categories maps each policy data category to the closest DPV-PD concept.
var Categories = map[string]string{
	"image":              "pd:Picture",
	"video":              "pd:Picture",
	"voice":              "pd:VoiceCommunicationRecording",
	"transcript":         "pd:Communication",
	"biometric_template": "pd:Biometric",
}

// Statuses maps each consent state to a DPV consent status.
var Statuses = map[likeness.State]string{
	likeness.StateActive:       "dpv:ConsentGiven",
	likeness.StateWithdrawn:    "dpv:ConsentWithdrawn",
	likeness.StateExpired:      "dpv:ConsentExpired",
	likeness.StateNeedsRenewal: "dpv:ConsentInvalidated",
	likeness.StateErased:       "dpv:ConsentWithdrawn",
	likeness.StateNone:         "dpv:ConsentUnknown",
	// Given, but a reviewer has still to check it before it counts: DPV's
	// state for a consent awaiting its decision.
	likeness.StatePendingValidation: "dpv:ConsentRequested",
	// A reviewer found it not valid: it never counted.
	likeness.StateValidationRejected: "dpv:ConsentInvalidated",
}

// Input is what Records needs: the policy, the deployment's ledger origin
// (which makes record ids unique per deployment), the person, their
// consent states and their history in ledger order.
type Input struct {
	Policy  *policy.Policy
	Origin  string
	Subject *likeness.Subject
	States  []likeness.PurposeState
	History []*likeness.ConsentEvent
	Now     time.Time
}

// Records returns the JSON-LD document: a @context and a @graph of one
// consent record per purpose that has history.
func Records(in Input) ([]byte, error) {
	if in.Policy == nil || in.Subject == nil {
		return nil, fmt.Errorf("dpv: policy and subject are required")
	}
	byPurpose := map[string][]*likeness.ConsentEvent{}
	for _, ev := range in.History {
		if ev.Purpose != "" {
			byPurpose[ev.Purpose] = append(byPurpose[ev.Purpose], ev)
		}
	}
	graph := []map[string]any{}
	for i := range in.States {
		st := &in.States[i]
		evs := byPurpose[st.Purpose]
		p := in.Policy.Purposes[st.Purpose]
		if len(evs) == 0 || p == nil {
			continue
		}
		graph = append(graph, record(in, p, st, evs))
	}
	doc := map[string]any{
		"@context":      context,
		"@graph":        graph,
		"dct:created":   in.Now.UTC().Format(time.RFC3339),
		"dct:publisher": controller(in.Policy),
	}
	return json.MarshalIndent(doc, "", "  ")
}

func record(in Input, p *policy.Purpose, st *likeness.PurposeState, evs []*likeness.ConsentEvent) map[string]any {
	last := evs[len(evs)-1]
	status, ok := Statuses[st.State]
	if !ok {
		status = "dpv:ConsentUnknown"
	}
	lang := in.Subject.Locale
	if _, ok := p.Title[lang]; !ok && len(in.Policy.Languages) > 0 {
		lang = in.Policy.Languages[0]
	}
	r := map[string]any{
		"@id":            fmt.Sprintf("urn:likeness:%s:consent:%s:%s", in.Origin, in.Subject.ID, p.ID),
		"@type":          "dpv:ConsentRecord",
		"dct:identifier": in.Subject.ID + "/" + p.ID,
		"dct:conformsTo": Profile,
		"dct:created":    evs[0].Time.UTC().Format(time.RFC3339Nano),
		"dct:modified":   last.Time.UTC().Format(time.RFC3339Nano),
		"dpv:hasDataSubject": map[string]any{
			"@id": "urn:likeness:subject:" + in.Subject.ID, "@type": dataSubjectType(in.Subject),
		},
		"dpv:hasDataController": controller(in.Policy),
		"dpv:hasConsentStatus":  map[string]any{"@type": status, "dct:date": last.Time.UTC().Format(time.RFC3339Nano)},
		"dpv:isIndicatedBy":     indicatedBy(in.Subject),
		"dpv:isIndicatedAtTime": map[string]any{"@value": last.Time.UTC().Format(time.RFC3339Nano), "@type": "xsd:dateTime"},
		"dpv:hasIndicationMethod": map[string]any{
			"@type": "dpv:IndicationMethod", "dct:description": string(last.Method),
		},
		"dpv:hasProcess":   process(in.Policy, p, lang),
		"likeness:history": history(evs),
	}
	if j, err := likeness.ParseJurisdiction(in.Subject.Jurisdiction); err == nil {
		r["dpv:hasJurisdiction"] = location(j)
		if law, basis := lawOf(j, p); law != nil {
			r["dpv:hasApplicableLaw"] = law
			r["dpv:hasLegalBasis"] = basis
		}
	}
	if n := lastNotice(evs); n != nil {
		r["dpv:hasNotice"] = map[string]any{
			"@type":           "dpv:ConsentNotice",
			"dct:identifier":  fmt.Sprintf("notice v%d", n.NoticeVersion),
			"dct:hasVersion":  n.NoticeVersion,
			"likeness:sha256": n.NoticeSHA256,
			"dct:language":    n.Language,
		}
	}
	if !st.Expires.IsZero() {
		r["dpv:hasDuration"] = map[string]any{"@type": "dpv:UntilTimeDuration", "dct:valid": st.Expires.UTC().Format(time.RFC3339)}
	}
	return r
}

func controller(p *policy.Policy) map[string]any {
	return map[string]any{
		"@type":           "dpv:DataController",
		"dct:title":       p.Organization.Name,
		"dpv:hasLocation": "loc:" + p.Organization.Country,
		"dpv:hasContact":  p.Organization.Contact,
	}
}

func dataSubjectType(s *likeness.Subject) string {
	if s.Guardian {
		return "dpv:Child"
	}
	return "dpv:DataSubject"
}

func indicatedBy(s *likeness.Subject) string {
	if s.Guardian {
		return "dpv:Guardian"
	}
	return "dpv:DataSubject"
}

func process(pol *policy.Policy, p *policy.Purpose, lang string) map[string]any {
	var data []map[string]any
	for _, c := range p.Data {
		d := map[string]any{"@type": Categories[c], "dct:title": c}
		if jurisdiction.Biometric(c) {
			d["dpv:hasSensitivity"] = "dpv:SensitivePersonalData"
		}
		data = append(data, d)
	}
	var recipients []map[string]any
	for _, id := range p.Recipients {
		r := pol.Recipients[id]
		if r == nil {
			continue
		}
		rec := map[string]any{"@type": "dpv:Recipient", "dct:identifier": r.ID, "dct:title": r.Name, "dpv:hasLocation": "loc:" + r.Country}
		if r.Transfer != "" {
			rec["likeness:transferBasis"] = r.Transfer
		}
		recipients = append(recipients, rec)
	}
	proc := map[string]any{
		"@type": "dpv:Process",
		"dpv:hasPurpose": map[string]any{
			"@type": "dpv:Purpose", "dct:identifier": p.ID,
			"dct:title": p.Title[lang], "dct:description": p.Description[lang],
		},
		"dpv:hasPersonalData": data,
		"dpv:hasRecipient":    recipients,
	}
	if !p.Retention.IsZero() {
		proc["dpv:hasStorageCondition"] = map[string]any{"@type": "dpv:StorageDuration",
			"dpv:hasDuration": map[string]any{"@value": iso8601(p.Retention), "@type": "xsd:duration"}}
	}
	return proc
}

// iso8601 writes d as an xsd:duration, e.g. P3Y or P1Y6M.
func iso8601(d policy.Duration) string {
	s := "P"
	for _, part := range []struct {
		n    int
		unit string
	}{{d.Years, "Y"}, {d.Months, "M"}, {d.Days, "D"}} {
		if part.n != 0 {
			s += fmt.Sprint(part.n, part.unit)
		}
	}
	return s
}

func location(j likeness.Jurisdiction) string {
	if j.Region != "" && j.Regime == "US" {
		return "loc:" + j.Country + "-" + j.Region
	}
	return "loc:" + j.Country
}

// lawOf names the law under which consent is the legal basis, and the
// basis: explicit consent (GDPR Art. 9(2)(a)) where the purpose takes
// special-category data, consent (Art. 6(1)(a)) otherwise.
func lawOf(j likeness.Jurisdiction, p *policy.Purpose) (law any, basis any) {
	special := false
	for _, c := range p.Data {
		special = special || jurisdiction.Biometric(c)
	}
	switch {
	case j.Regime == "EU":
		if special {
			return "eu-gdpr:GDPR", []string{"eu-gdpr:A6-1-a", "eu-gdpr:A9-2-a"}
		}
		return "eu-gdpr:GDPR", "eu-gdpr:A6-1-a"
	case j.Regime == "GB":
		return map[string]any{"@type": "dpv:Law", "dct:title": "UK GDPR"}, "dpv:ExplicitlyExpressedConsent"
	case jurisdiction.BIPA(j):
		return map[string]any{"@type": "dpv:Law", "dct:title": "Illinois Biometric Information Privacy Act (740 ILCS 14)"}, "dpv:ExplicitlyExpressedConsent"
	case j.Country == "US" && j.Region == "CA":
		return map[string]any{"@type": "dpv:Law", "dct:title": "California Consumer Privacy Act, as amended by the CPRA"}, "dpv:Consent"
	}
	return nil, nil
}

func lastNotice(evs []*likeness.ConsentEvent) *likeness.ConsentEvent {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].NoticeVersion > 0 {
			return evs[i]
		}
	}
	return nil
}

func history(evs []*likeness.ConsentEvent) []map[string]any {
	out := make([]map[string]any, 0, len(evs))
	for _, ev := range evs {
		h := map[string]any{
			"@type":                "likeness:ConsentEvent",
			"dct:identifier":       ev.ID,
			"likeness:eventType":   string(ev.Type),
			"likeness:ledgerIndex": ev.LedgerIndex,
			"dct:date":             ev.Time.UTC().Format(time.RFC3339Nano),
		}
		if ev.Method != "" {
			h["likeness:method"] = string(ev.Method)
		}
		out = append(out, h)
	}
	return out
}
