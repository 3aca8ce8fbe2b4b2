-- The register of data-subject requests. deadline_us is due_us, or
-- extended_us once extended, so overdue requests are one index range.
-- revision makes every update a compare-and-swap; claimed_us is the lease of
-- the caller performing the right, so it is performed once.
CREATE TABLE requests (
	id               TEXT PRIMARY KEY,
	subject_id       TEXT NOT NULL REFERENCES subjects(id),
	type             TEXT NOT NULL,
	purpose          TEXT NOT NULL,
	channel          TEXT NOT NULL,
	received_us      INTEGER NOT NULL,
	due_us           INTEGER NOT NULL,
	extended_us      INTEGER NOT NULL DEFAULT 0,
	extension_reason TEXT NOT NULL DEFAULT '',
	deadline_us      INTEGER NOT NULL,
	state            TEXT NOT NULL,
	completed_us     INTEGER NOT NULL DEFAULT 0,
	outcome          TEXT NOT NULL DEFAULT '',
	certificate      BLOB,
	reject_reason    TEXT NOT NULL DEFAULT '',
	claimed_us       INTEGER NOT NULL DEFAULT 0,
	revision         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX requests_state_deadline ON requests(state, deadline_us);
CREATE INDEX requests_subject ON requests(subject_id, deadline_us);
