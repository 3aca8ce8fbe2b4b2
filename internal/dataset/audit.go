package dataset

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"likeness"
	"likeness/internal/anonymize"
)

// Attributes are the self-declared attributes a representation audit
// counts. Each is optional; values are short labels the collector defines
// (e.g. age_band "25-34", skin_tone "monk-5", language "de-AT").
var Attributes = []string{"age_band", "gender", "skin_tone", "language"}

func attributesAD(subjectID, purpose string) []byte {
	return []byte("subject-attributes:" + subjectID + ":" + purpose)
}

// PutAttributes stores a subject's self-declared attributes, sealed under
// the subject's own data key (so erasure makes them unreadable), for use in
// the representation audits of purpose's datasets. They are accepted only
// while the subject holds an active consent to purpose: the person shares
// them as part of that consent, and a withdrawal ends their use (audits
// skip subjects whose consent is no longer active).
func (s *Service) PutAttributes(ctx context.Context, subjectID, purpose string, attrs map[string]string) error {
	sub, err := s.subjects.Subject(ctx, subjectID)
	if err != nil {
		return err
	}
	p := s.policy()
	if _, ok := p.Purpose(purpose); !ok {
		return likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", purpose, p.PurposeIDs)
	}
	if len(attrs) == 0 {
		return likeness.Errorf(likeness.EINVALID, "attributes is empty: give at least one of %v", Attributes)
	}
	for k, v := range attrs {
		if !slices.Contains(Attributes, k) {
			return likeness.Errorf(likeness.EINVALID, "unknown attribute %q; use %v", k, Attributes)
		}
		if !validLabel(v) {
			return likeness.Errorf(likeness.EINVALID, "attribute %s: value must be 1–32 characters of letters, digits and - _ . + (got %d characters)", k, len(v))
		}
	}
	if st, _ := s.engine.State(sub.ID, purpose, s.now()); st != likeness.StateActive {
		return &likeness.DeniedError{Message: fmt.Sprintf("the subject has no active consent to %q; attributes are shared only under it", purpose),
			Reasons: []string{string(st)}}
	}
	plain, err := json.Marshal(attrs)
	if err != nil {
		return err
	}
	c, err := s.subjects.Cipher(ctx, sub.ID)
	if err != nil {
		return err
	}
	defer c.Close()
	sealed, err := c.Seal(plain, attributesAD(sub.ID, purpose))
	if err != nil {
		return fmt.Errorf("dataset: seal attributes: %w", err)
	}
	return s.store.PutSubjectAttributes(ctx, sub.ID, purpose, sealed, s.now().UTC())
}

func validLabel(v string) bool {
	if len(v) == 0 || len(v) > 32 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
			return false
		}
	}
	return true
}

// Target is the distribution an operator wants: attribute → group → share.
type Target map[string]map[string]float64

// Check reports a malformed target.
func (t Target) Check() error {
	for attr, groups := range t {
		if !slices.Contains(Attributes, attr) {
			return likeness.Errorf(likeness.EINVALID, "target names unknown attribute %q; use %v", attr, Attributes)
		}
		sum := 0.0
		for g, share := range groups {
			if !validLabel(g) || share < 0 || share > 1 || math.IsNaN(share) {
				return likeness.Errorf(likeness.EINVALID, "target %s.%s: shares are numbers from 0 to 1", attr, g)
			}
			sum += share
		}
		if sum > 1.0001 {
			return likeness.Errorf(likeness.EINVALID, "target shares of %s add up to %.3f, more than 1", attr, sum)
		}
	}
	return nil
}

// Group is one cell of an audit. Suppressed cells count fewer than k
// subjects (or would let one be derived) and show no count or share.
type Group struct {
	Value            string   `json:"value"`
	Count            *int     `json:"count,omitempty"`
	Share            *float64 `json:"share,omitempty"`
	Target           *float64 `json:"target,omitempty"`
	UnderRepresented bool     `json:"under_represented"`
	Suppressed       bool     `json:"suppressed"`
}

// AttributeReport is the audit of one attribute, with its coverage: how
// many of the audited subjects declared it.
type AttributeReport struct {
	Attribute string  `json:"attribute"`
	Declared  int     `json:"declared"` // subjects who declared it
	Total     int     `json:"total"`    // subjects audited
	Groups    []Group `json:"groups"`
}

// CoverageText is the coverage in words and lang's numbers: "0 of 120
// declared", "41,7 % (50 von 120) angegeben".
func (ar *AttributeReport) CoverageText(lang string) string {
	return Coverage(lang, ar.Declared, ar.Total)
}

// ShareText is the group's share in lang's numbers ("41,7 %"), "" when
// suppressed.
func (g *Group) ShareText(lang string) string {
	if g.Share == nil {
		return ""
	}
	return Percent(lang, *g.Share)
}

