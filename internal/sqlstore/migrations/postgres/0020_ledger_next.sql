-- ledger_next holds the next ledger index in its one row. An append takes
-- its indexes by updating the row, as late as it can in its transaction:
-- the row lock orders appends from every replica, held only from there to
-- commit, so indexes stay dense and in commit order.
CREATE TABLE ledger_next (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	next BIGINT NOT NULL
);
INSERT INTO ledger_next (id, next) SELECT 1, COALESCE(MAX(idx) + 1, 0) FROM consent_events;
