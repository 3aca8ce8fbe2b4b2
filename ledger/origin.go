package ledger

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
)

// deploymentIDBytes is the length of the random deployment id: 64 bits make
// two deployments sharing an origin vanishingly unlikely.
const deploymentIDBytes = 8

// NewOrigin returns a checkpoint origin (the key name) unique to one
// deployment: "<name>/<deployment id>", the id 16 lowercase hex digits read
// from rand (crypto/rand if nil). Two deployments of one policy, which share
// a name, so get distinct origins, and a checkpoint of one cannot pass for
// the other's. Make it once, at the first start, and store it: the origin is
// part of the verifier key. name must be a valid note key name (no spaces,
// no '+').
//
// NewOrigin panics if r fails: like crypto/rand, a source of randomness
// that fails is not recoverable, and an origin without its random part would
// defeat its purpose.
func NewOrigin(name string, r io.Reader) string {
	if r == nil {
		r = rand.Reader
	}
	id := make([]byte, deploymentIDBytes)
	if _, err := io.ReadFull(r, id); err != nil {
		panic("ledger: new origin: read random deployment id: " + err.Error())
	}
	return name + "/" + hex.EncodeToString(id)
}

// SplitOrigin returns the name and deployment id of an origin made by
// NewOrigin; ok is false for an origin without a deployment id (one made
// before origins carried it).
func SplitOrigin(origin string) (name, deploymentID string, ok bool) {
	i := strings.LastIndexByte(origin, '/')
	if i <= 0 {
		return origin, "", false
	}
	id := origin[i+1:]
	if len(id) != 2*deploymentIDBytes || strings.Trim(id, "0123456789abcdef") != "" {
		return origin, "", false
	}
	return origin[:i], id, true
}
