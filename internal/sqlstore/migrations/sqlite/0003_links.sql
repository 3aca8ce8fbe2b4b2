-- links are bearer links sent to people (consent pages, portal sign-in).
-- Only the SHA-256 of the link id is stored: the id itself is the secret.
CREATE TABLE links (
	id_hash    BLOB PRIMARY KEY,
	kind       TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	purposes   TEXT NOT NULL,
	return_url TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL,
	used_us    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX links_subject ON links(subject_id);
