package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"likeness/internal/jurisdiction"
)

// Notice is the subject-facing rendering of a policy in one language. Text
// is canonical: a consent records the notice's SHA256, so the same policy
// and language must always give byte-identical Text.
type Notice struct {
	Version      int64           `json:"version"` // set by the caller from stored versions; Notice leaves 0
	SHA256       string          `json:"sha256"`  // hex SHA-256 of Text
	Language     string          `json:"language"`
	Organization Organization    `json:"organization"`
	Purposes     []NoticePurpose `json:"purposes"`
	Rights       []string        `json:"rights"`
	Text         string          `json:"text"`
}

// NoticePurpose is one purpose as the notice presents it.
type NoticePurpose struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Data        []string          `json:"data"` // category ids; see CategoryLabel
	Recipients  []NoticeRecipient `json:"recipients"`
	Retention   string            `json:"retention"`   // human, in the notice's language
	RenewEvery  string            `json:"renew_every"` // human; "" if none
	SaleOrShare bool              `json:"sale_or_share"`
	Material    string            `json:"material"` // Policy.Material fingerprint
	// OnWithdraw is what a withdrawal does to the data collected for the
	// purpose ("erase" or "keep"); OnWithdrawText says it as a sentence, with
	// the legal basis and reason of a keep, in the notice's language.
	OnWithdraw     string `json:"on_withdraw"`
	OnWithdrawText string `json:"on_withdraw_text"`
}

// NoticeRecipient is one recipient as the notice presents it.
type NoticeRecipient struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Country  string `json:"country"`
	Transfer string `json:"transfer"`
}

// ErrUnknownLanguage is returned (wrapped) by Notice for a language the
// policy does not offer; an API should answer it with a 4xx.
var ErrUnknownLanguage = errors.New("policy: language not offered")

// Notice renders the notice in lang, which must be one of p.Languages; ""
// means the default (first) language.
func (p *Policy) Notice(lang string) (*Notice, error) {
	if lang == "" && len(p.Languages) > 0 {
		lang = p.Languages[0]
	}
	if !p.HasLanguage(lang) {
		return nil, fmt.Errorf("%w: %q (offered: %s)", ErrUnknownLanguage, lang, strings.Join(p.Languages, ", "))
	}
	l := labelsFor(lang)
	n := &Notice{Language: lang, Organization: p.Organization, Purposes: []NoticePurpose{}}
	for _, id := range p.PurposeIDs {
		pu := p.Purposes[id]
		np := NoticePurpose{
			ID:          id,
			Title:       pu.Title[lang],
			Description: pu.Description[lang],
			Data:        slices.Clone(pu.Data),
			Recipients:  []NoticeRecipient{},
			Retention:   pu.Retention.Human(lang),
			SaleOrShare: pu.SaleOrShare,
			Material:    p.Material(id),
			OnWithdraw:  pu.OnWithdraw,
		}
		np.OnWithdrawText = sentence(l.onWithdrawText(pu))
		if !pu.RenewEvery.IsZero() {
			np.RenewEvery = pu.RenewEvery.Human(lang)
		}
		for _, rid := range pu.Recipients {
			r := p.Recipients[rid]
			if r == nil {
				r = &Recipient{ID: rid}
			}
			np.Recipients = append(np.Recipients, NoticeRecipient(*r))
		}
		n.Purposes = append(n.Purposes, np)
	}
	n.Rights = p.rights(l, lang)
	n.Text = p.render(n, l)
	sum := sha256.Sum256([]byte(n.Text))
	n.SHA256 = hex.EncodeToString(sum[:])
	return n, nil
}

// rights lists the person's rights; the US ones only where they apply.
func (p *Policy) rights(l *labels, lang string) []string {
	r := slices.Clone(l.rights)
	var sells, biometric bool
	for _, pu := range p.Purposes {
		sells = sells || pu.SaleOrShare
		for _, d := range pu.Data {
			biometric = biometric || jurisdiction.Biometric(d)
		}
	}
	if sells {
		r = append(r, l.rightOptOut)
	}
	if biometric {
		r = append(r, fmt.Sprintf(l.rightBIPA, Duration{Years: jurisdiction.BIPAYears}.Human(lang)))
	}
	return r
}

