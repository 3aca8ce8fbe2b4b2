package ledger

import (
	"strconv"
	"unicode/utf8"
)

// appendLeafV2 appends the RFC 8785 canonical form of e (docs/RECEIPTS.md
// §3.3) to b. It writes what jcs.Transform(json.Marshal(e)) writes, member by
// member in the sorted order of their names, without parsing anything back:
// it is the hot path of every ledger write and every leaf recomputation.
// FuzzLeafV2MatchesJCS holds it to the general implementation.
func (e *Event) appendLeafV2(b []byte) []byte {
	b = append(b, '{')
	first := true
	str := func(name, v string, required bool) {
		if v == "" && !required {
			return
		}
		b = appendName(b, name, &first)
		b = appendJSString(b, v)
	}
	num := func(name string, v int64, required bool) {
		if v == 0 && !required {
			return
		}
		b = appendName(b, name, &first)
		b = strconv.AppendInt(b, v, 10)
	}
	// Members in the order of their names (all ASCII, so byte order is
	// RFC 8785's UTF-16 order).
	str("collector", e.Collector, false)
	str("id", e.ID, true)
	if e.Imported {
		b = appendName(b, "imported", &first)
		b = append(b, "true"...)
	}
	b = appendName(b, "index", &first)
	b = strconv.AppendUint(b, e.Index, 10)
	str("language", e.Language, false)
	str("method", e.Method, false)
	str("notice_sha256", e.NoticeSHA256, false)
	num("notice_version", e.NoticeVersion, false)
	str("purpose", e.Purpose, false)
	str("refers", e.Refers, false)
	str("sealed_sha256", e.SealedSHA256, false)
	str("subject", e.SubjectID, true)
	num("time", e.TimeMicros, true)
	str("type", e.Type, true)
	num("v", int64(e.Version), true)
	str("validation", e.Validation, false)
	return append(b, '}')
}

func appendName(b []byte, name string, first *bool) []byte {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

const hexDigits = "0123456789abcdef"

// appendJSString appends s as ECMAScript's JSON.stringify writes it (RFC
// 8785 §3.2.2.2): the two-character escapes, other control characters as
// \u00xx in lowercase hex, everything else raw. Bytes that are not UTF-8
// become U+FFFD, as encoding/json makes them before canonicalization.
func appendJSString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
