// Package policy owns the organization's declarations file, likeness.yaml:
// who the organization is, the purposes it asks consent for, the data
// categories and recipients of each, retention and renewal, and the texts in
// every offered language. It loads and strictly validates the file (every
// problem names file, line and field) and renders the subject-facing notice
// whose SHA-256 consents are bound to.
//
// A *Policy is immutable once parsed and safe for concurrent use; callers
// must not modify it.
package policy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"

	"likeness"
)

// Policy is a parsed and validated likeness.yaml.
type Policy struct {
	Organization Organization          `json:"organization"`
	Languages    []string              `json:"languages"` // the first is the default language
	Purposes     map[string]*Purpose   `json:"purposes"`
	PurposeIDs   []string              `json:"purpose_ids"` // in file order
	Recipients   map[string]*Recipient `json:"recipients"`
	RecipientIDs []string              `json:"recipient_ids"` // in file order
	EmbedOrigins []string              `json:"embed_origins,omitempty"`
	// Validation, if set, names consent methods that need a reviewer's
	// validation for every purpose (see Validation, NeedsValidation).
	Validation *Validation `json:"validation,omitempty"`
	Source     []byte      `json:"-"` // the raw file bytes
	Name       string      `json:"name"`
}

// Organization is the controller: who decides, and whom a person contacts.
type Organization struct {
	Name    string `json:"name"`
	Country string `json:"country"`
	Contact string `json:"contact"`
	DPO     string `json:"dpo"`
}

// Purpose is one thing a person can consent to, on its own.
type Purpose struct {
	ID          string            `json:"id"`
	Title       map[string]string `json:"title"`       // per language
	Description map[string]string `json:"description"` // per language
	Data        []string          `json:"data"`        // data categories
	Recipients  []string          `json:"recipients"`  // recipient ids
	Retention   Duration          `json:"retention"`
	RenewEvery  Duration          `json:"renew_every"`
	SaleOrShare bool              `json:"sale_or_share"`
	// OnWithdraw is WithdrawErase (the default: a withdrawal erases the
	// assets collected for this purpose, GDPR Art. 17(1)(b)) or WithdrawKeep,
	// declared with the legal basis (one of KeepBases) and the written
	// reason for keeping them until retention ends.
	OnWithdraw    string         `json:"on_withdraw"`
	KeepBasis     string         `json:"keep_basis,omitempty"`
	KeepReason    string         `json:"keep_reason,omitempty"`
	Anonymization *Anonymization `json:"anonymization,omitempty"`
	// Validation, if set, says which consents to this purpose count only
	// once a reviewer validates them.
	Validation *Validation `json:"validation,omitempty"`
}

// Anonymization is what a purpose does to media before use.
// Faces: none, blur_all or blur_bystanders. Voice: none or mcadams.
// K is the k-anonymity threshold for data sets (default 5). Reason is the
// written justification a policy must give for leaving the faces or voices
// it collects as recorded (none); the notice and dataset cards show it.
type Anonymization struct {
	Faces  string `json:"faces"`
	Voice  string `json:"voice"`
	K      int    `json:"k"`
	Reason string `json:"reason,omitempty"`
}

// DefaultAnonymization is what a purpose that declares nothing gets: every
// face blurred, every voice disguised, k = 5. Weaker protection has to be
// declared, with a reason.
func DefaultAnonymization() Anonymization {
	return Anonymization{Faces: "blur_all", Voice: "mcadams", K: 5}
}

// AnonymizationOrDefault is the anonymization the purpose's media get: the
// declared one, or DefaultAnonymization.
func (pu *Purpose) AnonymizationOrDefault() Anonymization {
	if pu.Anonymization != nil {
		return *pu.Anonymization
	}
	return DefaultAnonymization()
}

// LeavesAsRecorded reports whether a declares no protection for media the
// purpose collects: faces of images or voices of recordings left as they
// are.
func (a Anonymization) LeavesAsRecorded(data []string) bool {
	return a.Faces == "none" && slices.Contains(data, "image") || a.Voice == "none" && slices.Contains(data, "voice")
}

// Recipient is someone a purpose's data is disclosed to. Transfer is the
// mechanism for a transfer to another country: "" (same country or an
// adequacy decision), "scc", "bcr", "dpf" or "none" (no safeguard).
type Recipient struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Country  string `json:"country"`
	Transfer string `json:"transfer"`
}

// Categories are the known data categories, in a fixed order.
var Categories = []string{"voice", "image", "video", "biometric_template", "transcript"}

