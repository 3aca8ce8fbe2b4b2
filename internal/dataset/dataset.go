// Package dataset builds the training sets ML teams use, so that only
// consented data goes in, identities are protected, and a withdrawal reaches
// every dataset and model built on it.
//
// A build selects every live asset collected for the dataset's purpose, of
// the requested categories, whose subject holds an active consent for that
// purpose, category and recipient now (decided on the engine's batch path),
// reads each one through the vault (a logged, decided access with the
// dataset's purpose and recipient), anonymizes it under the purpose's
// profile, and writes a folder that the Hugging Face `datasets`
// imagefolder/audiofolder loaders read as is:
//
//	DIR/<dataset-id>-v<version>/metadata.jsonl   one JSON line per item
//	DIR/<dataset-id>-v<version>/data/<item_id>.<ext>
//
// Pseudonyms: every dataset version gets a fresh random 256-bit key, stored
// only wrapped by the deployment's KEK (bound to the dataset id). An item id
// is HMAC-SHA256(key, asset id) truncated to 128 bits, in hex; consent_ref
// is HMAC-SHA256(key, "consent:" + event id), likewise. Two datasets cannot
// be joined on them, and no subject, asset, external or event id leaves the
// vault. Which subjects and assets a version holds (its lineage) is kept in
// the store, never in the manifest.
//
// The manifest is immutable: its SHA-256 is recorded with the dataset. A
// withdrawal or erasure of a member (heard as a listener of consent and
// erasure) marks every version holding them tainted, with the reason and the
// event's time, and
// enqueues dataset.tainted; Rebuild makes the successor version from the
// consents as they stand, which leaves them out.
package dataset

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"likeness"
	"likeness/decision"
	"likeness/internal/anonymize"
	"likeness/internal/keys"
	"likeness/internal/vault"
	"likeness/policy"
)

// Profiles a build may name. "policy" (the default) applies what the policy
// declares for the purpose; "strict" blurs every face and anonymizes every
// voice whatever the policy says. No profile can weaken the policy's.
var Profiles = []string{"policy", "strict"}

// maxAnonymize bounds the media read into memory to be anonymized.
const maxAnonymize = 256 << 20

// Config holds what a Service is built from.
type Config struct {
	Store    likeness.Store
	Subjects Subjects
	Engine   *decision.Engine      // the decision index, for selection and rechecks
	Policy   func() *policy.Policy // the policy in force
	Vault    *vault.Vault
	KEK      keys.KEK
	Now      func() time.Time
	Rand     io.Reader
	Logger   *slog.Logger
}

// Service builds datasets and keeps their lineage. Safe for concurrent use.
type Service struct {
	store    likeness.Store
	datasets likeness.DatasetStore
	reviews  likeness.DatasetReviewStore
	subjects Subjects
	engine   *decision.Engine
	policy   func() *policy.Policy
	vault    *vault.Vault
	kek      keys.KEK
	now      func() time.Time
	rand     io.Reader
	log      *slog.Logger
}

// New returns a Service. Pass it to consent and erasure as a listener, so it
// hears of withdrawals and erasures; it hears of assets erased on their own
// from the vault (see vault.OnErased).
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Subjects == nil || cfg.Engine == nil || cfg.Policy == nil || cfg.Vault == nil || cfg.KEK == nil {
		return nil, fmt.Errorf("dataset: Store, Subjects, Engine, Policy, Vault and KEK are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: cfg.Store, datasets: cfg.Store, reviews: cfg.Store, subjects: cfg.Subjects, engine: cfg.Engine, policy: cfg.Policy, vault: cfg.Vault, kek: cfg.KEK,
		now: cfg.Now, rand: cfg.Rand, log: cfg.Logger}
	cfg.Vault.OnErased(s.assetErased)
	return s, nil
}

// BuildRequest asks for a new dataset. Out is the folder the dataset is
// written into ("" records the dataset and its manifest hash only).
type BuildRequest struct {
	Purpose    string   `json:"purpose"`
	Categories []string `json:"categories"`
	Recipient  string   `json:"recipient,omitempty"`
	Profile    string   `json:"profile,omitempty"`
	Out        string   `json:"-"`

	// Progress, when set, is called as items are written, at most once
	// every ProgressEvery (0: after every item), and once when all are;
	// with an interval, also whenever ProgressEvery passes with no report
	// and an item at work (from another goroutine, never two calls at
	// once), so that a build is never silent for longer than that.
	// Anonymizing a picture takes a tenth of a second or more of CPU, so a
	// build of thousands of them runs for minutes.
	Progress      func(BuildProgress) `json:"-"`
	ProgressEvery time.Duration       `json:"-"`
}

