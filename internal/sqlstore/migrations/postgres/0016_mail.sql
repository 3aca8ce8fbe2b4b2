-- A person's contact address: its keyed hash (for "send me a link") and the
-- address sealed under the person's key, both cleared when the key is
-- destroyed.
ALTER TABLE subjects ADD COLUMN contact_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE subjects ADD COLUMN contact_sealed BYTEA;
CREATE INDEX subjects_contact ON subjects(contact_hash) WHERE contact_hash <> '';

-- An outbox message may be addressed to one sink ('' is every sink).
ALTER TABLE outbox_messages ADD COLUMN sink TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_messages_sink ON outbox_messages(sink, seq);

-- mails records every message sent to a person: what the console lists. It
-- holds a masked address, never the address; sealed holds an erasure
-- confirmation composed before the key was destroyed, until it is sent.
CREATE TABLE mails (
	msg_id     TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	kind       TEXT NOT NULL,
	to_masked  TEXT NOT NULL,
	locale     TEXT NOT NULL,
	message_id TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	created_us BIGINT NOT NULL,
	sent_us    BIGINT NOT NULL DEFAULT 0,
	sealed     BYTEA,
	PRIMARY KEY (msg_id, subject_id)
);
CREATE INDEX mails_created ON mails(created_us);