// IsCategory reports whether s is one of Categories.
func IsCategory(s string) bool { return slices.Contains(Categories, s) }

// NoticeLanguages are the languages a notice can be rendered in; a policy
// may only offer these.
var NoticeLanguages = []string{"en", "de"}

// maxSize bounds a policy file; real ones are a few kilobytes.
const maxSize = 1 << 20

// Parse parses and validates a policy. name is used in error messages and
// as Policy.Name. Any problem yields a *ValidationError listing all of them.
func Parse(name string, data []byte) (*Policy, error) {
	if len(data) > maxSize {
		return nil, &ValidationError{Problems: []Problem{{File: name, Line: 1, Message: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), maxSize)}}}
	}
	p, probs := parse(name, data)
	if len(probs) > 0 {
		return nil, &ValidationError{Problems: probs}
	}
	p.Source = bytes.Clone(data)
	p.Name = name
	return p, nil
}

// Load reads and parses the policy file at path; errors name the path.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: load: %w", err)
	}
	return Parse(path, data)
}

//go:embed default.yaml
var defaultYAML []byte

// Default returns the built-in policy, used when no file is given. Each call
// returns a fresh copy.
func Default() *Policy {
	p, err := Parse("default", defaultYAML)
	if err != nil {
		panic("policy: built-in default.yaml is invalid: " + err.Error())
	}
	return p
}

// Purpose returns the purpose with the given id.
func (p *Policy) Purpose(id string) (*Purpose, bool) {
	pu, ok := p.Purposes[id]
	return pu, ok
}

// CheckPurposes reports a list of purposes a person cannot be asked about
// at once: an empty list, a purpose the policy does not declare, or one
// named twice (consent is granular: one decision per purpose). The error is
// a *likeness.Error with code EINVALID.
func (p *Policy) CheckPurposes(ids []string) error {
	if len(ids) == 0 {
		return likeness.Errorf(likeness.EINVALID, "purposes is empty: name at least one purpose")
	}
	for i, id := range ids {
		if _, ok := p.Purposes[id]; !ok {
			return likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", id, p.PurposeIDs)
		}
		if slices.Contains(ids[:i], id) {
			return likeness.Errorf(likeness.EINVALID, "purpose %q is listed twice", id)
		}
	}
	return nil
}

// Recipient returns the recipient with the given id.
func (p *Policy) Recipient(id string) (*Recipient, bool) {
	r, ok := p.Recipients[id]
	return r, ok
}

// HasLanguage reports whether the policy offers texts in lang.
func (p *Policy) HasLanguage(lang string) bool { return slices.Contains(p.Languages, lang) }

// Material returns a hex SHA-256 fingerprint of what a person agreed to for
// the purpose in substance: the sorted data categories, each recipient's id,
// country and transfer mechanism, the retention, sale_or_share and, when the
// purpose keeps data after a withdrawal, that basis. Wording does not count. When it changes, consents given under the old fingerprint
// stop counting until renewed. An unknown purpose gives "".
func (p *Policy) Material(purposeID string) string {
	pu, ok := p.Purposes[purposeID]
	if !ok {
		return ""
	}
	var b strings.Builder
	b.WriteString("likeness-material-v1\n")
	data := slices.Clone(pu.Data)
	slices.Sort(data)
	data = slices.Compact(data)
	fmt.Fprintf(&b, "data %q\n", data)
	ids := slices.Clone(pu.Recipients)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		var country, transfer string
		if r, ok := p.Recipients[id]; ok {
			country, transfer = r.Country, r.Transfer
		}
		fmt.Fprintf(&b, "recipient %q %q %q\n", id, country, transfer)
	}
	fmt.Fprintf(&b, "retention %s\n", pu.Retention)
	fmt.Fprintf(&b, "sale_or_share %t\n", pu.SaleOrShare)
	if !pu.ErasesOnWithdraw() {
		// Keeping data after a withdrawal is part of what was agreed to;
		// erasing (the default) adds nothing, so older fingerprints stand.
		fmt.Fprintf(&b, "on_withdraw keep %q\n", pu.KeepBasis)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

//go:embed example.yaml
var exampleYAML []byte

// Example returns the example policy of an organization that makes AI
// portraits and voice features (the one `likeness demo` serves).
func Example() *Policy {
	p, err := Parse("example.yaml", exampleYAML)
	if err != nil {
		panic("policy: the example policy does not parse: " + err.Error())
	}
	return p
}