// BuildProgress is how far a build is: of the items selected, how many
// are done, and of those how many were held for review or skipped. Current,
// in a report made while an item is at work (see BuildRequest.Progress),
// is how long it has been; 0 in a report made as an item is done.
// Elapsed is counted on the service's clock, Current on the real one.
type BuildProgress struct {
	Items, Done, Held, Skipped int
	Elapsed                    time.Duration
	Current                    time.Duration
}

// View is a dataset as the API shows it: the record, the models trained on
// it, and when it is tainted, the models to retrain.
type View struct {
	*likeness.Dataset
	Models          []*likeness.Model `json:"models"`
	ModelsToRetrain []*likeness.Model `json:"models_to_retrain,omitempty"`
	// Path is the folder a build wrote, "" if it wrote none.
	Path string `json:"path,omitempty"`
	// Summary says, after a build, what it did (see Card.Summary).
	Summary string `json:"summary,omitempty"`
}

// Build selects, anonymizes and records a new dataset (version 1).
func (s *Service) Build(ctx context.Context, req *BuildRequest) (*View, error) {
	return s.build(ctx, req, nil)
}

// Rebuild makes the successor of dataset id from the consents as they stand
// now, with the same purpose, categories, recipient and profile: members who
// withdrew or were erased are left out. The predecessor keeps its status
// and gains successor_id. A dataset is rebuilt at most once (ECONFLICT).
func (s *Service) Rebuild(ctx context.Context, id, out string) (*View, error) {
	return s.RebuildWith(ctx, id, &BuildRequest{Out: out})
}

// RebuildWith is Rebuild writing to req.Out and reporting to req.Progress;
// the purpose, categories, recipient and profile are the predecessor's,
// whatever req says.
func (s *Service) RebuildWith(ctx context.Context, id string, req *BuildRequest) (*View, error) {
	pred, err := s.rebuildable(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.build(ctx, &BuildRequest{Purpose: pred.Purpose, Categories: pred.Categories, Recipient: pred.Recipient,
		Profile: pred.Profile.Name, Out: req.Out, Progress: req.Progress, ProgressEvery: req.ProgressEvery}, pred)
}

func (s *Service) dataset(ctx context.Context, id string) (*likeness.Dataset, error) {
	if !likeness.ValidID("dst", id) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "dataset %q not found", id)
	}
	return s.store.Dataset(ctx, id)
}

// Get returns a dataset with its models.
func (s *Service) Get(ctx context.Context, id string) (*View, error) {
	d, err := s.dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, d)
}

