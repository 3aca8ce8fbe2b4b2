// Package records builds the controller's GDPR paperwork from the policy in
// force and live figures from the store: the record of processing
// activities (Art. 30(1)) and a draft data protection impact assessment
// (Art. 35) for every purpose that processes biometric or other
// special-category data. It owns nothing durable: every call reads the
// policy and the store again, so the record always describes what is
// declared and stored now.
//
// The draft is a starting point, not an assessment: the questions only the
// organization can answer are left blank and marked "to be completed".
package records

import (
	"context"
	"embed"
	"fmt"
	"time"

	"likeness"
	"likeness/internal/i18n"
	"likeness/internal/jurisdiction"
	"likeness/policy"
)

//go:embed i18n/*.json
var files embed.FS

// texts are the fixed texts of the record and the draft; a file that does
// not load is a build defect, caught by the package's tests.
var texts = func() *i18n.Set {
	s, err := i18n.Load(files)
	if err != nil {
		panic("records: " + err.Error())
	}
	return s
}()

// Counter reads the live figures of the record. *sqlstore.DB implements
// it. Implementations must be safe for concurrent use and answer from a few
// aggregate queries.
type Counter interface {
	// ProcessingCounts returns how many subjects are on record and not
	// erased; per purpose, how many of them have a consent whose latest
	// event is a grant or a renewal; and per data category, how many assets
	// are stored and not erased. A purpose or category without any is
	// absent from its map.
	ProcessingCounts(ctx context.Context) (subjects int64, consents, assets map[string]int64, err error)
}

// Builder builds records and drafts. It is safe for concurrent use.
type Builder struct {
	policy func() *policy.Policy
	counts Counter
	now    func() time.Time
}

// New returns a Builder over the policy in force and the store's figures;
// now defaults to time.Now.
func New(p func() *policy.Policy, counts Counter, now func() time.Time) *Builder {
	if p == nil || counts == nil {
		panic("records: a policy and a counter are required")
	}
	if now == nil {
		now = time.Now
	}
	return &Builder{policy: p, counts: counts, now: now}
}

// Controller is the record's Art. 30(1)(a): who decides, and whom to ask.
type Controller struct {
	Name    string `json:"name"`
	Country string `json:"country"`
	Contact string `json:"contact"`
	DPO     string `json:"dpo"`
}

// Category is one category of personal data a purpose processes.
// Biometric marks what jurisdiction.Biometric calls biometric; the record
// treats it as special-category data (Art. 9), the cautious reading for
// faces and voices.
type Category struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	Biometric bool   `json:"biometric"`
	Assets    int64  `json:"assets"` // stored and not erased, for any purpose
}

// Recipient is a recipient with where it is and on what basis data goes
// there (Art. 30(1)(d) and (e)).
type Recipient struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Country  string `json:"country"`
	Transfer string `json:"transfer"` // the policy's mechanism: "", scc, bcr, dpf or none
	// ThirdCountry is set for a recipient outside the EEA.
	ThirdCountry bool   `json:"third_country"`
	Basis        string `json:"basis"` // the transfer basis, in words
}

// Activity is one purpose as a processing activity.
type Activity struct {
	Purpose      string      `json:"purpose"`
	Title        string      `json:"title"`
	Description  string      `json:"description"`
	LegalBasis   string      `json:"legal_basis"`
	DataSubjects string      `json:"data_subjects"`
	Categories   []Category  `json:"categories"`
	Special      bool        `json:"special_category"` // some category is biometric
	Recipients   []Recipient `json:"recipients"`
	Retention    string      `json:"retention"`       // the policy's duration, e.g. "3y"
	ErasureLimit string      `json:"erasure_limit"`   // Art. 30(1)(f), in words
	Consents     int64       `json:"active_consents"` // subjects whose latest event is a grant or renewal
}

// Measure is one technical or organisational security measure.
type Measure struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Record is the record of processing activities (Art. 30(1)).
type Record struct {
	GeneratedAt time.Time   `json:"generated_at"`
	Language    string      `json:"language"`
	Controller  Controller  `json:"controller"`
	Subjects    int64       `json:"data_subjects"` // on record, not erased
	Activities  []Activity  `json:"activities"`
	Recipients  []Recipient `json:"recipients"` // every recipient the policy declares
	Measures    []Measure   `json:"security_measures"`
}

