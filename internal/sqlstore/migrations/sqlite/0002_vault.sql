CREATE TABLE assets (
	id               TEXT PRIMARY KEY,
	subject_id       TEXT NOT NULL REFERENCES subjects(id),
	purpose          TEXT NOT NULL,
	category         TEXT NOT NULL,
	content_type     TEXT NOT NULL,
	size             INTEGER NOT NULL,
	sha256           TEXT NOT NULL,
	original_sha256  TEXT NOT NULL,
	derived_from     TEXT NOT NULL,
	consent_event_id TEXT NOT NULL,
	region           TEXT NOT NULL,
	blob_key         TEXT NOT NULL,
	created_us       INTEGER NOT NULL,
	retain_until_us  INTEGER NOT NULL,
	erased_us        INTEGER NOT NULL DEFAULT 0,
	erased_reason    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX assets_subject ON assets(subject_id, created_us);
CREATE INDEX assets_parent ON assets(derived_from);
CREATE INDEX assets_retention ON assets(erased_us, retain_until_us);

-- access_log is append-only: the service never updates or deletes a row.
CREATE TABLE access_log (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	time_us    INTEGER NOT NULL,
	action     TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	role       TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	asset_id   TEXT NOT NULL,
	purpose    TEXT NOT NULL,
	recipient  TEXT NOT NULL,
	country    TEXT NOT NULL,
	allow      INTEGER NOT NULL,
	reasons    TEXT NOT NULL
);
CREATE INDEX access_log_subject ON access_log(subject_id, seq);

CREATE TABLE erasures (
	subject_id      TEXT PRIMARY KEY,
	requested_us    INTEGER NOT NULL,
	completed_us    INTEGER NOT NULL DEFAULT 0,
	ledger_index    INTEGER NOT NULL DEFAULT -1,
	certificate     BLOB
);