// render writes the notice's text with l's labels. It is kept as one
// function because it reads top to bottom in the order of the notice it
// prints, one section after another.
func (p *Policy) render(n *Notice, l *labels) string {
	var b strings.Builder
	line := func(indent, s string) {
		// Texts from the file may span lines; keep them under their label.
		b.WriteString(indent)
		b.WriteString(strings.ReplaceAll(s, "\n", "\n"+indent))
		b.WriteByte('\n')
	}
	o := p.Organization
	line("", fmt.Sprintf(l.heading, o.Name))
	b.WriteByte('\n')
	line("", fmt.Sprintf(l.intro, o.Name))
	b.WriteByte('\n')

	line("", l.who)
	who := o.Name
	if o.Country != "" {
		who += ", " + l.country(o.Country)
	}
	line("  ", who)
	line("  ", l.contact+": "+o.Contact)
	if o.DPO != "" {
		line("  ", l.dpo+": "+o.DPO)
	}
	b.WriteByte('\n')

	line("", l.purposes)
	for i, np := range n.Purposes {
		pu := p.Purposes[np.ID]
		b.WriteByte('\n')
		line("", fmt.Sprintf("%d. %s", i+1, np.Title))
		const in = "   "
		line(in, l.purposeID+": "+np.ID)
		line(in, l.why+": "+np.Description)
		var cats []string
		for _, d := range np.Data {
			cats = append(cats, l.category(d))
		}
		line(in, l.what+": "+strings.Join(cats, "; "))
		if len(np.Recipients) == 0 {
			line(in, l.recipients+": "+fmt.Sprintf(l.noRecipients, o.Name))
		} else {
			line(in, l.recipients+":")
			for _, r := range np.Recipients {
				s := "- " + r.Name + ", " + l.country(r.Country)
				if t := l.transfer(r.Transfer, r.Country != o.Country && o.Country != ""); t != "" {
					s += "; " + t
				}
				line(in, s)
			}
		}
		line(in, l.retention+": "+fmt.Sprintf(l.retentionText, np.Retention))
		if np.RenewEvery != "" {
			line(in, l.renewal+": "+fmt.Sprintf(l.renewalText, np.RenewEvery))
		}
		if np.SaleOrShare {
			line(in, l.sale+": "+l.saleYes)
		} else {
			line(in, l.sale+": "+l.saleNo)
		}
		line(in, l.onWithdraw+": "+l.onWithdrawText(pu))
		if pu.Anonymization != nil || slices.Contains(pu.Data, "image") || slices.Contains(pu.Data, "voice") {
			a := pu.AnonymizationOrDefault()
			var parts []string
			switch a.Faces {
			case "blur_all":
				parts = append(parts, l.blurAll)
			case "blur_bystanders":
				parts = append(parts, l.blurBystanders)
			}
			if a.Voice == "mcadams" {
				parts = append(parts, l.mcadams)
			}
			if a.LeavesAsRecorded(pu.Data) {
				parts = append(parts, fmt.Sprintf(l.asRecorded, a.Reason))
			}
			parts = append(parts, fmt.Sprintf(l.kAnon, a.K))
			line(in, l.anonymization+": "+strings.Join(parts, " "))
		}
	}
	b.WriteByte('\n')

	line("", l.rightsHeading)
	for _, r := range n.Rights {
		line("", "- "+r)
	}
	b.WriteByte('\n')

	line("", l.withdrawHeading)
	line("", fmt.Sprintf(l.withdrawHow, o.Contact))
	b.WriteByte('\n')

	line("", l.questions)
	if o.DPO != "" {
		line("", fmt.Sprintf(l.questionsDPO, o.Contact, o.DPO))
	} else {
		line("", fmt.Sprintf(l.questionsText, o.Contact))
	}
	return b.String()
}

// CategoryLabel names a data category for people in lang ("de" or English).
func CategoryLabel(category, lang string) string { return labelsFor(lang).category(category) }

type labels struct {
	heading, intro, who, contact, dpo, purposes                          string
	purposeID, why, what, recipients, noRecipients                       string
	retention, retentionText, renewal, renewalText                       string
	sale, saleYes, saleNo                                                string
	onWithdraw, withdrawKeep, withdrawErase                              string
	keepBases                                                            map[string]string
	anonymization, blurAll, blurBystanders, mcadams, kAnon, asRecorded   string
	rightsHeading, rightOptOut, rightBIPA                                string
	rights                                                               []string
	withdrawHeading, withdrawHow, questions, questionsText, questionsDPO string
	categories                                                           map[string]string
	transfers                                                            map[string]string
	adequacy                                                             string
	countries                                                            map[string]string
}

