package subjects

import (
	"io"

	"likeness/internal/keys"
)

// Cipher encrypts and decrypts one subject's data under their data key,
// which it holds until Close wipes it. Keep one no longer than the operation
// that needs it. Safe for concurrent use until Close.
type Cipher struct {
	dek  []byte
	rand io.Reader
}

// Seal encrypts a small field bound to ad (see [keys.Seal]).
func (c *Cipher) Seal(plaintext, ad []byte) ([]byte, error) {
	return keys.Seal(c.dek, plaintext, ad, c.rand)
}

// Open decrypts a field made by Seal with the same ad (see [keys.Open]).
func (c *Cipher) Open(sealed, ad []byte) ([]byte, error) {
	return keys.Open(c.dek, sealed, ad)
}

// EncryptWriter encrypts a blob bound to ad into dst (see
// [keys.EncryptWriter]). The writer keeps what it needs: the Cipher may be
// closed before the stream ends.
func (c *Cipher) EncryptWriter(ad []byte, dst io.Writer) (io.WriteCloser, error) {
	return keys.EncryptWriter(c.dek, ad, dst)
}

// DecryptReader decrypts a blob made by EncryptWriter with the same ad (see
// [keys.DecryptReader]). The Cipher may be closed once it returns.
func (c *Cipher) DecryptReader(ad []byte, src io.Reader) (io.Reader, error) {
	return keys.DecryptReader(c.dek, ad, src)
}

// Close wipes the key. Calling it again does nothing.
func (c *Cipher) Close() {
	keys.Wipe(c.dek)
}
