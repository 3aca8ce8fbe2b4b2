package jurisdiction

import (
	"embed"
	"strings"

	"likeness/internal/i18n"
)

//go:embed i18n/*.json
var files embed.FS

// texts are the translations of the schedule, loaded once; a file that
// does not load is a build defect, caught by the package's tests.
var texts = func() *i18n.Set {
	s, err := i18n.Load(files)
	if err != nil {
		panic("jurisdiction: " + err.Error())
	}
	return s
}()

// ScheduleEntry is what the policy says of one purpose, already rendered in
// the schedule's language: the public retention schedule BIPA requires
// (740 ILCS 14/15(a)) is built from these and the translation files.
type ScheduleEntry struct {
	Title           string   // the purpose's title
	Categories      []string // the labels of its data categories
	Retention       string   // its retention, e.g. "2 years"
	EraseOnWithdraw bool     // a withdrawal erases the data, not only stops its use
	BIPALimit       string   // BIPAYears as a duration in the language, e.g. "3 Jahre"
}

// ScheduleText renders one purpose's line of the public retention schedule
// in lang (English for a language without a translation file).
func ScheduleText(lang string, e ScheduleEntry) string {
	l := texts.Pick(lang)
	when := l.T("schedule.on_erasure")
	if e.EraseOnWithdraw {
		when = l.T("schedule.on_withdraw")
	}
	return l.T("schedule.entry", e.Title, strings.Join(e.Categories, l.T("schedule.list_separator")), e.Retention, when, e.BIPALimit)
}
