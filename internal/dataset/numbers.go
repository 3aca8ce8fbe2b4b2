package dataset

import (
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer formats numbers as lang writes them ("1.200", "41,7" in German;
// "1,200", "41.7" in English). An unknown lang falls back to English.
func printer(lang string) *message.Printer {
	tag, err := language.Parse(lang)
	if err != nil {
		tag = language.English
	}
	return message.NewPrinter(tag)
}

// Percent formats a share (0–1) as a percentage with one decimal: "41.7 %"
// in English, "41,7 %" in German.
func Percent(lang string, share float64) string {
	return printer(lang).Sprintf("%.1f %%", share*100)
}

// Coverage says how many of total subjects declared an attribute: "0 of
// 120 declared", "50 von 120 angegeben (41,7 %)".
func Coverage(lang string, declared, total int) string {
	p := printer(lang)
	base, _ := language.Make(lang).Base()
	var s string
	if base.String() == "de" {
		s = p.Sprintf("%d von %d angegeben", declared, total)
	} else {
		s = p.Sprintf("%d of %d declared", declared, total)
	}
	if total > 0 && declared > 0 {
		s += " (" + Percent(lang, float64(declared)/float64(total)) + ")"
	}
	return s
}
