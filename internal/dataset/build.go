package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"likeness"
	"likeness/internal/anonymize"
	"likeness/internal/keys"
	"likeness/internal/vault"
)

// ManifestLine is one line of metadata.jsonl.
type ManifestLine struct {
	FileName   string `json:"file_name"` // relative to metadata.jsonl, as the HF loaders expect
	ItemID     string `json:"item_id"`
	Category   string `json:"category"`
	MediaType  string `json:"media_type"`
	SHA256     string `json:"sha256"`
	ConsentRef string `json:"consent_ref"`
	// Anonymization says what was done to the item: "blurred 3 faces",
	// "voice transformed", "approved after review: no face found",
	// "as recorded".
	Anonymization string `json:"anonymization"`
}

// item is one selected asset under its pseudonym in the version.
type item struct {
	Selected
	itemID string
}

// outcome is what became of one item, for the manifest and the card.
type outcome struct {
	line           *ManifestLine
	faces, covered int  // faces found and covered (images searched)
	searched       bool // the image was searched for faces
	voice          bool // the voice was transformed
	approved       bool // shipped on a reviewer's approval
}

// heldError holds an item back for human review, with the reason.
type heldError string

func (e heldError) Error() string { return "sent to review: " + string(e) }

// skipError leaves an item out of a dataset, counted under its reason.
type skipError string

func (e skipError) Error() string { return "skipped: " + string(e) }

// unsupportedError leaves out an item whose format cannot be anonymized
// (skipError "not_anonymizable"), saying why: the card counts the items
// per why, so that whoever collects them learns what to send instead.
type unsupportedError struct{ why string }

func (e unsupportedError) Error() string { return "skipped: not anonymizable: " + e.why }

// build makes one dataset version (the successor of pred when it is not
// nil). It is kept as one function because it is the build sequence in
// order: select, make the pseudonym key, write the items, seal the manifest,
// record; the per-item work is in writeItem.
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
	denied := map[string]int{}
	selected, err := s.selectFor(ctx, sp, now, denied)
	if err != nil {
		return nil, err
	}
	if len(selected) == 0 && pred == nil {
		// A successor may be empty (everyone withdrew): it records that.
		// A first version of nothing records nothing.
		return nil, nothingToBuild(sp, denied)
	}
	decisions, err := s.reviews.AssetReviewDecisions(ctx, sp.purpose)
	if err != nil {
		return nil, err
	}

	// The pseudonym key of this version.
	key, err := keys.NewDEK(s.rand)
	if err != nil {
		return nil, err
	}
	defer keys.Wipe(key)
	if d.WrappedKey, err = s.kek.Wrap(ctx, key, datasetAD(d.ID)); err != nil {
		return nil, fmt.Errorf("dataset: wrap key: %w", err)
	}
	items := make([]item, len(selected))
	for i, c := range selected {
		items[i] = item{c, pseudonym(key, c.AssetID)}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].itemID < items[j].itemID })

	// Media through the vault, anonymized, into a folder that appears
	// under its final name only once complete.
	w, err := newWriter(req.Out, d)
	if err != nil {
		return nil, err
	}
	defer w.abort()
	var manifest strings.Builder
	var members []*likeness.DatasetMember
	var reviews []*likeness.DatasetReview
	tally := newTally()
	subjects := map[string]bool{}
	prog := s.newProgress(req, len(items))
	defer prog.close()
	for _, it := range items {
		prog.begin()
		out, err := s.writeMember(ctx, w, d, sp.profile, key, it, decisions[it.AssetID])
		var skip skipError
		var held heldError
		var unsupported unsupportedError
		switch {
		case errors.As(err, &unsupported):
			d.Skipped["not_anonymizable"]++
			tally.unsupported[unsupported.why]++
			prog.add(&prog.p.Skipped)
			continue
		case errors.As(err, &skip):
			d.Skipped[string(skip)]++
			prog.add(&prog.p.Skipped)
			continue
		case errors.As(err, &held):
			d.Skipped["sent_to_review"]++
			reviews = append(reviews, &likeness.DatasetReview{DatasetID: d.ID, ItemID: it.itemID, AssetID: it.AssetID,
				Purpose: d.Purpose, Category: it.Category, Reason: string(held), State: likeness.ReviewPending, CreatedAt: now})
			prog.add(&prog.p.Held)
			continue
		case err != nil:
			return nil, err
		}
		appendLine(&manifest, out)
		tally.add(out)
		members = append(members, &likeness.DatasetMember{DatasetID: d.ID, ItemID: it.itemID, AssetID: it.AssetID,
			SubjectID: it.SubjectID, Category: it.Category, ConsentEventID: it.EventID})
		subjects[it.SubjectID] = true
		prog.add(nil)
	}
	prog.end()
	sum := sha256.Sum256([]byte(manifest.String()))
	d.ManifestSHA256 = hex.EncodeToString(sum[:])
	d.ItemCount, d.SubjectCount = len(members), len(subjects)
	card, err := s.newCard(ctx, d, sp, len(selected), members, reviews, tally)
	if err != nil {
		return nil, err
	}
	if err := w.finish([]byte(manifest.String()), card); err != nil {
		return nil, err
	}
	return s.record(ctx, d, members, reviews, card, w)
}

