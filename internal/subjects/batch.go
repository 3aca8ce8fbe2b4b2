package subjects

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"likeness"
	"likeness/internal/keys"
)

// NewSubject asks for a subject as CreateSubject (or, with Guardian,
// CreateMinor) does.
type NewSubject struct {
	ExternalID   string
	Locale       string
	Jurisdiction string
	Guardian     bool
}

// Ensured answers one NewSubject.
type Ensured struct {
	Subject *likeness.Subject
	Created bool
	// Cipher holds a subject's data key when EnsureSubjects created the
	// subject, so what is recorded with it can be sealed without unwrapping
	// the key again; nil otherwise (use Registry.Cipher). The caller closes
	// it.
	Cipher *Cipher
	// Err is the entry's own failure: EINVALID for a bad field, EGONE for
	// a person who was erased.
	Err error
}

// wrapWorkers bounds the key wraps in flight: a KMS answers each over the
// network, so wrapping in parallel is what keeps a batch fast.
const wrapWorkers = 8

// EnsureSubjects is CreateSubject for many people at once: it validates each
// entry as CreateSubject does, finds the existing ones in one read, and
// creates the rest with one transaction. Entries with the same external id
// get the same subject (created once). It returns an error only when nothing
// can be said about any entry.
func (r *Registry) EnsureSubjects(ctx context.Context, reqs []NewSubject) ([]Ensured, error) {
	reqs = slices.Clone(reqs) // locales are filled in below
	out := make([]Ensured, len(reqs))
	hashes := make([]string, len(reqs))
	first := map[string]int{} // hash → first entry asking for it
	var lookup []string
	for i, q := range reqs {
		locale, err := r.check(q.ExternalID, q.Locale, q.Jurisdiction)
		if err != nil {
			out[i].Err = err
			continue
		}
		reqs[i].Locale = locale
		hashes[i] = r.ExternalHash(q.ExternalID)
		if _, ok := first[hashes[i]]; !ok {
			first[hashes[i]] = i
			lookup = append(lookup, hashes[i])
		}
	}
	existing, err := r.store.SubjectsByExternalHash(ctx, lookup)
	if err != nil {
		return nil, err
	}
	var missing []int // first entries of people not stored yet
	for _, h := range lookup {
		if _, ok := existing[h]; !ok {
			missing = append(missing, first[h])
		}
	}
	made, err := r.createMany(ctx, reqs, hashes, missing)
	if err != nil {
		return nil, err
	}
	for i := range reqs {
		if out[i].Err != nil {
			continue
		}
		if m, ok := made[hashes[i]]; ok && first[hashes[i]] == i {
			out[i] = m
			continue
		}
		sub := existing[hashes[i]]
		if m, ok := made[hashes[i]]; ok {
			sub = m.Subject // a later entry for a person this call created
		}
		if sub.Erased() {
			out[i].Err = likeness.Errorf(likeness.EGONE, "subject was erased")
			continue
		}
		out[i].Subject = sub
	}
	return out, nil
}

// createMany creates the subjects of entries idx (one per person) in one
// transaction and returns them by external hash. A person another process
// created in the meantime comes back as it is stored, Created false.
func (r *Registry) createMany(ctx context.Context, reqs []NewSubject, hashes []string, idx []int) (map[string]Ensured, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	now := r.now().UTC()
	subs := make([]*likeness.Subject, len(idx))
	deks := make([][]byte, len(idx))
	for k, i := range idx {
		q := reqs[i]
		subs[k] = &likeness.Subject{ID: likeness.NewID("sub"), ExternalHash: hashes[i], Locale: q.Locale,
			Jurisdiction: q.Jurisdiction, Guardian: q.Guardian, CreatedAt: now}
		dek, err := keys.NewDEK(r.rand)
		if err != nil {
			wipeAll(deks)
			return nil, err
		}
		deks[k] = dek
	}
	wrapped, err := r.wrapAll(ctx, subs, deks)
	if err != nil {
		wipeAll(deks)
		return nil, err
	}
	stored, created, err := r.store.InsertSubjects(ctx, subs, wrapped)
	if err != nil {
		wipeAll(deks)
		return nil, err
	}
	out := make(map[string]Ensured, len(idx))
	for k := range idx {
		e := Ensured{Subject: stored[k], Created: created[k]}
		if created[k] {
			r.index.PutSubject(stored[k].ID, stored[k].Jurisdiction)
			e.Cipher = &Cipher{dek: deks[k], rand: r.rand}
		} else {
			keys.Wipe(deks[k])
		}
		out[stored[k].ExternalHash] = e
	}
	return out, nil
}

// wrapAll wraps each subject's data key under the KEK, up to wrapWorkers at
// a time.
func (r *Registry) wrapAll(ctx context.Context, subs []*likeness.Subject, deks [][]byte) ([][]byte, error) {
	wrapped := make([][]byte, len(subs))
	errs := make([]error, len(subs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(wrapWorkers, len(subs)) {
		wg.Go(func() {
			for k := range next {
				wrapped[k], errs[k] = r.kek.Wrap(ctx, deks[k], subjectAD(subs[k].ID))
			}
		})
	}
	for k := range subs {
		next <- k
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("subjects: wrap subject key: %w", err)
		}
	}
	return wrapped, nil
}

func wipeAll(deks [][]byte) {
	for _, d := range deks {
		keys.Wipe(d)
	}
}