func labelsFor(lang string) *labels {
	if lang == "de" {
		return &deLabels
	}
	return &enLabels
}

// onWithdrawText says what a withdrawal of pu does to its data, to follow
// the "If you withdraw" label.
func (l *labels) onWithdrawText(pu *Purpose) string {
	if pu.ErasesOnWithdraw() {
		return l.withdrawErase
	}
	return fmt.Sprintf(l.withdrawKeep, l.keepBases[pu.KeepBasis], pu.KeepReason)
}

// sentence starts s with a capital letter.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func (l *labels) category(c string) string {
	if s, ok := l.categories[c]; ok {
		return s
	}
	return c
}

// country gives "Germany (DE)", or just the code for a country we have no
// name for.
func (l *labels) country(code string) string {
	if name, ok := l.countries[code]; ok {
		return name + " (" + code + ")"
	}
	return code
}

// transfer describes the safeguard for a recipient; abroad says whether
// the recipient is in another country than the organization.
func (l *labels) transfer(t string, abroad bool) string {
	if t == "" {
		if abroad {
			return l.adequacy
		}
		return ""
	}
	return l.transfers[t]
}

var enLabels = labels{
	heading:       "Privacy notice: %s",
	intro:         "%s would like to use recordings of your voice and images of you. We do so only with your consent, which you give separately for each purpose below. You can agree to some purposes and not to others, and you can withdraw your consent at any time.",
	who:           "Who is responsible",
	contact:       "Contact",
	dpo:           "Data protection officer",
	purposes:      "What we ask your consent for",
	purposeID:     "Purpose id",
	why:           "Why",
	what:          "What we collect",
	recipients:    "Who receives it",
	noRecipients:  "no one outside %s",
	retention:     "How long we keep it",
	retentionText: "at most %s from collection; then we delete it.",
	renewal:       "Renewal",
	renewalText:   "your consent lasts %s; we will then ask you to confirm it again, and if you do not, it ends.",
	sale:          "Sale or sharing",
	saleYes:       "we sell or share this data with third parties (CCPA). You can opt out at any time; we treat a Global Privacy Control signal from your browser as an opt-out.",
	saleNo:        "we do not sell this data or share it for advertising.",
	onWithdraw:    "If you withdraw",
	withdrawKeep:  "we stop using your data for this purpose at once. We keep the recordings and photos collected for it until the end of the period above because of %s: %s",
	withdrawErase: "we stop using your data for this purpose at once and erase the recordings and photos collected for it, with everything derived from them.",
	keepBases: map[string]string{
		"contract":             "our contract with you (GDPR Art. 6(1)(b))",
		"legal_obligation":     "a legal obligation (GDPR Art. 6(1)(c))",
		"public_task":          "a task in the public interest (GDPR Art. 6(1)(e))",
		"legitimate_interests": "our legitimate interests (GDPR Art. 6(1)(f))",
	},
	anonymization:  "Anonymisation",
	blurAll:        "Faces are blurred before use.",
	blurBystanders: "Faces of other people in the picture are blurred.",
	mcadams:        "Voices are anonymised (McAdams method) before use.",
	kAnon:          "Data sets built from this data satisfy k-anonymity with k = %d.",
	asRecorded:     "Faces or voices in this data are used as recorded, without anonymisation, because: %s",
	rightsHeading:  "Your rights",
	rights: []string{
		"Access: you can ask which of your recordings, images and related data we hold, and get a copy.",
		"Rectification: you can have incorrect data about you corrected.",
		"Erasure: you can ask us to erase your data; we then also erase its copies and everything derived from it.",
		"Withdrawal: you can withdraw any consent at any time, as easily as you gave it. Withdrawal does not affect what was lawfully done before it.",
		"Portability: you can receive your data in a common machine-readable format and have it passed on to another provider.",
		"Complaint: you can complain to a data protection supervisory authority, in particular in the country where you live or work.",
	},
	rightOptOut:     "California (CCPA/CPRA): you can tell us not to sell or share your personal information; we treat a Global Privacy Control signal as that request.",
	rightBIPA:       "Illinois (BIPA): we collect biometric identifiers and information only with your written release, and destroy them once the purpose is fulfilled or within %s of your last interaction with us, whichever comes first.",
	withdrawHeading: "How to withdraw",
	withdrawHow:     "You can withdraw each consent at any time in your privacy portal, or by writing to %s. It takes effect immediately.",
	questions:       "Questions",
	questionsText:   "Write to %s.",
	questionsDPO:    "Write to %s, or to our data protection officer at %s.",
	categories: map[string]string{
		"voice":              "voice recordings",
		"image":              "photos and other images of you",
		"video":              "video recordings",
		"biometric_template": "biometric templates (face or voice prints derived from your images or recordings)",
		"transcript":         "transcripts of your recordings",
	},
	transfers: map[string]string{
		jurisdiction.TransferSCC:  "transfer safeguard: standard contractual clauses",
		jurisdiction.TransferBCR:  "transfer safeguard: binding corporate rules",
		jurisdiction.TransferDPF:  "transfer safeguard: EU-U.S. Data Privacy Framework",
		jurisdiction.TransferNone: "no adequacy decision or safeguard: your explicit consent is the only basis, and your data may be less protected there",
	},
	adequacy: "transfer based on an adequacy decision",
	countries: map[string]string{
		"AT": "Austria", "AU": "Australia", "BE": "Belgium", "BR": "Brazil", "CA": "Canada",
		"CH": "Switzerland", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark", "ES": "Spain",
		"FI": "Finland", "FR": "France", "GB": "United Kingdom", "IE": "Ireland", "IN": "India",
		"IT": "Italy", "JP": "Japan", "LU": "Luxembourg", "NL": "Netherlands", "NO": "Norway",
		"PL": "Poland", "PT": "Portugal", "SE": "Sweden", "SG": "Singapore", "US": "United States",
	},
}

