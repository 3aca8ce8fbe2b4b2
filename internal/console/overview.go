package console

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"time"

	"likeness"
	"likeness/ledger"
)

// RenewalWindow is how far ahead the overview and the renewals page look
// for consents to renew, unless the operator asks otherwise.
const RenewalWindow = 30 * 24 * time.Hour

type overviewView struct {
	Subjects, Grants int
	LedgerSize       int64
	Checkpoint       *checkpointView
	Due              int
	Dead             int
	RequestsOverdue  int
	IncidentsOpen    int
	DatasetsOn       bool
	Datasets         []statusCount
}

type checkpointView struct {
	Size uint64
	Time time.Time
	Root string
}

type statusCount struct {
	Status string
	Count  int
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	v := &overviewView{}
	v.Subjects, v.Grants = h.cfg.Index.Stats()
	var err error
	if v.LedgerSize, err = h.cfg.Store.LedgerSize(ctx); err != nil {
		h.failed(w, r, s, "ledger size", err)
		return
	}
	_, signed, err := h.cfg.Store.LatestCheckpoint(ctx)
	switch {
	case likeness.ErrorCode(err) == likeness.ENOTFOUND:
	case err != nil:
		h.failed(w, r, s, "latest checkpoint", err)
		return
	default:
		v.Checkpoint = parseSigned(signed)
	}
	v.Due = len(h.cfg.Index.DueForRenewal(h.Now(), RenewalWindow, 0))
	dead, err := h.cfg.Store.DeadDeliveries(ctx, "", deadShown)
	if err != nil {
		h.failed(w, r, s, "dead deliveries", err)
		return
	}
	v.Dead = len(dead)
	ob, err := h.openObligations(r)
	if err != nil {
		h.failed(w, r, s, "list requests and incidents", err)
		return
	}
	for _, q := range ob.Requests {
		if q.Overdue {
			v.RequestsOverdue++
		}
	}
	v.IncidentsOpen = len(ob.Incidents)
	if all, ok, err := h.allDatasets(r); err != nil {
		h.failed(w, r, s, "list datasets", err)
		return
	} else if ok {
		v.DatasetsOn = true
		counts := map[string]int{}
		for _, d := range all {
			counts[d.Status]++
		}
		for _, st := range []string{likeness.DatasetReady, likeness.DatasetTainted} {
			v.Datasets = append(v.Datasets, statusCount{st, counts[st]})
			delete(counts, st)
		}
		for st, n := range counts {
			v.Datasets = append(v.Datasets, statusCount{st, n})
		}
	}
	h.render(w, r, s, http.StatusOK, "overview", &view{Title: "overview.title", Nav: "overview", Data: v})
}

// parseSigned reads a signed note's checkpoint text (the part before the
// blank line); nil if it does not parse.
func parseSigned(signed []byte) *checkpointView {
	text := signed
	if i := bytes.Index(signed, []byte("\n\n")); i >= 0 {
		text = signed[:i+1]
	}
	cp, err := ledger.ParseCheckpoint(text)
	if err != nil {
		return nil
	}
	return &checkpointView{Size: cp.Size, Time: likeness.FromMicros(cp.TimeMicros), Root: hex.EncodeToString(cp.Root[:])}
}

// allDatasets lists every dataset version; ok is false when datasets are
// not enabled in this deployment.
func (h *Handler) allDatasets(r *http.Request) ([]*likeness.Dataset, bool, error) {
	if h.cfg.Datasets == nil {
		return nil, false, nil
	}
	all, err := h.cfg.Store.Datasets(r.Context())
	return all, true, err
}
