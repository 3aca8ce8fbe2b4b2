package mail

import (
	"time"

	"likeness"
	"likeness/internal/i18n"
	"likeness/policy"
)

// draft is a composed mail before its headers: who it goes to, in which
// language, its subject line and its paragraphs. A paragraph that is a
// URL alone becomes a link in the HTML part.
type draft struct {
	To         string   `json:"to"`
	Locale     string   `json:"locale"`
	Subject    string   `json:"subject"`
	Paragraphs []string `json:"paragraphs"`
}

// locale picks the mail language for a person's locale ("de-AT" is
// German), English when there is no file for it.
func (s *Service) locale(code string) *i18n.Locale { return s.tr.Pick(code) }

// day formats a date in a mail ("2026-11-23").
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// purposeTitle is a purpose's title in lang, else in the policy's default
// language, else its id.
func purposeTitle(p *policy.Policy, id, lang string) string {
	pu, ok := p.Purpose(id)
	if !ok {
		return id
	}
	if t := pu.Title[lang]; t != "" {
		return t
	}
	if len(p.Languages) > 0 {
		if t := pu.Title[p.Languages[0]]; t != "" {
			return t
		}
	}
	return id
}

// newDraft starts a mail to addr in l with its greeting.
func newDraft(addr string, l *i18n.Locale, subject string) *draft {
	return &draft{To: addr, Locale: l.Code, Subject: subject, Paragraphs: []string{l.T("greeting")}}
}

func (d *draft) add(paragraphs ...string) *draft {
	d.Paragraphs = append(d.Paragraphs, paragraphs...)
	return d
}

// sign ends a mail with whom to ask and why it came.
func (d *draft) sign(l *i18n.Locale, org policy.Organization) *draft {
	d.add(org.Name)
	if org.Contact != "" {
		d.add(l.T("footer.contact", org.Contact))
	}
	if org.DPO != "" {
		d.add(l.T("footer.dpo", org.DPO))
	}
	return d.add(l.T("footer.auto", org.Name))
}

// reachURL is the page where a person asks for a portal link.
func reachURL(base string) string { return base + "/me/link" }

func (s *Service) portalLinkDraft(addr string, l *i18n.Locale, linkURL string) *draft {
	org := s.cfg.Policy().Organization
	return newDraft(addr, l, l.T("portal_link.subject", org.Name)).
		add(l.T("portal_link.intro", org.Name), l.T("portal_link.open", int(s.cfg.LinkTTL/time.Minute)), linkURL,
			l.T("portal_link.ignore")).
		sign(l, org)
}

func (s *Service) renewalDraft(addr string, l *i18n.Locale, d likeness.MailRenewalData, base string) *draft {
	p := s.cfg.Policy()
	title := purposeTitle(p, d.Purpose, l.Code)
	return newDraft(addr, l, l.T("renewal.subject", title, day(d.Expires))).
		add(l.T("renewal.body", p.Organization.Name, title, day(d.Expires)), l.T("renewal.choice", p.Organization.Name),
			l.T("renewal.how"), reachURL(base)).
		sign(l, p.Organization)
}

func (s *Service) breachDraft(addr string, l *i18n.Locale, d likeness.IncidentSubjectNoticeData, base string) *draft {
	org := s.cfg.Policy().Organization
	dr := newDraft(addr, l, l.T("breach.subject", org.Name)).
		add(l.T("breach.body", org.Name, day(d.DetectedAt)), l.T("breach.what", d.Title))
	if d.Description != "" {
		dr.add(d.Description)
	}
	return dr.add(l.T("breach.scope", len(d.AssetIDs)), l.T("breach.advice"), l.T("breach.portal"), reachURL(base)).
		sign(l, org)
}

func (s *Service) withdrawalDraft(addr string, l *i18n.Locale, d likeness.ConsentMessageData, base string) *draft {
	p := s.cfg.Policy()
	title := purposeTitle(p, d.Purpose, l.Code)
	dr := newDraft(addr, l, l.T("withdrawal.subject", title)).
		add(l.T("withdrawal.body", day(d.Time), title, p.Organization.Name))
	if pu, ok := p.Purpose(d.Purpose); ok && !pu.ErasesOnWithdraw() {
		dr.add(l.T("withdrawal.kept"))
	} else {
		dr.add(l.T("withdrawal.erased"))
	}
	return dr.add(l.T("withdrawal.portal"), reachURL(base)).sign(l, p.Organization)
}

func (s *Service) erasureDraft(addr string, l *i18n.Locale, rec *likeness.ErasureRecord) *draft {
	org := s.cfg.Policy().Organization
	return newDraft(addr, l, l.T("erasure.subject", org.Name)).
		add(l.T("erasure.body", day(rec.RequestedAt), org.Name), l.T("erasure.proof", rec.LedgerIndex), l.T("erasure.last")).
		sign(l, org)
}
