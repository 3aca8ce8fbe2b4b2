package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"likeness/internal/jurisdiction"
)

// Problem is one thing wrong in a policy file.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`  // 1-based; 0 when unknown
	Field   string `json:"field"` // dotted path, e.g. purposes.ai-training.retention; "" for the whole file
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError is every problem found in a policy file, in line order.
type ValidationError struct {
	Problems []Problem
}

// Error prints one problem per line, as "file:line: field: message".
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

var (
	idRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	yamlErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

var (
	rootFields      = []string{"organization", "languages", "purposes", "recipients", "embed_origins", "validation"}
	orgFields       = []string{"name", "country", "contact", "dpo"}
	purposeFields   = []string{"title", "description", "data", "recipients", "retention", "renew_every", "sale_or_share", "on_withdraw", "anonymization", "validation"}
	recipientFields = []string{"name", "country", "transfer"}
	anonFields      = []string{"faces", "voice", "k", "reason"}
	transfers       = jurisdiction.TransferBases
	facesValues     = []string{"none", "blur_all", "blur_bystanders"}
	voiceValues     = []string{"none", "mcadams"}
)

type checker struct {
	file  string
	probs []Problem
}

func (c *checker) add(line int, field, format string, args ...any) {
	c.probs = append(c.probs, Problem{File: c.file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// entry is one key: value pair of a mapping.
type entry struct{ key, val *yaml.Node }

// fields checks that n is a mapping with unique scalar keys drawn from known
// (any key when known is nil) and returns its entries and keys in order.
func (c *checker) fields(n *yaml.Node, path string, known []string) (map[string]entry, []string, bool) {
	if n.Kind != yaml.MappingNode {
		if isNull(n) {
			c.add(n.Line, path, "is empty")
		} else {
			c.add(n.Line, path, "must be a mapping of key: value")
		}
		return nil, nil, false
	}
	m := make(map[string]entry, len(n.Content)/2)
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.add(k.Line, path, "keys must be plain names")
			continue
		}
		f := join(path, k.Value)
		if known != nil && !slices.Contains(known, k.Value) {
			c.add(k.Line, f, "unknown field (expected one of: %s)", strings.Join(known, ", "))
			continue
		}
		if prev, dup := m[k.Value]; dup {
			c.add(k.Line, f, "duplicate key (first at line %d)", prev.key.Line)
			continue
		}
		m[k.Value] = entry{k, v}
		keys = append(keys, k.Value)
	}
	return m, keys, true
}

// require reports a missing required field of the mapping at line.
func (c *checker) require(m map[string]entry, key string, line int, path string) (entry, bool) {
	e, ok := m[key]
	if !ok {
		c.add(line, join(path, key), "required field is missing")
	}
	return e, ok
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// text checks that n is a non-empty scalar and returns it trimmed.
func (c *checker) text(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		c.add(n.Line, field, "must be text, not a list or mapping")
		return "", false
	}
	s := strings.TrimSpace(n.Value)
	if isNull(n) || s == "" {
		c.add(n.Line, field, "must not be empty")
		return "", false
	}
	return s, true
}

// oneOf checks that n is one of the allowed values.
func (c *checker) oneOf(n *yaml.Node, field string, allowed []string) (string, bool) {
	s, ok := c.text(n, field)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		var quoted []string
		for _, a := range allowed {
			if a != "" {
				quoted = append(quoted, strconv.Quote(a))
			}
		}
		c.add(n.Line, field, "%q is not allowed (use %s)", s, strings.Join(quoted, ", "))
		return "", false
	}
	return s, true
}

// list checks that n is a sequence of non-empty, unique scalars.
func (c *checker) list(n *yaml.Node, field string) ([]string, []*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		if isNull(n) {
			c.add(n.Line, field, "must not be empty")
		} else {
			c.add(n.Line, field, "must be a list, e.g. [a, b]")
		}
		return nil, nil, false
	}
	var vals []string
	var nodes []*yaml.Node
	ok := true
	for i, item := range n.Content {
		s, good := c.text(item, index(field, i))
		if !good {
			ok = false
			continue
		}
		if j := slices.Index(vals, s); j >= 0 {
			c.add(item.Line, index(field, i), "%q is listed twice", s)
			ok = false
			continue
		}
		vals = append(vals, s)
		nodes = append(nodes, item)
	}
	return vals, nodes, ok
}

