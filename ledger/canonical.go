package ledger

import (
	"strconv"
	"unicode/utf8"
)

// appendV2 appends e's version-2 leaf: what jcs.Transform makes of Go's
// encoding/json of e, written directly. Members in RFC 8785 order (their
// names are ASCII, so byte order), the empty ones left out as encoding/json
// leaves them out, integers in decimal (Leaf checks they are within
// ±(2^53-1), where RFC 8785 writes them so), and strings as RFC 8785 writes
// them: only '"', '\\' and control characters escaped, invalid UTF-8
// replaced by U+FFFD as encoding/json replaces it. Loading a ledger
// recomputes every leaf, so this is on the start-up path; TestCanonicalLeaf
// checks it byte for byte against the general canonicalizer.
func appendV2(b []byte, e *Event) []byte {
	b = append(b, '{')
	first := true
	str := func(name, v string, always bool) {
		if v == "" && !always {
			return
		}
		b = member(b, &first, name)
		b = appendJCSString(b, v)
	}
	num := func(name string, v int64, always bool) {
		if v == 0 && !always {
			return
		}
		b = member(b, &first, name)
		b = strconv.AppendInt(b, v, 10)
	}
	str("collector", e.Collector, false)
	str("id", e.ID, true)
	num("index", int64(e.Index), true)
	str("language", e.Language, false)
	str("method", e.Method, false)
	str("notice_sha256", e.NoticeSHA256, false)
	num("notice_version", e.NoticeVersion, false)
	str("purpose", e.Purpose, false)
	str("sealed_sha256", e.SealedSHA256, false)
	str("subject", e.SubjectID, true)
	num("time", e.TimeMicros, true)
	str("type", e.Type, true)
	num("v", int64(e.Version), false)
	return append(b, '}')
}

func member(b []byte, first *bool, name string) []byte {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

const hexDigits = "0123456789abcdef"

func appendJCSString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
