package console_test

import (
	"strings"
	"testing"

	"likeness"
)

func TestRecordsPageRendersTheRecordAndTheDrafts(t *testing.T) {
	f := newFixture(t)
	c := f.client().signedIn(likeness.RoleAuditor)
	p := c.Get("/console/records?lang=en")
	if p.Status != 200 {
		t.Fatalf("records page: %d\n%s", p.Status, p.Body)
	}
	contains(t, p, `href="/console/records" aria-current="page"`, "Record of processing activities",
		"Data protection impact assessment (draft)", "Technical and organisational security measures", "[to be completed]")
	pol := f.d.Notices.Policy()
	for _, id := range pol.PurposeIDs {
		contains(t, p, `id="act-`+id+`"`)
	}
	for _, id := range pol.RecipientIDs {
		contains(t, p, "<code class=\"small\">"+id+"</code>")
	}
	de := c.Get("/console/records?lang=de")
	contains(t, de, "Verzeichnis von Verarbeitungstätigkeiten", "Datenschutz-Folgenabschätzung (Entwurf)", "[auszufüllen]")
	if strings.Contains(de.Body, "records.") {
		t.Error("the German page shows an untranslated key")
	}
}