func (c *checker) duration(n *yaml.Node, field string) (Duration, bool) {
	s, ok := c.text(n, field)
	if !ok {
		return Duration{}, false
	}
	d, err := ParseDuration(s)
	if err != nil {
		c.add(n.Line, field, "%s", err.Error())
		return Duration{}, false
	}
	if d.IsZero() {
		c.add(n.Line, field, "must be longer than 0 (leave it out if there is none)")
		return Duration{}, false
	}
	return d, true
}

// aliases reports every alias in the tree: they make the file harder to
// read and review, and expanding them is a known denial-of-service vector.
func (c *checker) aliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		c.add(n.Line, "", "aliases (*%s) are not allowed; write the value out", n.Value)
		return
	}
	for _, k := range n.Content {
		c.aliases(k)
	}
}

func parse(name string, data []byte) (*Policy, []Problem) {
	c := &checker{file: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			c.add(1, "", "file is empty")
		} else {
			c.yamlError(err)
		}
		return nil, c.probs
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		c.add(extra.Line, "", "only one YAML document is allowed (remove the second ---)")
		return nil, c.probs
	} else if !errors.Is(err, io.EOF) {
		c.yamlError(err)
		return nil, c.probs
	}
	c.aliases(&doc)
	if len(c.probs) > 0 {
		return nil, c.probs
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	p := c.policy(root)
	sort.SliceStable(c.probs, func(i, j int) bool { return c.probs[i].Line < c.probs[j].Line })
	if len(c.probs) > 0 {
		return nil, c.probs
	}
	return p, nil
}

func (c *checker) yamlError(err error) {
	msg := err.Error()
	if m := yamlErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		c.add(line, "", "not valid YAML: %s", m[2])
		return
	}
	c.add(0, "", "not valid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func (c *checker) policy(root *yaml.Node) *Policy {
	p := &Policy{Purposes: map[string]*Purpose{}, Recipients: map[string]*Recipient{}}
	if isNull(root) {
		c.add(1, "", "file is empty")
		return nil
	}
	top, _, ok := c.fields(root, "", rootFields)
	if !ok {
		return nil
	}
	line := root.Line

	if e, ok := c.require(top, "organization", line, ""); ok {
		p.Organization = c.organization(e)
	}
	var langsOK bool
	if e, ok := c.require(top, "languages", line, ""); ok {
		p.Languages, langsOK = c.languages(e.val)
	}
	// Recipient ids are collected even when a recipient is otherwise
	// invalid, so a purpose naming it gets no second, misleading error.
	known := map[string]bool{}
	if e, ok := top["recipients"]; ok {
		c.recipients(e.val, p, known)
	}
	if e, ok := c.require(top, "purposes", line, ""); ok {
		c.purposes(e.val, p, known, langsOK)
	}
	if e, ok := top["embed_origins"]; ok {
		p.EmbedOrigins = c.embedOrigins(e.val)
	}
	if e, ok := top["validation"]; ok {
		p.Validation = c.validation(e, "validation", true)
	}
	return p
}

func (c *checker) organization(e entry) Organization {
	var o Organization
	m, _, ok := c.fields(e.val, "organization", orgFields)
	if !ok {
		return o
	}
	at := e.key.Line
	if f, ok := c.require(m, "name", at, "organization"); ok {
		o.Name, _ = c.text(f.val, "organization.name")
	}
	if f, ok := c.require(m, "contact", at, "organization"); ok {
		o.Contact, _ = c.text(f.val, "organization.contact")
	}
	if f, ok := m["country"]; ok {
		o.Country, _ = c.country(f.val, "organization.country")
	}
	if f, ok := m["dpo"]; ok {
		o.DPO, _ = c.text(f.val, "organization.dpo")
	}
	return o
}

func (c *checker) country(n *yaml.Node, field string) (string, bool) {
	s, ok := c.text(n, field)
	if !ok {
		return "", false
	}
	if !countryRE.MatchString(s) {
		c.add(n.Line, field, "%q is not a country code (use two upper-case letters, e.g. DE or US)", s)
		return "", false
	}
	return s, true
}

