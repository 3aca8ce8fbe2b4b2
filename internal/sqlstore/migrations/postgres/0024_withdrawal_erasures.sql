-- withdrawal_erasures record what each withdrawal of a purpose that does
-- not keep its data erased, with a signed certificate once done; a record
-- without one is completed when the service starts again.
CREATE TABLE withdrawal_erasures (
	event_id     TEXT PRIMARY KEY,
	subject_id   TEXT NOT NULL,
	purpose      TEXT NOT NULL,
	ledger_index BIGINT NOT NULL,
	requested_us BIGINT NOT NULL,
	completed_us BIGINT NOT NULL DEFAULT 0,
	certificate  BYTEA
);
CREATE INDEX withdrawal_erasures_subject ON withdrawal_erasures(subject_id, ledger_index);
