package dataset

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"likeness"
)

// Card is a dataset version's account of itself, for the people who use it
// and those who check it: what it is for, on what basis, what went in, what
// was done to protect the people in it and how that was checked, what was
// left out, and where it comes from. A build writes it as card.json and
// card.md beside the manifest and stores it with the dataset.
type Card struct {
	DatasetID    string    `json:"dataset_id"`
	Version      int       `json:"version"`
	Purpose      string    `json:"purpose"`
	PurposeTitle string    `json:"purpose_title"`
	Recipient    string    `json:"recipient,omitempty"`
	Categories   []string  `json:"categories"`
	CreatedAt    time.Time `json:"created_at"`

	ConsentBasis  CardConsent       `json:"consent_basis"`
	Counts        CardCounts        `json:"counts"`
	Anonymization CardAnonymization `json:"anonymization"`
	Excluded      map[string]int    `json:"excluded"` // reason → items left out
	// NotAnonymizable says, of the items left out as not_anonymizable,
	// why each could not be: what → items.
	NotAnonymizable map[string]int `json:"not_anonymizable,omitempty"`
	Reviews         CardReviews    `json:"reviews"`
	Audit           *Report        `json:"audit"`
	Lineage         CardLineage    `json:"lineage"`

	// Taint is, when the card is read from the API after the dataset was
	// tainted, why and since when, and the successor to use: the files a
	// build wrote cannot change, so the card read later says it.
	Taint *CardTaint `json:"taint,omitempty"`
}

// CardTaint says that a dataset version must no longer be used.
type CardTaint struct {
	Reason      string    `json:"reason"`
	Since       time.Time `json:"since"`
	SuccessorID string    `json:"successor_id,omitempty"`
	// NewestID is the newest version of its line (its successor's
	// successor, and so on), where that is not this one; NewestTainted
	// says that it is tainted too, and must be rebuilt before use.
	NewestID      string `json:"newest_id,omitempty"`
	NewestTainted bool   `json:"newest_tainted,omitempty"`
}

// CardConsent is the legal basis of a dataset: every item rests on an
// active consent of its subject to the purpose, decided at the build.
type CardConsent struct {
	Basis    string `json:"basis"`
	Consents int    `json:"consents"` // distinct consent events the items rest on
}

// CardCounts are the dataset's sizes.
type CardCounts struct {
	Selected    int            `json:"selected"` // assets whose consent allowed them
	Items       int            `json:"items"`
	Subjects    int            `json:"subjects"`
	PerCategory map[string]int `json:"per_category"`
}

// CardAnonymization is what was done to the media and how it was checked.
type CardAnonymization struct {
	Profile string `json:"profile"`
	Faces   string `json:"faces"`
	Voice   string `json:"voice"`
	K       int    `json:"k"`
	// Reason is the policy's written reason for leaving faces or voices as
	// recorded, when it does.
	Reason string `json:"reason,omitempty"`
	// MetadataStripped: images and recordings that were re-encoded carry
	// pixels and samples only.
	MetadataStripped bool `json:"metadata_stripped"`

	ImagesSearched    int `json:"images_searched"` // images searched for faces (12 poses each)
	FacesFound        int `json:"faces_found"`
	FacesCovered      int `json:"faces_covered"`
	VoicesTransformed int `json:"voices_transformed"`
	AsRecorded        int `json:"as_recorded"` // items copied unchanged
}

// CardReviews is the human review of items whose protection a build could
// not show.
type CardReviews struct {
	SentToReview     int `json:"sent_to_review"`     // held back by this build
	IncludedApproved int `json:"included_approved"`  // shipped on an earlier approval
	ExcludedByReview int `json:"excluded_by_review"` // left out on an earlier exclusion
}

// CardLineage places the version among its predecessors.
type CardLineage struct {
	PredecessorID  string `json:"predecessor_id,omitempty"`
	ManifestSHA256 string `json:"manifest_sha256"`
}

// tally counts outcomes for the card.
type tally struct {
	searched, faces, covered, voices, asRecorded, approved int
	perCategory                                            map[string]int
	unsupported                                            map[string]int // why → items left out as not anonymizable
}

func newTally() *tally { return &tally{perCategory: map[string]int{}, unsupported: map[string]int{}} }

func (t *tally) add(o *outcome) {
	t.perCategory[o.line.Category]++
	switch {
	case o.searched:
		t.searched++
		t.faces += o.faces
		t.covered += o.covered
	case o.voice:
		t.voices++
	default:
		t.asRecorded++
	}
	if o.approved {
		t.approved++
	}
}

