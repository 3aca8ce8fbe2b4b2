package httpapi

import (
	"io"
	"net/http"
	"strconv"
	"sync"

	"likeness"
	"likeness/internal/http/input"
)

// Decision requests are decoded by hand, not through encoding/json and the
// input package's reflective walk: they are the hot path, and the request
// is one small flat object. The decoder below is deliberately narrow. It
// takes the shape clients send — an object of the known keys spelt exactly,
// string values of printable ASCII without escapes, a plain non-negative
// integer min_revision — and for anything else (escapes, other bytes, null,
// "at", a repeated key, a key in other case, any syntax error) it declines,
// and the request goes through input.UnmarshalBody, whose answer and error
// messages therefore stay the API's. What it accepts it decodes exactly as
// encoding/json would (FuzzDecisionDecoder holds it to that), and every
// value it accepts is text in the input package's sense (ASCII, no NUL).
//
// encoding/json/v2 needs GOEXPERIMENT=jsonv2 in a default build, and a
// general fast JSON library would still decode through reflection for a
// seven-field object; a decoder of this one object is a page of code.

// maxSmallBody is the largest single-decision body read into a pooled
// buffer; a larger one (ids are short) goes through input.DecodeJSON.
const maxSmallBody = 4096

// bodyPool holds the buffers decision bodies are read into.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, maxSmallBody); return &b }}

// decodeDecision reads and decodes a single decision request under the
// rules of input.DecodeJSON (content type, limit, strictness).
func (s *Server) decodeDecision(w http.ResponseWriter, r *http.Request, in *decisionIn) error {
	n := r.ContentLength
	if n <= 0 || n > maxSmallBody || n > s.maxBody || r.Header.Get("Content-Type") != "application/json" {
		return input.DecodeJSON(r, w, s.maxBody, in)
	}
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body := (*bp)[:n]
	if _, err := io.ReadFull(r.Body, body); err != nil {
		return likeness.Errorf(likeness.EINVALID, "could not read the request body")
	}
	text := string(body) // the decoded fields outlive the pooled buffer
	if end, ok := parseDecisionObject(text, skipSpace(text, 0), in, true); ok && skipSpace(text, end) == len(text) {
		return nil
	}
	*in = decisionIn{}
	return input.UnmarshalBody(body, in)
}

// decodeBatch decodes a batch body already read into text: its items (onto
// items[:0]) and its min_revision. ok is false when the decoder declines.
func decodeBatch(text string, items []likeness.DecisionRequest) (_ []likeness.DecisionRequest, minRevision int64, ok bool) {
	i := skipSpace(text, 0)
	if i >= len(text) || text[i] != '{' {
		return nil, 0, false
	}
	i = skipSpace(text, i+1)
	var seenItems, seenRevision bool
	items = items[:0]
	for {
		key, j, ok := parseKey(text, i)
		if !ok {
			return nil, 0, false
		}
		switch key {
		case "items":
			if seenItems {
				return nil, 0, false
			}
			seenItems = true
			if items, j, ok = parseItems(text, j, items); !ok {
				return nil, 0, false
			}
		case "min_revision":
			if seenRevision {
				return nil, 0, false
			}
			seenRevision = true
			if j, ok = parseRevision(text, j, &minRevision); !ok {
				return nil, 0, false
			}
		default:
			return nil, 0, false
		}
		if i, ok = nextMember(text, j); !ok {
			return nil, 0, false
		}
		if i < 0 {
			break
		}
	}
	if !seenItems || skipSpace(text, -i) != len(text) {
		return nil, 0, false
	}
	return items, minRevision, true
}

// parseItems reads a non-empty array of decision objects at text[i:] onto
// items and returns the index after its ']'. An empty array is declined,
// for the general decoder and the handler to refuse.
func parseItems(text string, i int, items []likeness.DecisionRequest) ([]likeness.DecisionRequest, int, bool) {
	if i >= len(text) || text[i] != '[' {
		return nil, 0, false
	}
	i = skipSpace(text, i+1)
	for {
		var in decisionIn
		end, ok := parseDecisionObject(text, i, &in, false)
		if !ok {
			return nil, 0, false
		}
		items = append(items, in.DecisionRequest)
		i = skipSpace(text, end)
		switch {
		case i >= len(text):
			return nil, 0, false
		case text[i] == ']':
			return items, i + 1, true
		case text[i] != ',':
			return nil, 0, false
		}
		i = skipSpace(text, i+1)
	}
}

// nextMember reads what follows an object member's value at text[i:]: a
// ',' and the next key's index, or the closing '}' as the negated index
// after it.
func nextMember(text string, i int) (int, bool) {
	i = skipSpace(text, i)
	switch {
	case i >= len(text):
		return 0, false
	case text[i] == '}':
		return -(i + 1), true
	case text[i] == ',':
		return skipSpace(text, i+1), true
	}
	return 0, false
}

// parseDecisionObject decodes the object at text[i:] into in and returns
// the index after its '}'; withRevision admits min_revision.
func parseDecisionObject(text string, i int, in *decisionIn, withRevision bool) (int, bool) {
	if i >= len(text) || text[i] != '{' {
		return 0, false
	}
	i = skipSpace(text, i+1)
	if i < len(text) && text[i] == '}' {
		return i + 1, true
	}
	var seen uint8
	for {
		key, j, ok := parseKey(text, i)
		if !ok {
			return 0, false
		}
		var field *string
		var bit uint8
		switch key {
		case "subject_id":
			field, bit = &in.SubjectID, 1
		case "asset_id":
			field, bit = &in.AssetID, 2
		case "purpose":
			field, bit = &in.Purpose, 4
		case "data_category":
			field, bit = &in.Category, 8
		case "recipient":
			field, bit = &in.Recipient, 16
		case "country":
			field, bit = &in.Country, 32
		case "min_revision":
			if !withRevision {
				return 0, false
			}
			bit = 64
		default:
			return 0, false // "at", other spellings, unknown keys
		}
		if seen&bit != 0 {
			return 0, false
		}
		seen |= bit
		if field != nil {
			*field, j, ok = parseString(text, j)
		} else {
			j, ok = parseRevision(text, j, &in.MinRevision)
		}
		if !ok {
			return 0, false
		}
		if i, ok = nextMember(text, j); !ok {
			return 0, false
		}
		if i < 0 {
			return -i, true
		}
	}
}

// parseKey reads `"key" :` at text[i:] and returns the key and the index of
// the value after it.
func parseKey(text string, i int) (string, int, bool) {
	key, j, ok := parseString(text, i)
	if !ok {
		return "", 0, false
	}
	j = skipSpace(text, j)
	if j >= len(text) || text[j] != ':' {
		return "", 0, false
	}
	return key, skipSpace(text, j+1), true
}

// parseString reads a string of printable ASCII without escapes at text[i:].
func parseString(text string, i int) (string, int, bool) {
	if i >= len(text) || text[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(text); j++ {
		switch c := text[j]; {
		case c == '"':
			return text[i+1 : j], j + 1, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", 0, false
		}
	}
	return "", 0, false
}

// parseRevision reads a non-negative integer without sign, fraction or
// exponent at text[i:] into v.
func parseRevision(text string, i int, v *int64) (int, bool) {
	j := i
	for j < len(text) && text[j] >= '0' && text[j] <= '9' {
		j++
	}
	if j == i || j-i > 18 || text[i] == '0' && j-i > 1 {
		return 0, false
	}
	n, err := strconv.ParseInt(text[i:j], 10, 64)
	if err != nil {
		return 0, false
	}
	*v = n
	return j, true
}

func skipSpace(text string, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
		i++
	}
	return i
}
