-- Datasets: immutable, versioned training sets. A version changes only from
-- ready to tainted (once) and gains a successor_id when it is rebuilt.
CREATE TABLE datasets (
	id              TEXT PRIMARY KEY,
	version         INTEGER NOT NULL,
	status          TEXT NOT NULL,
	purpose         TEXT NOT NULL,
	categories      TEXT NOT NULL,
	recipient       TEXT NOT NULL,
	profile         TEXT NOT NULL,
	item_count      INTEGER NOT NULL,
	subject_count   INTEGER NOT NULL,
	skipped         TEXT NOT NULL,
	manifest_sha256 TEXT NOT NULL,
	created_us      INTEGER NOT NULL,
	created_by      TEXT NOT NULL,
	predecessor_id  TEXT NOT NULL,
	successor_id    TEXT NOT NULL DEFAULT '',
	taint_reason    TEXT NOT NULL DEFAULT '',
	tainted_us      INTEGER NOT NULL DEFAULT 0,
	wrapped_key     BLOB NOT NULL
);

-- Lineage: which subjects' assets each dataset version holds. Never exported.
CREATE TABLE dataset_members (
	dataset_id       TEXT NOT NULL REFERENCES datasets(id),
	item_id          TEXT NOT NULL,
	asset_id         TEXT NOT NULL,
	subject_id       TEXT NOT NULL,
	category         TEXT NOT NULL,
	consent_event_id TEXT NOT NULL,
	PRIMARY KEY (dataset_id, item_id)
);
CREATE INDEX dataset_members_subject ON dataset_members(subject_id, dataset_id);

CREATE TABLE models (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	dataset_id TEXT NOT NULL REFERENCES datasets(id),
	created_us INTEGER NOT NULL,
	created_by TEXT NOT NULL
);
CREATE INDEX models_dataset ON models(dataset_id, created_us);

-- Self-declared attributes (age band, gender, …) sealed under the subject's
-- data key: erasing the key makes them unreadable.
CREATE TABLE subject_attributes (
	subject_id TEXT NOT NULL,
	purpose    TEXT NOT NULL,
	sealed     BLOB NOT NULL,
	updated_us INTEGER NOT NULL,
	PRIMARY KEY (subject_id, purpose)
);
