package mail_test

import (
	"bytes"
	"context"
	"testing"

	"golang.org/x/time/rate"

	"likeness/internal/likenesstest"
	"likeness/internal/mail"
)

// BenchmarkRequestPortalLink measures the work of one "send me a link"
// request, for an address on file and for one that is not: the two must
// cost the same (the request never looks the address up), so neither
// time nor load tells them apart. Run with
// go test -run XXX -bench RequestPortalLink -count 5 ./internal/mail
func BenchmarkRequestPortalLink(b *testing.B) {
	d := likenesstest.New(b, likenesstest.Options{})
	ctx := context.Background()
	svc, err := mail.New(mail.Config{Store: d.Store, Subjects: d.Subjects, Policy: d.Notices.Policy, Key: bytes.Repeat([]byte{1}, 32),
		AddressLimit: rate.Inf, AddressBurst: 1})
	if err != nil {
		b.Fatal(err)
	}
	sub, _, err := d.Subjects.CreateSubject(ctx, "known", "en", "EU-DE")
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Subjects.SetContact(ctx, sub.ID, "known.person@example.org"); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, addr string }{{"known", "known.person@example.org"}, {"unknown", "nobody.known@example.org"}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := svc.RequestPortalLink(ctx, c.addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