func (c *checker) languages(n *yaml.Node) ([]string, bool) {
	langs, nodes, ok := c.list(n, "languages")
	if !ok {
		return nil, false
	}
	if len(langs) == 0 {
		c.add(n.Line, "languages", "must list at least one language, e.g. [en, de]")
		return nil, false
	}
	for i, l := range langs {
		if !slices.Contains(NoticeLanguages, l) {
			c.add(nodes[i].Line, index("languages", i), "%q is not supported (notices can be rendered in: %s)", l, strings.Join(NoticeLanguages, ", "))
			ok = false
		}
	}
	return langs, ok
}

func (c *checker) recipients(n *yaml.Node, p *Policy, known map[string]bool) {
	m, keys, ok := c.fields(n, "recipients", nil)
	if !ok {
		return
	}
	for _, id := range keys {
		e := m[id]
		path := join("recipients", id)
		known[id] = true
		if !idRE.MatchString(id) {
			c.add(e.key.Line, path, "%q is not a valid id (lower-case letters, digits and -, at most 63)", id)
		}
		f, _, ok := c.fields(e.val, path, recipientFields)
		if !ok {
			continue
		}
		r := &Recipient{ID: id}
		if v, ok := c.require(f, "name", e.key.Line, path); ok {
			r.Name, _ = c.text(v.val, join(path, "name"))
		}
		if v, ok := c.require(f, "country", e.key.Line, path); ok {
			r.Country, _ = c.country(v.val, join(path, "country"))
		}
		if v, ok := f["transfer"]; ok {
			r.Transfer, _ = c.oneOf(v.val, join(path, "transfer"), transfers)
		}
		p.Recipients[id] = r
		p.RecipientIDs = append(p.RecipientIDs, id)
	}
}

func (c *checker) purposes(n *yaml.Node, p *Policy, recipients map[string]bool, langsOK bool) {
	m, keys, ok := c.fields(n, "purposes", nil)
	if !ok {
		return
	}
	if len(keys) == 0 {
		c.add(n.Line, "purposes", "must declare at least one purpose")
		return
	}
	for _, id := range keys {
		e := m[id]
		path := join("purposes", id)
		if !idRE.MatchString(id) {
			c.add(e.key.Line, path, "%q is not a valid id (lower-case letters, digits and -, at most 63)", id)
		}
		f, _, ok := c.fields(e.val, path, purposeFields)
		if !ok {
			continue
		}
		at := e.key.Line
		pu := &Purpose{ID: id, OnWithdraw: WithdrawErase}
		if v, ok := c.require(f, "title", at, path); ok {
			pu.Title = c.texts(v, join(path, "title"), p.Languages, langsOK)
		}
		if v, ok := c.require(f, "description", at, path); ok {
			pu.Description = c.texts(v, join(path, "description"), p.Languages, langsOK)
		}
		if v, ok := c.require(f, "data", at, path); ok {
			field := join(path, "data")
			data, nodes, _ := c.list(v.val, field)
			if v.val.Kind == yaml.SequenceNode && len(v.val.Content) == 0 {
				c.add(v.val.Line, field, "must list at least one data category (%s)", strings.Join(Categories, ", "))
			}
			for i, d := range data {
				if !IsCategory(d) {
					c.add(nodes[i].Line, index(field, i), "unknown data category %q (use %s)", d, strings.Join(Categories, ", "))
				}
			}
			pu.Data = data
		}
		if v, ok := f["recipients"]; ok {
			field := join(path, "recipients")
			if !isNull(v.val) {
				ids, nodes, _ := c.list(v.val, field)
				for i, r := range ids {
					if !recipients[r] {
						c.add(nodes[i].Line, index(field, i), "unknown recipient %q (declare it under recipients)", r)
					}
				}
				pu.Recipients = ids
			}
		}
		if v, ok := c.require(f, "retention", at, path); ok {
			pu.Retention, _ = c.duration(v.val, join(path, "retention"))
		}
		if v, ok := f["renew_every"]; ok {
			pu.RenewEvery, _ = c.duration(v.val, join(path, "renew_every"))
		}
		if v, ok := f["sale_or_share"]; ok {
			if v.val.Kind != yaml.ScalarNode || v.val.Tag != "!!bool" {
				c.add(v.val.Line, join(path, "sale_or_share"), "must be true or false")
			} else {
				pu.SaleOrShare = v.val.Value == "true"
			}
		}
		c.purposeOptions(f, path, pu)
		p.Purposes[id] = pu
		p.PurposeIDs = append(p.PurposeIDs, id)
	}
}

