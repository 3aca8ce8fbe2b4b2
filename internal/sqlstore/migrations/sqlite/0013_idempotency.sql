-- idempotency keeps the first answer to a write sent with an Idempotency-Key,
-- per caller and route, for 24 hours; in-flight rows hold the key until lease_us.
CREATE TABLE idempotency (
	scope       TEXT NOT NULL,
	idem_key    TEXT NOT NULL,
	claim       TEXT NOT NULL,
	created_us  INTEGER NOT NULL,
	lease_us    INTEGER NOT NULL,
	done        INTEGER NOT NULL DEFAULT 0,
	fingerprint TEXT NOT NULL DEFAULT '',
	status      INTEGER NOT NULL DEFAULT 0,
	header      BLOB,
	body        BLOB,
	PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_created ON idempotency(created_us);
