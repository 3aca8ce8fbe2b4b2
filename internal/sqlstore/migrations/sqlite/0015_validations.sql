-- Consent validation: a grant or renewal the policy wants a reviewer to
-- validate is marked pending in the ledger (the leaf commits to it), and a
-- reviewer's verdict is an event of its own that refers to it.
ALTER TABLE consent_events ADD COLUMN validation TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_events ADD COLUMN refers TEXT NOT NULL DEFAULT '';

-- validations is the queue of pending consents, written with the events
-- that change it. A pending item whose subject and purpose have a later
-- grant, renewal, withdrawal, expiry or erasure is superseded; that is read
-- from consent_events, not stored, so no ordinary append pays for it.
CREATE TABLE validations (
	event_id   TEXT PRIMARY KEY,
	idx        INTEGER NOT NULL,
	subject_id TEXT NOT NULL,
	purpose    TEXT NOT NULL,
	method     TEXT NOT NULL,
	collector  TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	due_us     INTEGER NOT NULL,
	state      TEXT NOT NULL,
	reviewer   TEXT NOT NULL DEFAULT '',
	decided_us INTEGER NOT NULL DEFAULT 0,
	outcome_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX validations_state_due ON validations(state, due_us);