// TargetText is the group's target share in lang's numbers.
func (g *Group) TargetText(lang string) string {
	if g.Target == nil {
		return ""
	}
	return Percent(lang, *g.Target)
}

// Report is a representation audit of one dataset version. Subjects is how
// many subjects were audited (members still consenting to the purpose),
// Declared how many of them declared any attribute.
type Report struct {
	DatasetID  string            `json:"dataset_id"`
	Version    int               `json:"version"`
	K          int               `json:"k"`
	Threshold  float64           `json:"threshold"` // a group is under-represented below target × this
	Subjects   int               `json:"subjects"`
	Declared   int               `json:"declared"`
	Attributes []AttributeReport `json:"attributes"`
}

// UnderRepresentedBelow is the fraction of its target share under which a
// group is flagged.
const UnderRepresentedBelow = 0.8

// Audit reports each group's share of the dataset's subjects per attribute
// against target, counting only subjects who declared attributes under the
// dataset's purpose and still hold an active consent to it. Every attribute
// is reported with its coverage (declared of audited), also when no one
// declared it. Cells under the dataset's k are suppressed; a group with a
// target share is flagged when its share is under target × 0.8 (also when
// suppressed).
func (s *Service) Audit(ctx context.Context, id string, target Target) (*Report, error) {
	if err := target.Check(); err != nil {
		return nil, err
	}
	d, err := s.dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	members, err := s.store.DatasetMembers(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	return s.audit(ctx, d, members, target)
}

func (s *Service) audit(ctx context.Context, d *likeness.Dataset, members []*likeness.DatasetMember, target Target) (*Report, error) {
	k := max(d.Profile.K, 2)
	counts := map[string]map[string]int{}
	for _, a := range Attributes {
		counts[a] = map[string]int{}
	}
	r := &Report{DatasetID: d.ID, Version: d.Version, K: k, Threshold: UnderRepresentedBelow, Attributes: []AttributeReport{}}
	seen := map[string]bool{}
	now := s.now()
	for _, m := range members {
		if seen[m.SubjectID] {
			continue
		}
		seen[m.SubjectID] = true
		if st, _ := s.engine.State(m.SubjectID, d.Purpose, now); st != likeness.StateActive {
			continue
		}
		r.Subjects++
		attrs, err := s.attributes(ctx, m.SubjectID, d.Purpose)
		if err != nil {
			return nil, err
		}
		if len(attrs) > 0 {
			r.Declared++
		}
		for a, v := range attrs {
			if c, ok := counts[a]; ok {
				c[v]++
			}
		}
	}
	for _, a := range Attributes {
		r.Attributes = append(r.Attributes, attributeReport(a, counts[a], target[a], k, r.Subjects))
	}
	return r, nil
}

// attributeReport is the table of one attribute: counts c of declared
// groups, the target shares, k and the number of subjects audited.
func attributeReport(attr string, c map[string]int, target map[string]float64, k, total int) AttributeReport {
	for g := range target {
		if _, ok := c[g]; !ok {
			c[g] = 0
		}
	}
	declared := 0
	for _, n := range c {
		declared += n
	}
	hidden := anonymize.Suppress(c, k)
	ar := AttributeReport{Attribute: attr, Declared: declared, Total: total, Groups: []Group{}}
	for g, n := range c {
		grp := Group{Value: g, Suppressed: hidden[g]}
		share := 0.0
		if declared > 0 {
			share = float64(n) / float64(declared)
		}
		if !grp.Suppressed {
			grp.Count, grp.Share = &n, &share
		}
		if t, ok := target[g]; ok {
			grp.Target = &t
			grp.UnderRepresented = share < t*UnderRepresentedBelow
		}
		ar.Groups = append(ar.Groups, grp)
	}
	sort.Slice(ar.Groups, func(i, j int) bool { return ar.Groups[i].Value < ar.Groups[j].Value })
	return ar
}

// attributes opens a subject's attributes for purpose; none if they shared
// none or their key is destroyed.
func (s *Service) attributes(ctx context.Context, subjectID, purpose string) (map[string]string, error) {
	sealed, err := s.store.SubjectAttributes(ctx, subjectID, purpose)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := s.subjects.Cipher(ctx, subjectID)
	if likeness.ErrorCode(err) == likeness.EGONE {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	plain, err := c.Open(sealed, attributesAD(subjectID, purpose))
	if err != nil {
		return nil, fmt.Errorf("dataset: open attributes: %w", err)
	}
	var attrs map[string]string
	if err := json.Unmarshal(plain, &attrs); err != nil {
		return nil, fmt.Errorf("dataset: decode attributes: %w", err)
	}
	return attrs, nil
}
