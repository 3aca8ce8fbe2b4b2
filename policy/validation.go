package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"likeness"
)

// Validation is a declaration that some consents count only once a person
// (a reviewer other than whoever recorded the consent) has validated them:
// every consent to a purpose (Required), or consents given in one of
// Methods. A method is a likeness.Method ("verbal", "written", "checkbox",
// "import") or MethodGuardian, a consent a guardian gave for a minor. The
// policy may declare it once for every purpose (methods only) and per
// purpose.
//
//	validation: {methods: [verbal, guardian], deadline: 48h}   # top level
//	purposes:
//	  ai-training:
//	    validation: {required: true, deadline: 72h}
type Validation struct {
	Required bool          `json:"required,omitempty"`
	Methods  []string      `json:"methods,omitempty"`
	Deadline time.Duration `json:"deadline,omitempty"` // how long a reviewer has; 0: DefaultValidationDeadline
}

// MethodGuardian names, among validation methods, a consent a guardian
// gave for a minor, whatever method they used.
const MethodGuardian = "guardian"

// DefaultValidationDeadline is how long a reviewer has when the policy does
// not say.
const DefaultValidationDeadline = 72 * time.Hour

// maxValidationDeadline bounds a declared deadline: a consent waiting longer
// than this for a person to look at it is not being reviewed.
const maxValidationDeadline = 90 * 24 * time.Hour

var (
	validationFields     = []string{"required", "methods", "deadline"}
	rootValidationFields = []string{"methods", "deadline"}
	validationMethods    = []string{string(likeness.Verbal), string(likeness.Written), string(likeness.Checkbox), string(likeness.Import), MethodGuardian}
)

// NeedsValidation reports whether a consent to purpose given by method
// (for a minor: guardian set) counts only once a reviewer validates it,
// and by when the reviewer should decide, counted from when it is
// recorded. An unknown purpose needs none.
func (p *Policy) NeedsValidation(purpose string, method likeness.Method, guardian bool) (bool, time.Duration) {
	pu, ok := p.Purposes[purpose]
	if !ok {
		return false, 0
	}
	covers := func(v *Validation) bool {
		return v != nil && (v.Required || slices.Contains(v.Methods, string(method)) || guardian && slices.Contains(v.Methods, MethodGuardian))
	}
	if !covers(pu.Validation) && !covers(p.Validation) {
		return false, 0
	}
	for _, v := range []*Validation{pu.Validation, p.Validation} {
		if v != nil && v.Deadline > 0 {
			return true, v.Deadline
		}
	}
	return true, DefaultValidationDeadline
}

// validation reads a validation declaration at path; top is the top-level
// one, which may not say required (a purpose says it for itself).
func (c *checker) validation(e entry, path string, top bool) *Validation {
	known := validationFields
	if top {
		known = rootValidationFields
	}
	m, _, ok := c.fields(e.val, path, known)
	if !ok {
		return nil
	}
	v := &Validation{}
	if f, ok := m["required"]; ok {
		if f.val.Kind != yaml.ScalarNode || f.val.Tag != "!!bool" {
			c.add(f.val.Line, join(path, "required"), "must be true or false")
		} else {
			v.Required = f.val.Value == "true"
		}
	}
	if f, ok := m["methods"]; ok {
		v.Methods = c.validationMethods(f, join(path, "methods"))
		if v.Required && len(v.Methods) > 0 {
			c.add(f.key.Line, join(path, "methods"), "required: true already covers every method; remove methods or required")
		}
	}
	if f, ok := m["deadline"]; ok {
		v.Deadline, _ = c.deadline(f.val, join(path, "deadline"))
	}
	if _, named := m["methods"]; named && len(v.Methods) == 0 {
		return nil // the methods were wrong; that is reported already
	}
	if !v.Required && len(v.Methods) == 0 {
		if top {
			c.add(e.key.Line, path, "names no method: add methods: [verbal, guardian] (or leave validation out)")
		} else {
			c.add(e.key.Line, path, "asks for no validation: add required: true or methods: [verbal, guardian] (or leave validation out)")
		}
		return nil
	}
	return v
}

// validationMethods reads a list of methods; "voice" is read as "verbal",
// the method of a consent given aloud.
func (c *checker) validationMethods(e entry, path string) []string {
	vals, nodes, _ := c.list(e.val, path)
	var out []string
	for i, s := range vals {
		if s == "voice" {
			s = string(likeness.Verbal)
		}
		if !slices.Contains(validationMethods, s) {
			c.add(nodes[i].Line, index(path, i), "unknown method %q (use %s)", vals[i], strings.Join(validationMethods, ", "))
			continue
		}
		if slices.Contains(out, s) {
			c.add(nodes[i].Line, index(path, i), "%q is listed twice (voice and verbal are the same method)", vals[i])
			continue
		}
		out = append(out, s)
	}
	if e.val.Kind == yaml.SequenceNode && len(e.val.Content) == 0 {
		c.add(e.val.Line, path, "must list at least one method (%s)", strings.Join(validationMethods, ", "))
	}
	return out
}

// deadline reads how long a reviewer has: a whole number of hours, days
// or weeks ("72h", "3d", "1w"), from one hour to 90 days.
func (c *checker) deadline(n *yaml.Node, field string) (time.Duration, bool) {
	s, ok := c.text(n, field)
	if !ok {
		return 0, false
	}
	d, err := parseDeadline(s)
	if err != nil {
		c.add(n.Line, field, "%s", err.Error())
		return 0, false
	}
	return d, true
}

func parseDeadline(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a deadline (use hours, days or weeks: 72h, 3d, 1w)", s)
	if len(s) < 2 {
		return 0, bad
	}
	unit := map[byte]time.Duration{'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	num := s[:len(s)-1]
	if unit == 0 || len(num) > 6 || strings.TrimLeft(num, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0, bad
	}
	d := time.Duration(n) * unit
	switch {
	case d < time.Hour:
		return 0, fmt.Errorf("%q is too short (at least 1h)", s)
	case d > maxValidationDeadline:
		return 0, fmt.Errorf("%q is too long (at most 90d: a consent should not wait longer for a person to look at it)", s)
	}
	return d, nil
}
