-- portal_sessions are people's signed-in portal visits. Only the SHA-256
-- of the session id is stored: the id itself is the secret the cookie holds.
CREATE TABLE portal_sessions (
	id_hash    BYTEA PRIMARY KEY,
	subject_id TEXT NOT NULL,
	opened_by  TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL
);
CREATE INDEX portal_sessions_subject ON portal_sessions(subject_id);
CREATE INDEX portal_sessions_expires ON portal_sessions(expires_us);