// progress reports a build's items to its request's Progress as they are
// done, and, while an item is at work (a photograph of tens of megapixels
// is searched for faces for many seconds), that it still is: with an
// interval, a build never goes silent for longer than it.
type progress struct {
	req         *BuildRequest
	now         func() time.Time
	start, last time.Time

	mu       sync.Mutex // guards what follows, and serializes reports
	p        BuildProgress
	itemAt   time.Time // when the item at work began; zero between items
	reported time.Time // the last report (real time, as the watch counts)
	stop     chan struct{}
	stopped  sync.WaitGroup
}

func (s *Service) newProgress(req *BuildRequest, items int) *progress {
	t := s.now()
	p := &progress{req: req, now: s.now, start: t, last: t, p: BuildProgress{Items: items}, reported: time.Now()}
	if req.Progress != nil && req.ProgressEvery > 0 {
		p.stop = make(chan struct{})
		p.stopped.Add(1)
		go p.watch(max(req.ProgressEvery, minWatch))
	}
	return p
}

// minWatch is the shortest interval the watch reports at: a shorter one
// asked for (a test's nanosecond) would only spin it.
const minWatch = 10 * time.Millisecond

// begin marks the start of the next item.
func (p *progress) begin() {
	p.mu.Lock()
	p.itemAt = time.Now()
	p.mu.Unlock()
}

// watch reports, whenever every has passed since the last report with an
// item at work, how long that item has been at work.
func (p *progress) watch(every time.Duration) {
	defer p.stopped.Done()
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-timer.C:
		}
		p.mu.Lock()
		wait := every - time.Since(p.reported)
		if wait <= 0 {
			if !p.itemAt.IsZero() {
				q := p.p
				q.Elapsed, q.Current = p.now().Sub(p.start), max(time.Since(p.itemAt), time.Nanosecond)
				p.req.Progress(q)
				p.reported = time.Now()
			}
			wait = every
		}
		p.mu.Unlock()
		timer.Reset(wait)
	}
}

// add counts one more item done, and in *also when it is not nil (the
// held or skipped count), and reports when ProgressEvery has passed.
func (p *progress) add(also *int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.itemAt = time.Time{}
	p.p.Done++
	if also != nil {
		*also++
	}
	if p.req.Progress == nil || p.p.Done == p.p.Items {
		return // end reports the last
	}
	if t := p.now(); t.Sub(p.last) >= p.req.ProgressEvery {
		p.last = t
		p.p.Elapsed = t.Sub(p.start)
		p.req.Progress(p.p)
		p.reported = time.Now()
	}
}

// close stops the watch, if any: the build is over, done or failed.
func (p *progress) close() {
	if p.stop != nil {
		close(p.stop)
		p.stopped.Wait()
		p.stop = nil
	}
}

// end reports the build's items all done.
func (p *progress) end() {
	p.close()
	if p.req.Progress != nil {
		p.p.Elapsed = p.now().Sub(p.start)
		p.req.Progress(p.p)
	}
}