func (s *Service) view(ctx context.Context, d *likeness.Dataset) (*View, error) {
	models, err := s.store.DatasetModels(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	v := &View{Dataset: d, Models: models}
	if d.Tainted() {
		v.ModelsToRetrain = models
	}
	return v, nil
}

// spec is a validated build request.
type spec struct {
	purpose    string
	categories []string
	recipient  string
	profile    likeness.DatasetProfile
}

// Check validates a build request against the policy in force, as Build
// does first: a caller that must queue or wait for a build refuses a
// request that could never run before it waits.
func (s *Service) Check(req *BuildRequest) error {
	_, err := s.check(req)
	return err
}

// CheckRebuild reports, as RebuildWith does first, whether dataset id can
// be rebuilt: it exists and has no successor yet.
func (s *Service) CheckRebuild(ctx context.Context, id string) error {
	_, err := s.rebuildable(ctx, id)
	return err
}

func (s *Service) rebuildable(ctx context.Context, id string) (*likeness.Dataset, error) {
	pred, err := s.dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	if pred.SuccessorID != "" {
		return nil, likeness.Errorf(likeness.ECONFLICT, "dataset %s was already rebuilt as %s: rebuild that one", pred.ID, pred.SuccessorID)
	}
	return pred, nil
}

func (s *Service) check(req *BuildRequest) (*spec, error) {
	p := s.policy()
	pu, ok := p.Purpose(req.Purpose)
	if !ok {
		return nil, likeness.Errorf(likeness.EINVALID, "unknown purpose %q; the policy declares %v", req.Purpose, p.PurposeIDs)
	}
	if len(req.Categories) == 0 {
		return nil, likeness.Errorf(likeness.EINVALID, "categories is empty: name at least one of the purpose's data categories %v", pu.Data)
	}
	sp := &spec{purpose: pu.ID, recipient: req.Recipient}
	if sp.purpose == "" {
		sp.purpose = req.Purpose
	}
	for _, c := range req.Categories {
		if !policy.IsCategory(c) {
			return nil, likeness.Errorf(likeness.EINVALID, "unknown category %q; use one of %v", c, policy.Categories)
		}
		if !slices.Contains(pu.Data, c) {
			return nil, likeness.Errorf(likeness.EINVALID, "category %q is not one of purpose %q's data categories %v", c, req.Purpose, pu.Data)
		}
		if !slices.Contains(sp.categories, c) {
			sp.categories = append(sp.categories, c)
		}
	}
	if req.Recipient != "" && !slices.Contains(pu.Recipients, req.Recipient) {
		return nil, likeness.Errorf(likeness.EINVALID, "recipient %q is not declared for purpose %q; it declares %v", req.Recipient, req.Purpose, pu.Recipients)
	}
	prof, err := resolveProfile(pu, req.Profile)
	if err != nil {
		return nil, err
	}
	sp.profile = prof
	for _, c := range sp.categories {
		if err := anonymize.CanAnonymize(c, anonymize.Options{Faces: prof.Faces, Voice: prof.Voice}); err != nil {
			return nil, likeness.Errorf(likeness.EINVALID, "profile %q: %v", prof.Name, err)
		}
	}
	return sp, nil
}

// resolveProfile turns a profile name into the anonymization a build uses.
// A purpose that declares none gets the policy's safe default (every face
// blurred, every voice disguised).
func resolveProfile(pu *policy.Purpose, name string) (likeness.DatasetProfile, error) {
	a := pu.AnonymizationOrDefault()
	declared := likeness.DatasetProfile{Name: "policy", Faces: a.Faces, Voice: a.Voice, K: max(a.K, 2)}
	switch name {
	case "", "policy":
		return declared, nil
	case "strict":
		return likeness.DatasetProfile{Name: "strict", Faces: "blur_all", Voice: "mcadams", K: max(declared.K, 5)}, nil
	}
	return likeness.DatasetProfile{}, likeness.Errorf(likeness.EINVALID, "unknown profile %q; use one of %v", name, Profiles)
}

func datasetAD(id string) []byte { return []byte("dataset:" + id) }

// RewrapKeys rewraps every dataset's key with the KEK's primary version,
// for `likeness keys rotate`.
// Keys the primary already wrapped are left alone; it returns how many it
// rewrapped.
func RewrapKeys(ctx context.Context, store likeness.DatasetStore, kek keys.KEK) (int, error) {
	primary, n := kek.Primary(ctx), 0
	_, err := store.RewrapDatasetKeys(ctx, func(id string, w []byte) ([]byte, error) {
		if by, _ := keys.WrappedBy(w); by == primary {
			return w, nil
		}
		n++
		return kek.Rewrap(ctx, w, datasetAD(id))
	})
	return n, err
}

// KeyVersions counts the datasets' keys by the KEK version that wrapped
// them (a full scan that writes nothing), for `likeness keys retire`.
func KeyVersions(ctx context.Context, store likeness.DatasetStore) (map[string]int, error) {
	counts := map[string]int{}
	_, err := store.RewrapDatasetKeys(ctx, func(_ string, w []byte) ([]byte, error) {
		id, err := keys.WrappedBy(w)
		counts[id]++
		return w, err
	})
	return counts, err
}

// pseudonym is HMAC-SHA256(key, msg) truncated to 128 bits, in hex.
func pseudonym(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// recheck taints d if a member's consent no longer allows what it did at
// the selection.
func (s *Service) recheck(ctx context.Context, d *likeness.Dataset, members []*likeness.DatasetMember) error {
	now := s.now().UTC()
	reqs := make([]likeness.DecisionRequest, len(members))
	for i, m := range members {
		reqs[i] = likeness.DecisionRequest{SubjectID: m.SubjectID, Purpose: d.Purpose, Category: m.Category, Recipient: d.Recipient, At: now}
	}
	out := make([]likeness.Decision, len(reqs))
	s.engine.DecideBatch(reqs, out)
	for i, dec := range out {
		var reason string
		at := now
		switch {
		case dec.Reasons.Has(likeness.ReasonSubjectErased):
			reason = likeness.TaintSubjectErased
		case dec.Reasons.Has(likeness.ReasonWithdrawn):
			reason, at = likeness.TaintConsentWithdrawn, likeness.FromMicros(dec.EventTime)
		default:
			continue
		}
		if _, err := s.store.TaintSubjectDatasets(ctx, members[i].SubjectID, d.Purpose, reason, at); err != nil {
			return err
		}
	}
	return nil
}

// ConsentRecorded implements consent.Listener and erasure.Listener: a withdrawal (or expiry, or
// a reviewer's rejection) of a purpose taints that purpose's datasets holding the subject, an erasure
// every dataset holding them.
func (s *Service) ConsentRecorded(ctx context.Context, ev *likeness.ConsentEvent) error {
	var reason, purpose string
	switch ev.Type {
	case likeness.Withdraw:
		reason, purpose = likeness.TaintConsentWithdrawn, ev.Purpose
	case likeness.Expire:
		reason, purpose = likeness.TaintConsentExpired, ev.Purpose
	case likeness.ValidationRejected:
		reason, purpose = likeness.TaintConsentRejected, ev.Purpose
	case likeness.Erasure:
		reason = likeness.TaintSubjectErased
	default:
		return nil
	}
	tainted, err := s.store.TaintSubjectDatasets(context.WithoutCancel(ctx), ev.SubjectID, purpose, reason, ev.Time)
	if err != nil {
		return fmt.Errorf("dataset: taint: %w", err)
	}
	for _, d := range tainted {
		s.log.Info("dataset tainted", "dataset", d.ID, "version", d.Version, "reason", reason)
	}
	return nil
}

// Listed is a dataset version in a list: the record and how many of its
// held items wait for a reviewer.
type Listed struct {
	*likeness.Dataset
	PendingReviews int `json:"pending_reviews"`
}

// List lists every dataset version, newest first, each with its number of
// items waiting for review.
func (s *Service) List(ctx context.Context) ([]*Listed, error) {
	all, err := s.datasets.Datasets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Listed, 0, len(all))
	for _, d := range slices.Backward(all) {
		rs, err := s.heldItems(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		l := &Listed{Dataset: d}
		for _, r := range rs {
			if r.State == likeness.ReviewPending {
				l.PendingReviews++
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// assetErased taints the datasets holding an asset erased on its own: on
// request, or past its retention (see vault.OnErased). What a withdrawal or
// a person's erasure erases taints through ConsentRecorded, with its own
// reason.
func (s *Service) assetErased(ctx context.Context, assetID, reason string) error {
	var taint string
	switch reason {
	case vault.ErasedOnRequest:
		taint = likeness.TaintAssetErased
	case vault.RetentionExpired:
		taint = likeness.TaintAssetExpired
	default:
		return nil
	}
	tainted, err := s.store.TaintAssetDatasets(context.WithoutCancel(ctx), assetID, taint, s.now().UTC())
	if err != nil {
		return fmt.Errorf("dataset: taint: %w", err)
	}
	for _, d := range tainted {
		s.log.Info("dataset tainted", "dataset", d.ID, "version", d.Version, "reason", taint)
	}
	return nil
}

// RegisterModel records a model trained on a dataset version.
func (s *Service) RegisterModel(ctx context.Context, name, datasetID string) (*likeness.Model, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, likeness.Errorf(likeness.EINVALID, "name is required (at most 200 characters)")
	}
	if datasetID == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "dataset_id is required")
	}
	if _, err := s.dataset(ctx, datasetID); err != nil {
		return nil, err
	}
	m := &likeness.Model{ID: likeness.NewID("mdl"), Name: name, DatasetID: datasetID, CreatedAt: s.now().UTC(),
		CreatedBy: likeness.ActorFrom(ctx).KeyID}
	if err := s.store.InsertModel(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// LineageDataset is a dataset version as a subject's lineage shows it.
type LineageDataset struct {
	ID          string    `json:"id"`
	Version     int       `json:"version"`
	Purpose     string    `json:"purpose"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	TaintReason string    `json:"taint_reason,omitempty"`
	TaintedAt   time.Time `json:"tainted_at,omitzero"`
	SuccessorID string    `json:"successor_id,omitempty"`
}

// Lineage answers "which datasets and models used my data".
type Lineage struct {
	SubjectID string            `json:"subject_id"`
	Datasets  []LineageDataset  `json:"datasets"`
	Models    []*likeness.Model `json:"models"`
}

// Lineage lists the dataset versions holding the subject's assets and the
// models trained on them. An erased subject's lineage is gone (EGONE); the
// datasets it tainted keep their taint and models to retrain.
func (s *Service) Lineage(ctx context.Context, subjectID string) (*Lineage, error) {
	if !likeness.ValidID("sub", subjectID) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "subject not found")
	}
	if _, err := s.subjects.Subject(ctx, subjectID); err != nil {
		return nil, err // EGONE once the subject is erased, like every subject API
	}
	ds, err := s.store.SubjectDatasets(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	l := &Lineage{SubjectID: subjectID, Datasets: []LineageDataset{}, Models: []*likeness.Model{}}
	for _, d := range ds {
		l.Datasets = append(l.Datasets, LineageDataset{ID: d.ID, Version: d.Version, Purpose: d.Purpose, Status: d.Status,
			CreatedAt: d.CreatedAt, TaintReason: d.TaintReason, TaintedAt: d.TaintedAt, SuccessorID: d.SuccessorID})
		ms, err := s.store.DatasetModels(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		l.Models = append(l.Models, ms...)
	}
	return l, nil
}
