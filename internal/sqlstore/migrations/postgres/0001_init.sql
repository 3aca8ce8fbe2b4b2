CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value BYTEA NOT NULL
);

CREATE TABLE notice_versions (
	version    BIGINT PRIMARY KEY,
	created_us BIGINT NOT NULL,
	doc        TEXT NOT NULL
);

CREATE TABLE subjects (
	id            TEXT PRIMARY KEY,
	external_hash TEXT NOT NULL UNIQUE,
	locale        TEXT NOT NULL,
	jurisdiction  TEXT NOT NULL,
	guardian      BOOLEAN NOT NULL DEFAULT FALSE,
	created_us    BIGINT NOT NULL,
	erased_us     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE subject_keys (
	subject_id TEXT PRIMARY KEY REFERENCES subjects(id),
	wrapped    BYTEA NOT NULL
);

-- consent_events is the ledger: idx is the leaf index, leaf_hash its RFC 6962 hash.
CREATE TABLE consent_events (
	idx            BIGINT PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	subject_id     TEXT NOT NULL,
	purpose        TEXT NOT NULL,
	type           TEXT NOT NULL,
	method         TEXT NOT NULL,
	notice_version BIGINT NOT NULL,
	notice_sha256  TEXT NOT NULL,
	language       TEXT NOT NULL,
	collector      TEXT NOT NULL,
	time_us        BIGINT NOT NULL,
	sealed         BYTEA,
	leaf_hash      BYTEA NOT NULL
);
CREATE INDEX consent_events_subject ON consent_events(subject_id, idx);

CREATE TABLE checkpoints (
	size       BIGINT PRIMARY KEY,
	signed     BYTEA NOT NULL
);

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	hash       BYTEA NOT NULL UNIQUE,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	revoked_us BIGINT NOT NULL DEFAULT 0
);
