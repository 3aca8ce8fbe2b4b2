package mail_test

import (
	"bytes"

	"likeness/internal/incidents"
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
)

func incidentsFor(f *fixture) *incidents.Service {
	f.t.Helper()
	svc, err := incidents.New(incidents.Config{Store: f.d.Store, Policy: f.d.Notices.Policy, Now: f.d.Clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	return svc
}

// uploadOf is a voice recording of sub for the transcription purpose.
func uploadOf(sub string) *vault.Upload {
	return &vault.Upload{SubjectID: sub, Purpose: "voice-transcription", Category: "voice", ContentType: "audio/wav",
		Body: bytes.NewReader(likenesstest.WAV("hello", 200))}
}
