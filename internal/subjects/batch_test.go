package subjects_test

import (
	"context"
	"path/filepath"
	"testing"

	"likeness"
	"likeness/internal/keys"
	"likeness/internal/sqlstore"
	"likeness/internal/subjects"
)

// EnsureSubjects answers each entry as CreateSubject would: a person asked
// for twice is created once, a stored one is found, a bad entry fails alone,
// and the key of a person it creates seals what a later Cipher opens.
func TestEnsureSubjectsAnswersEachEntryAsCreateSubject(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	kek, _, err := keys.OpenLocal(filepath.Join(dir, "kek.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := subjects.New(ctx, subjects.Config{Store: store, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := r.CreateSubject(ctx, "old", "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.EnsureSubjects(ctx, []subjects.NewSubject{
		{ExternalID: "new", Jurisdiction: "US-IL", Guardian: true},
		{ExternalID: "old", Jurisdiction: "GB"},
		{ExternalID: "", Jurisdiction: "EU-DE"},
		{ExternalID: "new", Jurisdiction: "EU-FR"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if e.Cipher != nil {
			defer e.Cipher.Close()
		}
	}
	if e := got[0]; e.Err != nil || !e.Created || e.Cipher == nil || !e.Subject.Guardian || e.Subject.Locale != "en" || e.Subject.Jurisdiction != "US-IL" {
		t.Fatalf("new person: %+v", e)
	}
	if e := got[1]; e.Err != nil || e.Created || e.Cipher != nil || e.Subject.ID != old.ID || e.Subject.Jurisdiction != "EU-DE" {
		t.Fatalf("stored person: %+v (its stored fields are kept, as CreateSubject keeps them)", e)
	}
	if likeness.ErrorCode(got[2].Err) != likeness.EINVALID {
		t.Fatalf("entry without an external id: %v", got[2].Err)
	}
	if e := got[3]; e.Err != nil || e.Created || e.Subject.ID != got[0].Subject.ID {
		t.Fatalf("the same new person asked for again: %+v", e)
	}
	found, err := r.SubjectByExternalID(ctx, "new")
	if err != nil || found.ID != got[0].Subject.ID {
		t.Fatalf("SubjectByExternalID = %v, %v", found, err)
	}
	sealed, err := got[0].Cipher.Seal([]byte("evidence"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Cipher(ctx, got[0].Subject.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if plain, err := c.Open(sealed, []byte("ad")); err != nil || string(plain) != "evidence" {
		t.Fatalf("the stored key does not open what the returned key sealed: %q, %v", plain, err)
	}
}
