package erasure

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"likeness"
	"likeness/ledger"
	"likeness/policy"
)

// WithdrawalVersion is the version of a withdrawal's erasure certificate.
const WithdrawalVersion = "likeness-withdrawal-erasure/1"

// WithdrawalCertificate is the signed statement of what a withdrawal
// erased (its "claims"): every asset collected for the withdrawn purpose
// under consent given before the withdrawal, and what was derived from
// them. It is signed as an erasure certificate is (ledger.CertificateType)
// and names the person only by their pseudonymous id.
type WithdrawalCertificate struct {
	Version     string         `json:"version"` // WithdrawalVersion
	Controller  string         `json:"controller"`
	Subject     string         `json:"subject"`
	Purpose     string         `json:"purpose"`
	Withdrawal  WithdrawalLeaf `json:"withdrawal"`
	CompletedAt time.Time      `json:"completed_at"`
	Assets      []string       `json:"assets"` // erased, derived ones included
}

// WithdrawalLeaf names the withdrawal in the ledger.
type WithdrawalLeaf struct {
	Event       string    `json:"event"`
	LedgerIndex int64     `json:"ledger_index"`
	Time        time.Time `json:"time"`
}

// WithdrawalStore is what Withdrawals needs from storage.
type WithdrawalStore interface {
	likeness.WithdrawalErasureStore
	SubjectAssets(ctx likeness.Context, subjectID string) ([]*likeness.Asset, error)
	SubjectEvents(ctx likeness.Context, subjectID string) ([]*likeness.ConsentEvent, error)
	Setting(ctx likeness.Context, name string) ([]byte, error)
	PutSetting(ctx likeness.Context, name string, value []byte) error
}

// AssetEraser erases the assets a withdrawal took the consent of, with
// what was derived from them, and returns every asset it erased.
// *vault.Vault implements it.
type AssetEraser interface {
	EraseWithdrawn(ctx context.Context, subjectID, purpose string, ids []string) ([]string, error)
}

// Withdrawals erases what a withdrawal took the consent of, where the
// purpose does not keep its data (policy.Purpose.ErasesOnWithdraw), as a
// step machine like EraseSubject: the record first, then the assets, then
// the signed certificate. Each step is idempotent, so a withdrawal whose
// erasure a crash cut short is completed by ResumeWithdrawals.
type Withdrawals struct {
	store  WithdrawalStore
	assets AssetEraser
	signer func() *ledger.Signer
	policy func() *policy.Policy
	now    func() time.Time
	logger *slog.Logger
}

// WithdrawalsConfig configures NewWithdrawals.
type WithdrawalsConfig struct {
	Store  WithdrawalStore
	Assets AssetEraser
	Signer func() *ledger.Signer
	Policy func() *policy.Policy
	Now    func() time.Time // defaults to time.Now
	Logger *slog.Logger
}

// NewWithdrawals returns the erasure of withdrawn consent's data.
func NewWithdrawals(cfg WithdrawalsConfig) *Withdrawals {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Withdrawals{store: cfg.Store, assets: cfg.Assets, signer: cfg.Signer, policy: cfg.Policy, now: cfg.Now, logger: cfg.Logger}
}

