package subjects

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"strings"
	"unicode/utf8"

	"likeness"
	"likeness/internal/keys"
)

// MaxAddress is the longest contact address accepted (RFC 5321's limit on
// a forward path).
const MaxAddress = 254

// NormalizeAddress returns the form of an e-mail address that is hashed
// and kept: trimmed and lower-cased, a bare addr-spec ("a@b.example", no
// display name). EINVALID if it is not one.
func NormalizeAddress(addr string) (string, error) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	bad := likeness.Errorf(likeness.EINVALID, "contact address is not a valid e-mail address (name@example.com, at most %d characters)", MaxAddress)
	if addr == "" || len(addr) > MaxAddress || !utf8.ValidString(addr) || strings.ContainsAny(addr, "<>\"\\ \t\r\n,;") {
		return "", bad
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return "", bad
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", bad
	}
	return addr, nil
}

// ContactHash is the keyed hash under which a contact address is found:
// HMAC-SHA256 under the lookup key, in a domain of its own so it can never
// equal the hash of a user id. addr must be normalized (NormalizeAddress).
// It costs the same for every address, known or not.
func (r *Registry) ContactHash(addr string) string {
	m := hmac.New(sha256.New, r.lookupKey)
	m.Write([]byte("contact-email\x00"))
	m.Write([]byte(addr))
	return hex.EncodeToString(m.Sum(nil))
}

func contactAD(id string) []byte { return []byte("contact:" + id) }

// SetContact keeps addr as the subject's contact address: its keyed hash
// for look-ups, the address itself sealed under the subject's key, so that
// erasure shreds it with everything else. EINVALID for an address that is
// not one, ENOTFOUND or EGONE for a subject that is absent or erased.
func (r *Registry) SetContact(ctx context.Context, id, addr string) error {
	addr, err := NormalizeAddress(addr)
	if err != nil {
		return err
	}
	sub, err := r.Subject(ctx, id)
	if err != nil {
		return err
	}
	dek, err := r.unwrapKey(ctx, sub.ID)
	if err != nil {
		return err
	}
	defer keys.Wipe(dek)
	sealed, err := keys.Seal(dek, []byte(addr), contactAD(sub.ID), r.rand)
	if err != nil {
		return err
	}
	return r.store.SetSubjectContact(ctx, sub.ID, r.ContactHash(addr), sealed)
}

// ClearContact forgets the subject's contact address.
func (r *Registry) ClearContact(ctx context.Context, id string) error {
	sub, err := r.Subject(ctx, id)
	if err != nil {
		return err
	}
	return r.store.SetSubjectContact(ctx, sub.ID, "", nil)
}

// Contact returns the subject's contact address, opened with their key:
// ENOTFOUND if none is on file, EGONE once the subject is erased (the key
// and the address are gone). Callers must not log or store it.
func (r *Registry) Contact(ctx context.Context, id string) (string, error) {
	sealed, err := r.store.SubjectContact(ctx, id)
	if err != nil {
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			if sub, serr := r.store.Subject(ctx, id); serr == nil && sub.Erased() {
				return "", likeness.Errorf(likeness.EGONE, "subject was erased")
			}
		}
		return "", err
	}
	dek, err := r.unwrapKey(ctx, id)
	if err != nil {
		return "", err
	}
	defer keys.Wipe(dek)
	addr, err := keys.Open(dek, sealed, contactAD(id))
	if err != nil {
		return "", err
	}
	return string(addr), nil
}

// SubjectsByContact returns the subjects (not erased) whose contact address
// has hash (ContactHash); none is an empty slice.
func (r *Registry) SubjectsByContact(ctx context.Context, hash string) ([]*likeness.Subject, error) {
	return r.store.SubjectsByContactHash(ctx, hash)
}