// nothingToBuild is the error of a first build that selected nothing: what
// was looked for and, when assets were found, why each was left out.
func nothingToBuild(sp *spec, denied map[string]int) error {
	cats := strings.Join(sp.categories, ", ")
	what := "purpose " + sp.purpose
	if sp.recipient != "" {
		what += " for recipient " + sp.recipient
	}
	if len(denied) == 0 {
		return likeness.Errorf(likeness.EUNPROCESSABLE, "nothing to build: no live %s asset was collected for purpose %s; nothing was recorded", cats, sp.purpose)
	}
	var why []string
	for _, r := range sortedKeys(denied) {
		why = append(why, fmt.Sprintf("%s (%d)", r, denied[r]))
	}
	return likeness.Errorf(likeness.EUNPROCESSABLE, "nothing to build: no %s asset may be used for %s now; the decisions denied them: %s; nothing was recorded",
		cats, what, strings.Join(why, ", "))
}

// unsupportedWhy is what an anonymize.ErrUnsupported says past its
// generic start, or the media type alone.
func unsupportedWhy(err error, mediaType string) string {
	why := strings.TrimPrefix(strings.TrimPrefix(err.Error(), anonymize.ErrUnsupported.Error()), ": ")
	if why == "" || why == err.Error() {
		return mediaType + " cannot be anonymized"
	}
	return why
}