// EraseWithdrawn erases what the withdrawal ev (a stored event, with its
// ledger index) took the consent of, and stores a signed certificate of
// it, unless the purpose keeps its data (under the policy in force now).
// The assets are those collected for ev's purpose under consent given after
// the purpose's previous withdrawal and before ev (an asset collected under
// a later grant is not ev's), and everything derived from them. Run again,
// it erases what it finds of those still stored (an upload a replica that
// had not yet heard of the withdrawal accepted) and certifies anew; with
// nothing left, it does nothing. A withdrawal that took the consent of no
// stored asset leaves no record (nor does one of a person whose erasure
// destroyed everything first, which has a certificate of its own).
func (w *Withdrawals) EraseWithdrawn(ctx context.Context, ev *likeness.ConsentEvent) error {
	if ev.Type != likeness.Withdraw {
		return nil
	}
	if p, ok := w.policy().Purpose(ev.Purpose); !ok || !p.ErasesOnWithdraw() {
		return nil
	}
	mine, all, err := w.collected(ctx, ev)
	if err != nil {
		return err
	}
	var roots []string
	for _, a := range mine {
		if !a.Erased() {
			roots = append(roots, a.ID)
		}
	}
	rec, err := w.store.WithdrawalErasure(ctx, ev.ID)
	switch {
	case likeness.ErrorCode(err) == likeness.ENOTFOUND:
		if len(roots) == 0 {
			return nil
		}
		if rec, err = w.store.BeginWithdrawalErasure(ctx, &likeness.WithdrawalErasure{EventID: ev.ID, SubjectID: ev.SubjectID,
			Purpose: ev.Purpose, LedgerIndex: ev.LedgerIndex, RequestedAt: w.now().UTC()}); err != nil {
			return err
		}
	case err != nil:
		return err
	case len(roots) == 0 && !rec.CompletedAt.IsZero():
		return nil
	}
	if err := step("withdrawal"); err != nil {
		return err
	}
	now := map[string]bool{}
	if len(roots) > 0 {
		ids, err := w.assets.EraseWithdrawn(ctx, ev.SubjectID, ev.Purpose, roots)
		if err != nil {
			return fmt.Errorf("erasure: erase withdrawn purpose's data: %w", err)
		}
		for _, id := range ids {
			now[id] = true
		}
	}
	// The certificate lists what the withdrawal erased: of its assets and
	// what was derived from them, those erased now or, by an earlier round,
	// for that reason (not those a retention sweep or an operator erased).
	byID := map[string]*likeness.Asset{}
	for _, a := range all {
		byID[a.ID] = a
	}
	erased := []string{}
	for _, id := range withDerived(mine, all) {
		if a := byID[id]; now[id] || a.Erased() && a.ErasedReason == likeness.TaintConsentWithdrawn {
			erased = append(erased, id)
		}
	}
	cert := WithdrawalCertificate{Version: WithdrawalVersion, Controller: w.policy().Organization.Name, Subject: ev.SubjectID,
		Purpose: ev.Purpose, Withdrawal: WithdrawalLeaf{Event: ev.ID, LedgerIndex: ev.LedgerIndex, Time: ev.Time.UTC()},
		CompletedAt: w.now().UTC(), Assets: erased}
	payload, err := json.Marshal(cert)
	if err != nil {
		return err
	}
	signed, err := w.signer().SignStatement(ledger.CertificateType, payload)
	if err != nil {
		return err
	}
	return w.store.FinishWithdrawalErasure(ctx, ev.ID, cert.CompletedAt, []byte(signed))
}

// collected returns the subject's assets that ev took the consent of (see
// EraseWithdrawn), and all the subject's assets.
func (w *Withdrawals) collected(ctx context.Context, ev *likeness.ConsentEvent) (mine, all []*likeness.Asset, err error) {
	events, err := w.store.SubjectEvents(ctx, ev.SubjectID)
	if err != nil {
		return nil, nil, err
	}
	byID := map[string]*likeness.ConsentEvent{}
	var previous *likeness.ConsentEvent // the purpose's withdrawal before ev
	for _, e := range events {
		byID[e.ID] = e
		if e.ID == ev.ID {
			ev = e // as stored: whether it was imported
		}
	}
	for _, e := range events {
		if e.Type == likeness.Withdraw && e.Purpose == ev.Purpose && e.ID != ev.ID && earlier(e, ev) &&
			(previous == nil || earlier(previous, e)) {
			previous = e
		}
	}
	if all, err = w.store.SubjectAssets(ctx, ev.SubjectID); err != nil {
		return nil, nil, err
	}
	for _, a := range all {
		if a.Purpose != ev.Purpose {
			continue
		}
		if g, ok := byID[a.ConsentEventID]; ok {
			if !earlier(g, ev) || previous != nil && !earlier(previous, g) {
				continue
			}
		} else if !a.CreatedAt.Before(ev.Time) { // consent not on the ledger: by time
			continue
		}
		mine = append(mine, a)
	}
	return mine, all, nil
}

