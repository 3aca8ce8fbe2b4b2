package operators

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters. They are written into every hash,
// so raising them later leaves old hashes verifiable.
type Params struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultParams are OWASP's argon2id minimum (t=2, 19 MiB, one thread),
// measured at 45–110 ms per hash on this project's two-core machines
// (t=2 with 64 MiB took 0.37 s there): slow for a guesser, quick for a
// person signing in.
var DefaultParams = Params{Time: 2, Memory: 19 << 10, Threads: 1}

const (
	saltSize = 16
	hashSize = 32
)

var b64 = base64.RawStdEncoding

// HashPassword returns the PHC string form of password's argon2id hash:
// $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func HashPassword(password string, p Params) (string, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, hashSize)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

var errBadHash = errors.New("operators: malformed password hash")

// CheckPassword reports whether password matches the stored hash, with
// the parameters the hash names, comparing in constant time.
func CheckPassword(stored, password string) (bool, error) {
	f := strings.Split(stored, "$")
	if len(f) != 6 || f[1] != "argon2id" || f[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errBadHash
	}
	var p Params
	if _, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Time == 0 || p.Threads == 0 {
		return false, errBadHash
	}
	salt, err1 := b64.DecodeString(f[4])
	want, err2 := b64.DecodeString(f[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