func (s *Service) newCard(ctx context.Context, d *likeness.Dataset, sp *spec, selected int, members []*likeness.DatasetMember,
	reviews []*likeness.DatasetReview, t *tally) (*Card, error) {
	p := s.policy()
	pu, _ := p.Purpose(d.Purpose)
	title := d.Purpose
	if l := p.Languages; len(l) > 0 && pu.Title[l[0]] != "" {
		title = pu.Title[l[0]]
	}
	consents := map[string]bool{}
	for _, m := range members {
		consents[m.ConsentEventID] = true
	}
	c := &Card{DatasetID: d.ID, Version: d.Version, Purpose: d.Purpose, PurposeTitle: title, Recipient: d.Recipient,
		Categories: d.Categories, CreatedAt: d.CreatedAt,
		ConsentBasis: CardConsent{Basis: "consent of each subject to this purpose (GDPR Art. 6(1)(a) and 9(2)(a)), active when the dataset was built",
			Consents: len(consents)},
		Counts: CardCounts{Selected: selected, Items: d.ItemCount, Subjects: d.SubjectCount, PerCategory: t.perCategory},
		Anonymization: CardAnonymization{Profile: sp.profile.Name, Faces: sp.profile.Faces, Voice: sp.profile.Voice, K: sp.profile.K,
			MetadataStripped: t.searched+t.voices > 0, ImagesSearched: t.searched, FacesFound: t.faces, FacesCovered: t.covered,
			VoicesTransformed: t.voices, AsRecorded: t.asRecorded},
		Excluded:        map[string]int{},
		NotAnonymizable: t.unsupported,
		Reviews:         CardReviews{SentToReview: len(reviews), IncludedApproved: t.approved, ExcludedByReview: d.Skipped["excluded_by_review"]},
		Lineage:         CardLineage{PredecessorID: d.PredecessorID, ManifestSHA256: d.ManifestSHA256},
	}
	if a := pu.AnonymizationOrDefault(); sp.profile.Name == "policy" && a.LeavesAsRecorded(d.Categories) {
		c.Anonymization.Reason = a.Reason
	}
	for reason, n := range d.Skipped {
		if reason != "sent_to_review" {
			c.Excluded[reason] = n
		}
	}
	var err error
	if c.Audit, err = s.audit(ctx, d, members, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// Card returns the card a build stored with dataset id.
//
// A tainted dataset's card says so (Taint), with the successor if any.
func (s *Service) Card(ctx context.Context, id string) (*Card, error) {
	d, err := s.dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := s.reviews.DatasetCard(ctx, id)
	if err != nil {
		return nil, err
	}
	var c Card
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("dataset: decode card: %w", err)
	}
	if d.Tainted() {
		c.Taint = &CardTaint{Reason: d.TaintReason, Since: d.TaintedAt, SuccessorID: d.SuccessorID}
		// The successor may be tainted in its turn: the card points at the
		// newest version of the line, and says whether it is usable.
		last, err := s.newest(ctx, d)
		if err != nil {
			return nil, err
		}
		if last.ID != d.ID {
			c.Taint.NewestID, c.Taint.NewestTainted = last.ID, last.Tainted()
		}
	}
	return &c, nil
}

// newest returns the newest version of d's line: d, or the last of its
// successors.
func (s *Service) newest(ctx context.Context, d *likeness.Dataset) (*likeness.Dataset, error) {
	last := d
	for range maxSuccessors {
		if last.SuccessorID == "" {
			break
		}
		var err error
		if last, err = s.dataset(ctx, last.SuccessorID); err != nil {
			return nil, err
		}
	}
	return last, nil
}

// maxSuccessors bounds the walk from a version to the newest of its line
// (a line is a chain of rebuilds, each a version).
const maxSuccessors = 10000

// Summary is the card in one line, for the CLI and the log.
func (c *Card) Summary() string {
	a := c.Anonymization
	parts := []string{nof(c.Counts.Items, "item") + " of " + nof(c.Counts.Subjects, "subject")}
	if c.Counts.Items == 0 {
		parts[0] += " (" + emptyBecause(c) + ")"
	}
	if a.ImagesSearched > 0 {
		parts = append(parts, fmt.Sprintf("searched %s for faces, blurred %d of %s", nof(a.ImagesSearched, "image"), a.FacesCovered, nof(a.FacesFound, "face box")))
	}
	if a.VoicesTransformed > 0 {
		parts = append(parts, fmt.Sprintf("voice transformed in %d", a.VoicesTransformed))
	}
	if a.AsRecorded > 0 {
		parts = append(parts, fmt.Sprintf("%d as recorded", a.AsRecorded))
	}
	if r := c.Reviews; r.SentToReview > 0 {
		parts = append(parts, fmt.Sprintf("%d sent to review: no face found for sure", r.SentToReview))
	}
	if n := c.Reviews.IncludedApproved; n > 0 {
		parts = append(parts, fmt.Sprintf("%d included on approval", n))
	}
	for _, reason := range sortedKeys(c.Excluded) {
		parts = append(parts, fmt.Sprintf("%d left out (%s)", c.Excluded[reason], leftOutBecause(reason)))
	}
	return strings.Join(parts, "; ")
}

// emptyBecause says why a version holds no item: only a successor can be
// empty (a first build of nothing records nothing).
func emptyBecause(c *Card) string {
	if c.Counts.Selected == 0 {
		return "this version is empty: no asset of its line may be used for this purpose now (withdrawn, erased or expired); train on nothing of it"
	}
	return "this version is empty: every asset selected was held for review or left out (see below)"
}

// leftOutBecause says an exclusion reason in words.
func leftOutBecause(reason string) string {
	switch reason {
	case "excluded_by_review":
		return "excluded by a reviewer"
	case "not_anonymizable":
		return "in a format that cannot be anonymized"
	case "too_large_to_anonymize":
		return "too large to anonymize"
	case "consent_changed":
		return "consent withdrawn or person erased during the build"
	}
	return reason
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Markdown renders the card for people (in English, the language of the
// files the ML team receives).
func (c *Card) Markdown() string {
	var b strings.Builder
	f := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	a := c.Anonymization
	f("# Dataset %s, version %d", c.DatasetID, c.Version)
	f("")
	if t := c.Taint; t != nil {
		next := "rebuild it (`likeness dataset rebuild " + c.DatasetID + "`) and retrain on the successor"
		switch {
		case t.NewestTainted:
			next = "its successors down to the newest, " + t.NewestID + ", are tainted too: rebuild that one (`likeness dataset rebuild " + t.NewestID + "`) and retrain on the result"
		case t.NewestID != "" && t.NewestID != t.SuccessorID:
			next = "use the newest of its successors, " + t.NewestID + ", and retrain on it"
		case t.SuccessorID != "":
			next = "use its successor " + t.SuccessorID + " and retrain on it"
		}
		f("**Tainted since %s (%s): do not use this version; %s.**", t.Since.Format(time.RFC3339), t.Reason, next)
		f("")
	}
	f("- Purpose: %s (`%s`)", c.PurposeTitle, c.Purpose)
	if c.Recipient != "" {
		f("- Recipient: %s", c.Recipient)
	}
	f("- Categories: %s", strings.Join(c.Categories, ", "))
	f("- Built: %s", c.CreatedAt.Format(time.RFC3339))
	f("")
	f("## Consent basis")
	f("")
	f("Every item rests on the %s; %s in all.", c.ConsentBasis.Basis, nof(c.ConsentBasis.Consents, "consent record"))
	f("")
	f("## Counts")
	f("")
	f("%s of %s, from %s whose consent allowed them.", nof(c.Counts.Items, "item"), nof(c.Counts.Subjects, "subject"), nof(c.Counts.Selected, "asset"))
	if c.Counts.Items == 0 {
		f("")
		f("**%s.**", emptyBecause(c))
	}
	for _, cat := range sortedKeys(c.Counts.PerCategory) {
		f("- %s: %d", cat, c.Counts.PerCategory[cat])
	}
	f("")
	f("## Anonymization")
	f("")
	f("Profile `%s`: faces %s, voice %s, k = %d (the representation audit below suppresses every group of fewer than k people).", a.Profile, a.Faces, a.Voice, a.K)
	if a.Reason != "" {
		f("The policy leaves faces or voices as recorded, because: %s", a.Reason)
	}
	f("")
	f("- Images searched for faces (every face of 24 pixels or more, in twelve poses 30° apart): %d; face boxes found: %d; blurred: %d", a.ImagesSearched, a.FacesFound, a.FacesCovered)
	if a.ImagesSearched > 0 {
		f("  (A box is a face, or a place the search looked at again because it half looked like one and blurs rather than guess: more boxes than people.)")
	}
	f("- Voices transformed (keyed McAdams per speaker, pitch shift): %d", a.VoicesTransformed)
	f("- Items as recorded: %d", a.AsRecorded)
	f("- Metadata stripped from re-encoded items: %s", yesNo(a.MetadataStripped))
	f("")
	f("## Reviews and exclusions")
	f("")
	f("- Sent to human review (no face found for sure; not in this dataset): %d", c.Reviews.SentToReview)
	f("- Included on a reviewer's approval: %d", c.Reviews.IncludedApproved)
	f("- Left out on a reviewer's exclusion: %d", c.Reviews.ExcludedByReview)
	for _, reason := range sortedKeys(c.Excluded) {
		if reason != "excluded_by_review" {
			f("- Left out, %s (`%s`): %d", leftOutBecause(reason), reason, c.Excluded[reason])
		}
		if reason == "not_anonymizable" {
			for _, why := range sortedKeys(c.NotAnonymizable) {
				f("  - %s: %d", why, c.NotAnonymizable[why])
			}
		}
	}
	f("")
	f("## Representation audit")
	f("")
	if au := c.Audit; au != nil {
		f("Cells counting fewer than %d subjects are suppressed.", au.K)
		for _, ar := range au.Attributes {
			f("- %s: %s", ar.Attribute, ar.CoverageText("en"))
		}
	}
	f("")
	f("## Lineage")
	f("")
	if c.Lineage.PredecessorID != "" {
		f("- Successor of %s", c.Lineage.PredecessorID)
	} else {
		f("- First version")
	}
	f("- Manifest SHA-256: `%s`", c.Lineage.ManifestSHA256)
	return b.String()
}

// nof is n and noun, plural unless n is 1: "1 item", "2 items".
// yesNo is a card's word for a flag.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func nof(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "x") || strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun) // "face boxes"
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