// earlier reports whether a came before b: in ledger order, which every
// replica agrees on whatever its clock says; for an imported event, by
// its time (an import appends old events at the ledger's end), then in
// ledger order.
func earlier(a, b *likeness.ConsentEvent) bool {
	if (a.Imported || b.Imported) && !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.LedgerIndex < b.LedgerIndex
}

// withDerived returns the ids of roots and of every asset of all derived
// from them, at any depth.
func withDerived(roots, all []*likeness.Asset) []string {
	in := map[string]bool{}
	out := []string{}
	for _, a := range roots {
		in[a.ID] = true
		out = append(out, a.ID)
	}
	for grew := true; grew; {
		grew = false
		for _, a := range all {
			if !in[a.ID] && a.DerivedFrom != "" && in[a.DerivedFrom] {
				in[a.ID], grew = true, true
				out = append(out, a.ID)
			}
		}
	}
	return out
}

// checkedSetting names how far in the ledger ResumeWithdrawals has seen
// every withdrawal's erasure done for good.
const checkedSetting = "withdrawal_erasures_checked"

// recheckFor is how long after a withdrawal ResumeWithdrawals keeps looking
// at it each round: an upload accepted by a replica that had not yet
// applied the withdrawal (it stops allowing within --max-staleness) is
// found and erased then.
const recheckFor = 10 * time.Minute

// ResumeWithdrawals completes the erasure of every withdrawal recorded
// since it last ran whose erasure is not done (the process stopped between
// the withdrawal and its erasure, or in the middle of it), and looks again
// at those of the last recheckFor; it returns how many withdrawals it looked
// at. It remembers how far it got, so each run reads only the withdrawals
// recorded since. One that fails is tried again on the next run, and the
// others go on; the first failure is returned.
func (w *Withdrawals) ResumeWithdrawals(ctx context.Context) (int, error) {
	var checked int64 = -1
	if b, err := w.store.Setting(ctx, checkedSetting); err == nil {
		if checked, err = strconv.ParseInt(string(b), 10, 64); err != nil {
			return 0, fmt.Errorf("erasure: setting %s: %w", checkedSetting, err)
		}
	} else if likeness.ErrorCode(err) != likeness.ENOTFOUND {
		return 0, err
	}
	seen, from, done := 0, checked, true // done: every withdrawal through checked is
	recent := w.now().Add(-recheckFor)
	var first error
	for {
		evs, err := w.store.WithdrawalsAfter(ctx, from, 500)
		if err != nil {
			return seen, err
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			from, seen = ev.LedgerIndex, seen+1
			err := w.EraseWithdrawn(ctx, ev)
			if err != nil && first == nil {
				first = fmt.Errorf("erasure: withdrawal at ledger index %d: %w", ev.LedgerIndex, err)
			}
			if done = done && err == nil && ev.Time.Before(recent); done {
				checked = ev.LedgerIndex
			}
		}
	}
	if err := w.store.PutSetting(ctx, checkedSetting, []byte(strconv.FormatInt(checked, 10))); err != nil && first == nil {
		first = err
	}
	return seen, first
}

// Run calls ResumeWithdrawals at once and then every interval until ctx
// ends, logging what it completed and any failure: a withdrawal's erasure
// that failed, or that a stopped process left undone, is done on a later
// round.
func (w *Withdrawals) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := w.ResumeWithdrawals(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			w.logger.Error("erasure of withdrawn consent's data: will retry", "err", likeness.RedactIDs(err.Error()), "retry_in", every)
		case n > 0:
			w.logger.Info("checked withdrawals' erasures", "withdrawals", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
