package decision

// Ids made by likeness.NewID are a prefix, "_", and 26 base32 characters
// (alphabet a-z2-7, no padding) encoding 16 random bytes. The index keys
// subjects and assets with such ids by the 16 bytes, which halves the key,
// keeps it out of the garbage collector's sight and hashes faster than the
// string. Only the canonical encoding is accepted (the last character's two
// unused bits are zero), so two distinct strings never share a key; any other
// id is indexed by its string.

const keyAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// key is the 16 bytes of a NewID-shaped id.
type key [16]byte

var keyValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := range len(keyAlphabet) {
		t[keyAlphabet[i]] = byte(i)
	}
	return t
}()

// parseKey decodes id if it is prefix + "_" + 26 canonical base32 characters.
func parseKey(prefix, id string) (k key, ok bool) {
	if len(id) != len(prefix)+27 || id[len(prefix)] != '_' || id[:len(prefix)] != prefix {
		return k, false
	}
	s := id[len(prefix)+1:]
	for g := range 3 {
		var v uint64
		bad := byte(0)
		for _, c := range []byte(s[g*8 : g*8+8]) {
			d := keyValue[c]
			bad |= d
			v = v<<5 | uint64(d&31)
		}
		if bad > 31 {
			return k, false
		}
		k[g*5], k[g*5+1], k[g*5+2], k[g*5+3], k[g*5+4] = byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	c0, c1 := keyValue[s[24]], keyValue[s[25]]
	if c0|c1 > 31 || c1&3 != 0 {
		return k, false
	}
	k[15] = c0<<3 | c1>>2
	return k, true
}

// format returns prefix + "_" + the base32 text of k: the inverse of parseKey.
func (k key) format(prefix string) string {
	b := make([]byte, 0, len(prefix)+27)
	b = append(b, prefix...)
	b = append(b, '_')
	for g := range 3 {
		v := uint64(k[g*5])<<32 | uint64(k[g*5+1])<<24 | uint64(k[g*5+2])<<16 | uint64(k[g*5+3])<<8 | uint64(k[g*5+4])
		for i := 7; i >= 0; i-- {
			b = append(b, keyAlphabet[(v>>(5*i))&31])
		}
	}
	b = append(b, keyAlphabet[k[15]>>3], keyAlphabet[(k[15]&7)<<2])
	return string(b)
}
