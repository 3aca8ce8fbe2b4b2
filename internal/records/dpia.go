package records

import (
	"context"
	"fmt"
	"strings"
	"time"

	"likeness/internal/i18n"
	"likeness/internal/jurisdiction"
	"likeness/policy"
)

// ToBeCompleted marks a field of a draft that only the privacy officer can
// fill in; the draft never fills it.
const ToBeCompleted = "to be completed"

// Field is a question of the draft with its answer: the answer is given
// where likeness knows it, else it is empty and Open is set.
type Field struct {
	ID       string `json:"id"`
	Question string `json:"question"`
	Answer   string `json:"answer"`
	Open     bool   `json:"to_be_completed"`
	Status   string `json:"status,omitempty"` // ToBeCompleted when Open
}

// Risk is a risk to people that follows from what the policy declares.
type Risk struct {
	ID   string `json:"id"` // biometric, transfer, retention, recipients, sale_or_share, as_recorded
	Text string `json:"text"`
}

// Assessment is the draft DPIA of one purpose (Art. 35(7)).
type Assessment struct {
	Activity
	Necessity  []Field   `json:"necessity"` // Art. 35(7)(b)
	Risks      []Risk    `json:"risks"`     // Art. 35(7)(c)
	Measures   []Measure `json:"measures"`  // Art. 35(7)(d)
	Completion []Field   `json:"completion"`
}

// DPIA is the set of draft assessments, one per purpose that processes
// biometric or special-category data.
type DPIA struct {
	GeneratedAt time.Time    `json:"generated_at"`
	Language    string       `json:"language"`
	Controller  Controller   `json:"controller"`
	Notice      string       `json:"notice"` // that this is a draft
	Assessments []Assessment `json:"assessments"`
}

// DPIA builds the draft assessments in lang (the policy's first language
// if it does not offer lang).
func (b *Builder) DPIA(ctx context.Context, lang string) (*DPIA, error) {
	rec, err := b.Processing(ctx, lang)
	if err != nil {
		return nil, err
	}
	return draft(b.policy(), rec), nil
}

// draft is DPIA over a record already built.
func draft(p *policy.Policy, rec *Record) *DPIA {
	l, code := lang(p, rec.Language)
	d := &DPIA{GeneratedAt: rec.GeneratedAt, Language: code, Controller: rec.Controller, Notice: l.T("dpia.notice")}
	for _, a := range rec.Activities {
		if !a.Special {
			continue
		}
		pu := p.Purposes[a.Purpose]
		d.Assessments = append(d.Assessments, Assessment{Activity: a, Necessity: necessity(l, a),
			Risks: risks(l, pu, a, code), Measures: rec.Measures, Completion: completion(l)})
	}
	return d
}

func necessity(l *i18n.Locale, a Activity) []Field {
	return []Field{
		known(l, "basis", a.LegalBasis),
		open(l, "need"),
		open(l, "alternatives"),
		open(l, "minimisation"),
		{ID: "retention", Question: l.T("dpia.q.retention", a.ErasureLimit), Open: true, Status: ToBeCompleted},
		open(l, "recipients"),
		known(l, "rights", l.T("dpia.a.rights")),
	}
}

func completion(l *i18n.Locale) []Field {
	return []Field{open(l, "likelihood"), open(l, "residual"), open(l, "dpo_advice"), open(l, "views"),
		open(l, "consultation"), open(l, "decision"), open(l, "review")}
}

func open(l *i18n.Locale, id string) Field {
	return Field{ID: id, Question: l.T("dpia.q." + id), Open: true, Status: ToBeCompleted}
}

func known(l *i18n.Locale, id, answer string) Field {
	return Field{ID: id, Question: l.T("dpia.q." + id), Answer: answer}
}

// risks lists what the purpose's declarations expose people to.
func risks(l *i18n.Locale, pu *policy.Purpose, a Activity, code string) []Risk {
	var bio []string
	for _, c := range a.Categories {
		if c.Biometric {
			bio = append(bio, c.Label)
		}
	}
	out := []Risk{{ID: "biometric", Text: l.T("risk.biometric", strings.Join(bio, "; "))}}
	for _, r := range a.Recipients {
		if r.ThirdCountry {
			out = append(out, Risk{ID: "transfer", Text: l.T("risk.transfer", r.Name, r.Country, r.Basis)})
		}
	}
	text := l.T("risk.retention", pu.Retention.Human(code))
	if pu.Retention.Approx() > time.Duration(jurisdiction.BIPAYears)*365*24*time.Hour {
		text += " " + l.T("risk.retention_bipa", jurisdiction.BIPAYears)
	}
	out = append(out, Risk{ID: "retention", Text: text})
	if len(a.Recipients) > 0 {
		names := make([]string, len(a.Recipients))
		for i, r := range a.Recipients {
			names[i] = fmt.Sprintf("%s (%s)", r.Name, r.Country)
		}
		out = append(out, Risk{ID: "recipients", Text: l.T("risk.recipients", len(names), strings.Join(names, "; "))})
	}
	if pu.SaleOrShare {
		out = append(out, Risk{ID: "sale_or_share", Text: l.T("risk.sale_or_share")})
	}
	if pu.AnonymizationOrDefault().LeavesAsRecorded(pu.Data) {
		out = append(out, Risk{ID: "as_recorded", Text: l.T("risk.as_recorded")})
	}
	return out
}