// measureIDs are what likeness does to keep personal data secure, in the
// order the record lists them; their texts are in the translation files.
var measureIDs = []string{"subject_keys", "blob_encryption", "ledger", "access_control", "audit_log", "anonymization"}

// lang returns the locale for lang and the policy language its texts are
// read in: lang if the policy offers it, else the policy's first.
func lang(p *policy.Policy, code string) (*i18n.Locale, string) {
	if !p.HasLanguage(code) {
		code = p.Languages[0]
	}
	return texts.Pick(code), code
}

// Processing builds the record of processing activities in lang (the
// policy's first language if it does not offer lang).
func (b *Builder) Processing(ctx context.Context, lang string) (*Record, error) {
	p := b.policy()
	subjects, consents, assets, err := b.counts.ProcessingCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("records: read figures: %w", err)
	}
	return build(p, lang, b.now(), subjects, consents, assets), nil
}

// build is Processing over figures already read.
func build(p *policy.Policy, code string, now time.Time, subjects int64, consents, assets map[string]int64) *Record {
	l, code := lang(p, code)
	o := p.Organization
	rec := &Record{GeneratedAt: now.UTC(), Language: code, Subjects: subjects,
		Controller: Controller{Name: o.Name, Country: o.Country, Contact: o.Contact, DPO: o.DPO}}
	for _, id := range p.PurposeIDs {
		rec.Activities = append(rec.Activities, activity(p, p.Purposes[id], l, code, consents[id], assets))
	}
	for _, id := range p.RecipientIDs {
		rec.Recipients = append(rec.Recipients, recipient(p.Recipients[id], l))
	}
	rec.Measures = measures(l)
	return rec
}

func activity(p *policy.Policy, pu *policy.Purpose, l *i18n.Locale, code string, consents int64, assets map[string]int64) Activity {
	a := Activity{Purpose: pu.ID, Title: pick(pu.Title, code, p), Description: pick(pu.Description, code, p),
		DataSubjects: l.T("subjects.description"), Retention: pu.Retention.String(), Consents: consents}
	for _, c := range pu.Data {
		bio := jurisdiction.Biometric(c)
		a.Special = a.Special || bio
		a.Categories = append(a.Categories, Category{ID: c, Label: policy.CategoryLabel(c, code), Biometric: bio, Assets: assets[c]})
	}
	a.LegalBasis = l.T("basis.consent")
	if a.Special {
		a.LegalBasis = l.T("basis.explicit")
	}
	for _, id := range pu.Recipients {
		if r, ok := p.Recipient(id); ok {
			a.Recipients = append(a.Recipients, recipient(r, l))
		}
	}
	erase := l.T("erasure.on_request")
	if pu.OnWithdraw == "erase" {
		erase = l.T("erasure.on_withdraw")
	}
	a.ErasureLimit = l.T("erasure.limit", pu.Retention.Human(code), erase)
	if a.Special {
		a.ErasureLimit += " " + l.T("erasure.bipa", jurisdiction.BIPAYears)
	}
	return a
}

// pick is a policy text in code, or in the policy's first language.
func pick(m map[string]string, code string, p *policy.Policy) string {
	if s, ok := m[code]; ok {
		return s
	}
	return m[p.Languages[0]]
}

// recipient describes r with its transfer basis in words.
func recipient(r *policy.Recipient, l *i18n.Locale) Recipient {
	out := Recipient{ID: r.ID, Name: r.Name, Country: r.Country, Transfer: r.Transfer, ThirdCountry: !likeness.IsEEA(r.Country)}
	switch {
	case r.Transfer == jurisdiction.TransferNone:
		out.Basis = l.T("transfer.none")
	case r.Transfer != "":
		out.Basis = l.T("transfer." + r.Transfer)
	case !out.ThirdCountry:
		out.Basis = l.T("transfer.eea")
	case jurisdiction.EUAdequate(r.Country):
		out.Basis = l.T("transfer.adequacy")
	default:
		out.Basis = l.T("transfer.undeclared")
	}
	return out
}

func measures(l *i18n.Locale) []Measure {
	out := make([]Measure, 0, len(measureIDs))
	for _, id := range measureIDs {
		out = append(out, Measure{ID: id, Text: l.T("measure." + id)})
	}
	return out
}
