package input

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"

	"likeness"
)

// duplicateKey returns where the JSON text data first names one key twice
// in one object ("body.consents[2]") and the key, if it does. Keys are
// compared as encoding/json matches them to fields, without regard to
// case ("purpose" and "PURPOSE", or "kind" and "\u212aind" with a Kelvin
// sign, are one key). encoding/json keeps the last of two; a proxy, a
// signature check or an audit reading the same body may keep the first, so
// a body that says two things is refused rather than read as one of them.
//
// It walks data token by token, which has no depth limit of its own: call
// it on text the decoder has taken. Text that stops being JSON reports
// nothing here.
func duplicateKey(data []byte, root string) (at, key string, found bool) {
	type frame struct {
		object bool
		keys   map[string]bool // folded
		key    string          // the object's member being read
		index  int             // the array's element being read
		inKey  bool            // the object's next token is a key
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		b.WriteString(root)
		for _, f := range stack[:len(stack)-1] {
			if f.object {
				b.WriteString(pathKey(f.key))
			} else {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		return likeness.Elide(b.String(), maxPath)
	}
	// value moves the innermost container on past a whole value (a
	// scalar, or an object or array just closed).
	value := func() {
		if len(stack) == 0 {
			return
		}
		if f := stack[len(stack)-1]; f.object {
			f.inKey = true
		} else {
			f.index++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", "", false
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{object: true, inKey: true})
				continue
			case '[':
				stack = append(stack, &frame{})
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].inKey {
				f := stack[n-1]
				k := fold(t)
				if f.keys[k] {
					return path(), likeness.Elide(t, maxKey), true
				}
				if f.keys == nil {
					f.keys = map[string]bool{}
				}
				f.keys[k], f.key, f.inKey = true, t, false
				continue
			}
		}
		if len(stack) == 0 {
			return "", "", false
		}
		value()
	}
}

// How much of a path and of a key a message quotes: both are the caller's
// own text, and may be long.
const maxPath, maxKey = 200, 64

// pathKey is a member's step in a path: ".name" for a key of letters,
// digits, "_" and "-", else a quoted key in brackets (`["a.b"]`), so that
// no key makes the path read as another or puts a control character in a
// message.
func pathKey(k string) string {
	plain := k != ""
	for _, r := range k {
		if !(r == '_' || r == '-' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			plain = false
			break
		}
	}
	if plain {
		return "." + likeness.Elide(k, maxKey)
	}
	return "[" + strconv.Quote(likeness.Elide(k, maxKey)) + "]"
}

// fold maps s to one spelling of every string encoding/json takes for the
// same field name: each rune replaced by the smallest in its simple case
// folding orbit (as bytes.EqualFold compares).
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}
