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
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
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
// hears of withdrawals and erasures.
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
	s := &Service{store: cfg.Store, datasets: cfg.Store, subjects: cfg.Subjects, engine: cfg.Engine, policy: cfg.Policy, vault: cfg.Vault, kek: cfg.KEK,
		now: cfg.Now, rand: cfg.Rand, log: cfg.Logger}
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
}

// View is a dataset as the API shows it: the record, the models trained on
// it, and when it is tainted, the models to retrain.
type View struct {
	*likeness.Dataset
	Models          []*likeness.Model `json:"models"`
	ModelsToRetrain []*likeness.Model `json:"models_to_retrain,omitempty"`
	// Path is the folder a build wrote, "" if it wrote none.
	Path string `json:"path,omitempty"`
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
	pred, err := s.dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	if pred.SuccessorID != "" {
		return nil, likeness.Errorf(likeness.ECONFLICT, "dataset %s was already rebuilt as %s: rebuild that one", pred.ID, pred.SuccessorID)
	}
	return s.build(ctx, &BuildRequest{Purpose: pred.Purpose, Categories: pred.Categories, Recipient: pred.Recipient,
		Profile: pred.Profile.Name, Out: out}, pred)
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
func resolveProfile(pu *policy.Purpose, name string) (likeness.DatasetProfile, error) {
	declared := likeness.DatasetProfile{Name: "policy", Faces: "none", Voice: "none", K: 5}
	if a := pu.Anonymization; a != nil {
		declared.Faces, declared.Voice, declared.K = a.Faces, a.Voice, max(a.K, 2)
	}
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

// ManifestLine is one line of metadata.jsonl.
type ManifestLine struct {
	FileName   string `json:"file_name"` // relative to metadata.jsonl, as the HF loaders expect
	ItemID     string `json:"item_id"`
	Category   string `json:"category"`
	MediaType  string `json:"media_type"`
	SHA256     string `json:"sha256"`
	ConsentRef string `json:"consent_ref"`
}

func (s *Service) build(ctx context.Context, req *BuildRequest, pred *likeness.Dataset) (*View, error) {
	sp, err := s.check(req)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	d := &likeness.Dataset{ID: likeness.NewID("dst"), Version: 1, Status: likeness.DatasetReady, Purpose: sp.purpose,
		Categories: sp.categories, Recipient: sp.recipient, Profile: sp.profile, CreatedAt: now,
		CreatedBy: likeness.ActorFrom(ctx).KeyID, Skipped: map[string]int{}}
	if pred != nil {
		d.Version, d.PredecessorID = pred.Version+1, pred.ID
	}

	// 1. Selection, on the engine's batch path.
	var cands []Candidate
	if err := s.store.ForEachAsset(ctx, func(a *likeness.Asset) error {
		if !a.Erased() && a.Purpose == sp.purpose && slices.Contains(sp.categories, a.Category) {
			cands = append(cands, Candidate{AssetID: a.ID, SubjectID: a.SubjectID, Category: a.Category, ContentType: a.ContentType})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("dataset: list assets: %w", err)
	}
	selected := Select(s.engine, cands, sp.purpose, sp.recipient, now)

	// 2. The pseudonym key of this version.
	key, err := keys.NewDEK(s.rand)
	if err != nil {
		return nil, err
	}
	defer keys.Wipe(key)
	if d.WrappedKey, err = s.kek.Wrap(ctx, key, datasetAD(d.ID)); err != nil {
		return nil, fmt.Errorf("dataset: wrap key: %w", err)
	}
	type item struct {
		Selected
		itemID string
	}
	items := make([]item, len(selected))
	for i, c := range selected {
		items[i] = item{c, pseudonym(key, c.AssetID)}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].itemID < items[j].itemID })

	// 3. Media through the vault, anonymized, into a folder that appears
	// under its final name only once complete.
	w, err := newWriter(req.Out, d)
	if err != nil {
		return nil, err
	}
	defer w.abort()
	opts := anonymize.Options{Faces: sp.profile.Faces, Voice: sp.profile.Voice}
	var manifest strings.Builder
	var members []*likeness.DatasetMember
	subjects := map[string]bool{}
	for _, it := range items {
		o := opts
		o.Speaker = anonymize.Speaker{Key: key, ID: pseudonym(key, "speaker:"+it.SubjectID)}
		line, err := s.writeItem(ctx, w, d, it.Selected, it.itemID, o)
		var skip skipError
		if errors.As(err, &skip) {
			d.Skipped[string(skip)]++
			continue
		}
		if err != nil {
			return nil, err
		}
		line.ConsentRef = pseudonym(key, "consent:"+it.EventID)
		b, _ := json.Marshal(line)
		manifest.Write(b)
		manifest.WriteByte('\n')
		members = append(members, &likeness.DatasetMember{DatasetID: d.ID, ItemID: it.itemID, AssetID: it.AssetID,
			SubjectID: it.SubjectID, Category: it.Category, ConsentEventID: it.EventID})
		subjects[it.SubjectID] = true
	}
	sum := sha256.Sum256([]byte(manifest.String()))
	d.ManifestSHA256 = hex.EncodeToString(sum[:])
	d.ItemCount, d.SubjectCount = len(members), len(subjects)
	if err := w.finish([]byte(manifest.String())); err != nil {
		return nil, err
	}

	// 4. The record and its lineage, in one transaction.
	if err := s.store.InsertDataset(ctx, d, members); err != nil {
		return nil, err
	}
	if err := w.publish(); err != nil {
		return nil, err
	}
	// 5. A withdrawal that landed between the selection and the insert
	// found no members to taint: look again now that they are recorded.
	if err := s.recheck(ctx, d, members); err != nil {
		s.log.Error("dataset recheck after build failed", "dataset", d.ID, "err", err)
	}
	if fresh, err := s.store.Dataset(ctx, d.ID); err == nil {
		d = fresh
	}
	v, err := s.view(ctx, d)
	if err != nil {
		return nil, err
	}
	v.Path = w.final
	s.log.Info("dataset built", "dataset", d.ID, "version", d.Version, "items", d.ItemCount, "subjects", d.SubjectCount)
	return v, nil
}

// skipError leaves an item out of a dataset, counted under its reason.
type skipError string

func (e skipError) Error() string { return "skipped: " + string(e) }

// writeItem reads one asset through the vault, anonymizes it and writes it.
func (s *Service) writeItem(ctx context.Context, w *writer, d *likeness.Dataset, c Selected, itemID string, opts anonymize.Options) (*ManifestLine, error) {
	_, rc, err := s.vault.Open(ctx, &vault.Access{AssetID: c.AssetID, Purpose: d.Purpose, Recipient: d.Recipient})
	if err != nil {
		var denied *likeness.DeniedError
		if errors.As(err, &denied) || likeness.ErrorCode(err) == likeness.EGONE || likeness.ErrorCode(err) == likeness.ENOTFOUND {
			return nil, skipError("consent_changed") // withdrawn or erased since the selection
		}
		return nil, err
	}
	defer rc.Close()
	mt := c.ContentType
	var src io.Reader = rc
	if anonymize.Needed(c.Category, mt, opts) {
		data, err := io.ReadAll(io.LimitReader(rc, maxAnonymize+1))
		if err != nil {
			return nil, fmt.Errorf("dataset: read asset: %w", err)
		}
		if len(data) > maxAnonymize {
			return nil, skipError("too_large_to_anonymize")
		}
		out, outType, err := anonymize.Media(c.Category, mt, data, opts)
		if errors.Is(err, anonymize.ErrUnsupported) {
			return nil, skipError("not_anonymizable")
		}
		if errors.Is(err, anonymize.ErrNeedsReview) {
			// Protection could not be shown (no face found): never
			// shipped. The *anonymize.ReviewError holds what a reviewer
			// needs.
			return nil, skipError("needs_review")
		}
		if err != nil {
			return nil, fmt.Errorf("dataset: anonymize: %w", err)
		}
		src, mt = strings.NewReader(string(out)), outType
	}
	name := "data/" + itemID + extension(mt)
	sum, err := w.file(name, src)
	if err != nil {
		return nil, err
	}
	return &ManifestLine{FileName: name, ItemID: itemID, Category: c.Category, MediaType: mt, SHA256: sum}, nil
}

var extensions = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic",
	"audio/wav": ".wav", "audio/mpeg": ".mp3", "audio/ogg": ".ogg", "audio/flac": ".flac", "audio/mp4": ".m4a",
	"audio/webm": ".webm", "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov",
	"text/plain": ".txt", "application/json": ".json",
}

func extension(mediaType string) string {
	mt, _, _ := strings.Cut(mediaType, ";")
	if e, ok := extensions[strings.TrimSpace(mt)]; ok {
		return e
	}
	return ".bin"
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

// ConsentRecorded implements consent.Listener and erasure.Listener: a withdrawal (or expiry) of a
// purpose taints that purpose's datasets holding the subject, an erasure
// every dataset holding them.
func (s *Service) ConsentRecorded(ctx context.Context, ev *likeness.ConsentEvent) error {
	var reason, purpose string
	switch ev.Type {
	case likeness.Withdraw:
		reason, purpose = likeness.TaintConsentWithdrawn, ev.Purpose
	case likeness.Expire:
		reason, purpose = likeness.TaintConsentExpired, ev.Purpose
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

// writer writes a dataset folder under a temporary name and renames it
// once the record is stored, so a folder under its final name is complete.
// With no folder it only hashes.
type writer struct {
	tmp, final string
	done       bool
}

func newWriter(out string, d *likeness.Dataset) (*writer, error) {
	if out == "" {
		return &writer{}, nil
	}
	name := fmt.Sprintf("%s-v%d", d.ID, d.Version)
	w := &writer{tmp: filepath.Join(out, "."+name+".partial"), final: filepath.Join(out, name)}
	if err := os.MkdirAll(filepath.Join(w.tmp, "data"), 0o700); err != nil {
		return nil, fmt.Errorf("dataset: create output folder: %w", err)
	}
	return w, nil
}

// file writes name (relative to the folder) from r and returns its SHA-256.
func (w *writer) file(name string, r io.Reader) (string, error) {
	h := sha256.New()
	if w.tmp == "" {
		if _, err := io.Copy(h, r); err != nil {
			return "", fmt.Errorf("dataset: read asset: %w", err)
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.OpenFile(filepath.Join(w.tmp, filepath.FromSlash(name)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("dataset: write item: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.Copy(io.MultiWriter(bw, h), r); err != nil {
		f.Close()
		return "", fmt.Errorf("dataset: write item: %w", err)
	}
	if err := flushClose(bw, f); err != nil {
		return "", fmt.Errorf("dataset: write item: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func flushClose(bw *bufio.Writer, f *os.File) error {
	err := bw.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *writer) finish(manifest []byte) error {
	if w.tmp == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(w.tmp, "metadata.jsonl"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("dataset: write manifest: %w", err)
	}
	bw := bufio.NewWriter(f)
	bw.Write(manifest)
	if err := flushClose(bw, f); err != nil {
		return fmt.Errorf("dataset: write manifest: %w", err)
	}
	return nil
}

func (w *writer) publish() error {
	if w.tmp == "" {
		return nil
	}
	if err := os.Rename(w.tmp, w.final); err != nil {
		return fmt.Errorf("dataset: publish folder: %w", err)
	}
	w.done = true
	return nil
}

// abort removes a folder that was not published.
func (w *writer) abort() {
	if w.tmp != "" && !w.done {
		os.RemoveAll(w.tmp)
	}
}
