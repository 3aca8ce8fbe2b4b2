-- Named console operators with a password and a second factor; the access
-- log names the operator who read content and the reason they gave.
CREATE TABLE operators (
	name           TEXT PRIMARY KEY,
	role           TEXT NOT NULL,
	password_hash  TEXT NOT NULL,
	totp_sealed    BYTEA NOT NULL,
	totp_confirmed BOOLEAN NOT NULL,
	totp_step      BIGINT NOT NULL DEFAULT 0,
	failures       INTEGER NOT NULL DEFAULT 0,
	locked_us      BIGINT NOT NULL DEFAULT 0,
	created_us     BIGINT NOT NULL,
	disabled_us    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE operator_recovery_codes (
	operator TEXT NOT NULL REFERENCES operators(name),
	hash     BYTEA NOT NULL,
	used_us  BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (operator, hash)
);

ALTER TABLE access_log ADD COLUMN operator TEXT NOT NULL DEFAULT '';
ALTER TABLE access_log ADD COLUMN reason TEXT NOT NULL DEFAULT '';
