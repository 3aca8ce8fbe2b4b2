-- links are bearer links sent to people (consent pages, portal sign-in).
-- Only the SHA-256 of the link id is stored: the id itself is the secret.
CREATE TABLE links (
	id_hash    BYTEA PRIMARY KEY,
	kind       TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	purposes   TEXT NOT NULL,
	return_url TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL,
	used_us    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX links_subject ON links(subject_id);