// selectFor lists the live assets of the spec's purpose and categories and
// decides them on the engine's batch path, counting in denied why those
// it leaves out were denied.
func (s *Service) selectFor(ctx context.Context, sp *spec, now time.Time, denied map[string]int) ([]Selected, error) {
	var cands []Candidate
	if err := s.store.ForEachAsset(ctx, func(a *likeness.Asset) error {
		if !a.Erased() && a.Purpose == sp.purpose && slices.Contains(sp.categories, a.Category) {
			cands = append(cands, Candidate{AssetID: a.ID, SubjectID: a.SubjectID, Category: a.Category, ContentType: a.ContentType})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("dataset: list assets: %w", err)
	}
	return Select(s.engine, cands, sp.purpose, sp.recipient, now, denied), nil
}

// record stores the dataset, its lineage, its review queue and its card,
// then publishes the folder.
func (s *Service) record(ctx context.Context, d *likeness.Dataset, members []*likeness.DatasetMember,
	reviews []*likeness.DatasetReview, card *Card, w *writer) (*View, error) {
	if err := s.datasets.InsertDataset(ctx, d, members); err != nil {
		return nil, err
	}
	// Held items are in no folder and no member list: if queueing them
	// fails they stay out, and the next build queues them again.
	if err := s.reviews.InsertDatasetReviews(ctx, reviews); err != nil {
		return nil, err
	}
	cj, err := json.Marshal(card)
	if err != nil {
		return nil, err
	}
	if err := s.reviews.PutDatasetCard(ctx, d.ID, cj); err != nil {
		return nil, err
	}
	if err := w.publish(); err != nil {
		return nil, err
	}
	// A withdrawal that landed between the selection and the insert
	// found no members to taint: look again now that they are recorded.
	if err := s.recheck(ctx, d, members); err != nil {
		s.log.Error("dataset recheck after build failed", "dataset", d.ID, "err", err)
	}
	if fresh, err := s.datasets.Dataset(ctx, d.ID); err == nil {
		d = fresh
	}
	v, err := s.view(ctx, d)
	if err != nil {
		return nil, err
	}
	v.Path, v.Summary = w.final, card.Summary()
	s.log.Info("dataset built", "dataset", d.ID, "version", d.Version, "items", d.ItemCount, "subjects", d.SubjectCount,
		"sent_to_review", len(reviews))
	return v, nil
}

// writeMember writes item it of d as a member: anonymized under profile,
// its speaker pseudonymous under the version's key, and its manifest line
// naming its consent by that key.
func (s *Service) writeMember(ctx context.Context, w *writer, d *likeness.Dataset, profile likeness.DatasetProfile, key []byte,
	it item, decision *likeness.DatasetReview) (*outcome, error) {
	o := anonymize.Options{Faces: profile.Faces, Voice: profile.Voice,
		Speaker: anonymize.Speaker{Key: key, ID: pseudonym(key, "speaker:"+it.SubjectID)}}
	out, err := s.writeItem(ctx, w, d, it, o, decision)
	if err != nil {
		return nil, err
	}
	out.line.ConsentRef = pseudonym(key, "consent:"+it.EventID)
	return out, nil
}

// appendLine adds out's line to a manifest.
func appendLine(manifest *strings.Builder, out *outcome) {
	b, _ := json.Marshal(out.line)
	manifest.Write(b)
	manifest.WriteByte('\n')
}

// writeItem reads one asset through the vault, anonymizes it and writes it.
// An item a reviewer excluded is skipped; one whose protection cannot be
// shown is held for review (heldError) unless a reviewer approved it.
func (s *Service) writeItem(ctx context.Context, w *writer, d *likeness.Dataset, it item, opts anonymize.Options,
	decision *likeness.DatasetReview) (*outcome, error) {
	if decision != nil && decision.State == likeness.ReviewExcluded {
		return nil, skipError("excluded_by_review")
	}
	_, rc, err := s.vault.Open(ctx, &vault.Access{AssetID: it.AssetID, Purpose: d.Purpose, Recipient: d.Recipient})
	if err != nil {
		var denied *likeness.DeniedError
		if errors.As(err, &denied) || likeness.ErrorCode(err) == likeness.EGONE || likeness.ErrorCode(err) == likeness.ENOTFOUND {
			return nil, skipError("consent_changed") // withdrawn or erased since the selection
		}
		return nil, err
	}
	defer rc.Close()
	res := &outcome{}
	mt, note := it.ContentType, "as recorded"
	var src io.Reader = rc
	if anonymize.Needed(it.Category, mt, opts) {
		data, err := io.ReadAll(io.LimitReader(rc, maxAnonymize+1))
		if err != nil {
			return nil, fmt.Errorf("dataset: read asset: %w", err)
		}
		if len(data) > maxAnonymize {
			return nil, skipError("too_large_to_anonymize")
		}
		out, err := anonymize.Apply(it.Category, mt, data, opts)
		var review *anonymize.ReviewError
		switch {
		case errors.Is(err, anonymize.ErrUnsupported):
			return nil, unsupportedError{why: unsupportedWhy(err, mt)}
		case errors.Is(err, anonymize.ErrTooLarge):
			return nil, skipError("too_large_to_anonymize")
		case errors.As(err, &review):
			// Protection could not be shown: never shipped unless a
			// person looked and approved this asset.
			if decision == nil || decision.State != likeness.ReviewApproved {
				return nil, heldError(review.Report.Reason)
			}
			out = &anonymize.Outcome{Data: review.Data, MediaType: review.MediaType, Faces: review.Report}
			res.approved, note = true, "approved after review: "+review.Report.Reason
		case err != nil:
			return nil, fmt.Errorf("dataset: anonymize: %w", err)
		}
		if f := out.Faces; f != nil {
			res.searched, res.faces, res.covered = true, len(f.Faces), len(f.Blurred)
			if !res.approved {
				note = facesNote(f)
			}
		}
		if out.Voice {
			res.voice, note = true, "voice transformed"
		}
		src, mt = strings.NewReader(string(out.Data)), out.MediaType
	}
	name := "data/" + it.itemID + extension(mt)
	sum, err := w.file(name, src)
	if err != nil {
		return nil, err
	}
	res.line = &ManifestLine{FileName: name, ItemID: it.itemID, Category: it.Category, MediaType: mt, SHA256: sum, Anonymization: note}
	return res, nil
}

// facesNote says what the face search did to one image.
func facesNote(r *anonymize.Report) string {
	n := fmt.Sprintf("blurred %d face", len(r.Blurred))
	if len(r.Blurred) != 1 {
		n += "s"
	}
	if r.Kept != nil {
		n += ", kept the subject's"
	}
	return n
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