// purposeOptions reads what a purpose may declare beyond its terms: what a
// withdrawal does, the anonymization of its media, and validation.
func (c *checker) purposeOptions(f map[string]entry, path string, pu *Purpose) {
	if v, ok := f["on_withdraw"]; ok {
		c.onWithdraw(v, join(path, "on_withdraw"), pu)
	}
	if v, ok := f["anonymization"]; ok {
		pu.Anonymization = c.anonymization(v, join(path, "anonymization"))
		if a := pu.Anonymization; a.Reason == "" && a.LeavesAsRecorded(pu.Data) {
			c.add(v.key.Line, join(path, "anonymization"),
				"leaving faces or voices as recorded needs a written reason: add reason: \"…\" (e.g. {faces: none, voice: none, reason: \"…\"}); without a declaration media are anonymized")
		}
	}
	if v, ok := f["validation"]; ok {
		pu.Validation = c.validation(v, join(path, "validation"), false)
	}
}

// texts checks a per-language text: one non-empty entry for each language
// the policy offers, and none for others.
func (c *checker) texts(e entry, path string, langs []string, langsOK bool) map[string]string {
	m, keys, ok := c.fields(e.val, path, nil)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(keys))
	for _, l := range keys {
		v := m[l]
		if langsOK && !slices.Contains(langs, l) {
			c.add(v.key.Line, join(path, l), "language %q is not in languages (%s)", l, strings.Join(langs, ", "))
			continue
		}
		if s, ok := c.text(v.val, join(path, l)); ok {
			out[l] = s
		}
	}
	if langsOK {
		for _, l := range langs {
			if _, ok := m[l]; !ok {
				c.add(e.key.Line, join(path, l), "missing the %q text (languages lists %q, so every text needs it)", l, l)
			}
		}
	}
	return out
}

// anonymization reads a purpose's anonymization: a mapping whose omitted
// fields take the safe defaults, or the scalar none (faces and voice none,
// which then has no place for its reason: the caller reports that).
func (c *checker) anonymization(e entry, path string) *Anonymization {
	d := DefaultAnonymization()
	a := &d
	if isNull(e.val) {
		return a
	}
	if e.val.Kind == yaml.ScalarNode && e.val.Value == "none" {
		a.Faces, a.Voice = "none", "none"
		return a
	}
	m, _, ok := c.fields(e.val, path, anonFields)
	if !ok {
		return a
	}
	if v, ok := m["faces"]; ok {
		if s, ok := c.oneOf(v.val, join(path, "faces"), facesValues); ok {
			a.Faces = s
		}
	}
	if v, ok := m["voice"]; ok {
		if s, ok := c.oneOf(v.val, join(path, "voice"), voiceValues); ok {
			a.Voice = s
		}
	}
	if v, ok := m["k"]; ok {
		k, err := strconv.Atoi(v.val.Value)
		switch {
		case v.val.Kind != yaml.ScalarNode || v.val.Tag != "!!int" || err != nil:
			c.add(v.val.Line, join(path, "k"), "must be a whole number, e.g. 5")
		case k < 2 || k > 1000000:
			c.add(v.val.Line, join(path, "k"), "%d is out of range (k-anonymity needs k of at least 2)", k)
		default:
			a.K = k
		}
	}
	if v, ok := m["reason"]; ok {
		if s, ok := c.text(v.val, join(path, "reason")); ok {
			a.Reason = s
		}
	}
	return a
}

func (c *checker) embedOrigins(n *yaml.Node) []string {
	if isNull(n) {
		return nil
	}
	vals, nodes, _ := c.list(n, "embed_origins")
	var out []string
	for i, s := range vals {
		field := index("embed_origins", i)
		o, err := origin(s)
		if err != nil {
			c.add(nodes[i].Line, field, "%q is not an origin: %v (use e.g. https://app.example.com)", s, err)
			continue
		}
		out = append(out, o)
	}
	return out
}

// origin validates and normalises a web origin: scheme://host[:port], where
// host may start with "*." to allow subdomains (as CSP frame-ancestors does).
func origin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("cannot parse it")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", errors.New("the scheme must be https or http")
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", errors.New("only scheme, host and port are allowed")
	}
	host := strings.TrimPrefix(u.Hostname(), "*.")
	if host == "" || strings.ContainsAny(host, "*") {
		return "", errors.New("the host is not valid")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