var deLabels = labels{
	heading:       "Datenschutzhinweise: %s",
	intro:         "%s möchte Aufnahmen Ihrer Stimme und Bilder von Ihnen verwenden. Das geschieht nur mit Ihrer Einwilligung, die Sie für jeden der folgenden Zwecke einzeln erteilen. Sie können einigen Zwecken zustimmen und anderen nicht, und Sie können Ihre Einwilligung jederzeit widerrufen.",
	who:           "Verantwortlich",
	contact:       "Kontakt",
	dpo:           "Datenschutzbeauftragter",
	purposes:      "Wofür wir um Ihre Einwilligung bitten",
	purposeID:     "Kennung des Zwecks",
	why:           "Wozu",
	what:          "Welche Daten",
	recipients:    "Empfänger",
	noRecipients:  "niemand außerhalb von %s",
	retention:     "Speicherdauer",
	retentionText: "höchstens %s ab der Erhebung; danach löschen wir die Daten.",
	renewal:       "Erneuerung",
	renewalText:   "Ihre Einwilligung gilt %s; danach bitten wir Sie, sie erneut zu bestätigen. Ohne Bestätigung endet sie.",
	sale:          "Verkauf oder Weitergabe",
	saleYes:       "Wir verkaufen diese Daten an Dritte oder geben sie an Dritte weiter (CCPA). Sie können dem jederzeit widersprechen; ein Global-Privacy-Control-Signal Ihres Browsers behandeln wir als Widerspruch.",
	saleNo:        "Wir verkaufen diese Daten nicht und geben sie nicht zu Werbezwecken weiter.",
	onWithdraw:    "Wenn Sie widerrufen",
	withdrawKeep:  "Wir verwenden Ihre Daten sofort nicht mehr für diesen Zweck. Die dafür erhobenen Aufnahmen und Fotos bewahren wir bis zum Ende der oben genannten Speicherdauer auf, aufgrund %s: %s",
	withdrawErase: "Wir verwenden Ihre Daten sofort nicht mehr für diesen Zweck und löschen die dafür erhobenen Aufnahmen und Fotos mit allem, was daraus abgeleitet wurde.",
	keepBases: map[string]string{
		"contract":             "unseres Vertrags mit Ihnen (Art. 6 Abs. 1 lit. b DSGVO)",
		"legal_obligation":     "einer rechtlichen Verpflichtung (Art. 6 Abs. 1 lit. c DSGVO)",
		"public_task":          "einer Aufgabe im öffentlichen Interesse (Art. 6 Abs. 1 lit. e DSGVO)",
		"legitimate_interests": "unserer berechtigten Interessen (Art. 6 Abs. 1 lit. f DSGVO)",
	},
	anonymization:  "Anonymisierung",
	blurAll:        "Gesichter werden vor der Verwendung unkenntlich gemacht.",
	blurBystanders: "Gesichter anderer Personen im Bild werden unkenntlich gemacht.",
	mcadams:        "Stimmen werden vor der Verwendung anonymisiert (McAdams-Verfahren).",
	kAnon:          "Daraus erstellte Datensätze erfüllen k-Anonymität mit k = %d.",
	asRecorded:     "Gesichter oder Stimmen in diesen Daten werden unverändert, ohne Anonymisierung, verwendet. Begründung: %s",
	rightsHeading:  "Ihre Rechte",
	rights: []string{
		"Auskunft: Sie können erfahren, welche Aufnahmen, Bilder und zugehörigen Daten wir von Ihnen speichern, und eine Kopie erhalten.",
		"Berichtigung: Sie können unrichtige Daten über Sie berichtigen lassen.",
		"Löschung: Sie können verlangen, dass wir Ihre Daten löschen; wir löschen dann auch Kopien und alles, was daraus abgeleitet wurde.",
		"Widerruf: Sie können jede Einwilligung jederzeit widerrufen, so einfach, wie Sie sie erteilt haben. Die Rechtmäßigkeit der bis dahin erfolgten Verarbeitung bleibt davon unberührt.",
		"Datenübertragbarkeit: Sie können Ihre Daten in einem gängigen, maschinenlesbaren Format erhalten und an einen anderen Anbieter übermitteln lassen.",
		"Beschwerde: Sie können sich bei einer Datenschutz-Aufsichtsbehörde beschweren, insbesondere in dem Land, in dem Sie leben oder arbeiten.",
	},
	rightOptOut:     "Kalifornien (CCPA/CPRA): Sie können uns untersagen, Ihre personenbezogenen Daten zu verkaufen oder weiterzugeben; ein Global-Privacy-Control-Signal behandeln wir als eine solche Aufforderung.",
	rightBIPA:       "Illinois (BIPA): Biometrische Merkmale und Informationen erheben wir nur mit Ihrer schriftlichen Einwilligung und vernichten sie, sobald der Zweck erfüllt ist, spätestens aber %s nach Ihrem letzten Kontakt mit uns.",
	withdrawHeading: "So widerrufen Sie",
	withdrawHow:     "Sie können jede Einwilligung jederzeit in Ihrem Datenschutzportal widerrufen oder mit einer Nachricht an %s. Der Widerruf wirkt sofort.",
	questions:       "Fragen",
	questionsText:   "Schreiben Sie an %s.",
	questionsDPO:    "Schreiben Sie an %s oder an unseren Datenschutzbeauftragten unter %s.",
	categories: map[string]string{
		"voice":              "Sprachaufnahmen",
		"image":              "Fotos und andere Bilder von Ihnen",
		"video":              "Videoaufnahmen",
		"biometric_template": "biometrische Merkmale (aus Ihren Bildern oder Aufnahmen abgeleitete Gesichts- oder Stimmprofile)",
		"transcript":         "Transkripte Ihrer Aufnahmen",
	},
	transfers: map[string]string{
		jurisdiction.TransferSCC:  "Garantie für die Übermittlung: Standardvertragsklauseln",
		jurisdiction.TransferBCR:  "Garantie für die Übermittlung: verbindliche interne Datenschutzvorschriften",
		jurisdiction.TransferDPF:  "Garantie für die Übermittlung: EU-US-Datenschutzrahmen (Data Privacy Framework)",
		jurisdiction.TransferNone: "ohne Angemessenheitsbeschluss oder geeignete Garantien: Grundlage ist allein Ihre ausdrückliche Einwilligung, und Ihre Daten sind dort möglicherweise weniger geschützt",
	},
	adequacy: "Übermittlung auf Grundlage eines Angemessenheitsbeschlusses",
	countries: map[string]string{
		"AT": "Österreich", "AU": "Australien", "BE": "Belgien", "BR": "Brasilien", "CA": "Kanada",
		"CH": "Schweiz", "CZ": "Tschechien", "DE": "Deutschland", "DK": "Dänemark", "ES": "Spanien",
		"FI": "Finnland", "FR": "Frankreich", "GB": "Vereinigtes Königreich", "IE": "Irland", "IN": "Indien",
		"IT": "Italien", "JP": "Japan", "LU": "Luxemburg", "NL": "Niederlande", "NO": "Norwegen",
		"PL": "Polen", "PT": "Portugal", "SE": "Schweden", "SG": "Singapur", "US": "Vereinigte Staaten",
	},
}
