package httpapi

import (
	"net/http"

	"likeness"
)

// Committed means committed: once consent events are stored, the write
// stands, and its answer is a success even if what follows the commit
// fails. Receipts need the ledger tree brought up to date with the events;
// when that (or reading the subject) fails — storage went away just after
// the commit — the answer carries the events and "receipts_pending": true,
// and the receipts are read later from GET /v1/subjects/{id}/receipts.

// committedAnswer is the body of a grant or withdrawal.
type committedAnswer map[string]any

// receipts adds the receipts of evs to out under field (one receipt when
// single), or marks them pending.
func (s *Server) receipts(r *http.Request, out committedAnswer, evs []*likeness.ConsentEvent, field string, single bool) {
	receipts, err := s.receiptsFor(r, evs)
	if err != nil || len(receipts) != len(evs) {
		s.log.Warn("consent recorded; its receipts are pending", "route", r.Pattern, "events", len(evs), "err", err)
		out["receipts_pending"] = true
		if !single {
			out[field] = []string{}
		}
		return
	}
	if single {
		out[field] = receipts[0]
	} else {
		out[field] = receipts
	}
}
