-- The transactional outbox: messages are written in the transaction of the
-- change they report; seq orders them. data is the JSON body, kept as text so
-- its bytes never change between attempts.
CREATE TABLE outbox_messages (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	type       TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	data       TEXT NOT NULL,
	created_us INTEGER NOT NULL
);
CREATE INDEX outbox_messages_subject ON outbox_messages(subject_id, seq);

-- One row per (message, sink), created when the sink first claims the message.
-- A claim leases the row until lease_until_us.
CREATE TABLE outbox_deliveries (
	msg_seq        INTEGER NOT NULL REFERENCES outbox_messages(seq),
	sink           TEXT NOT NULL,
	state          TEXT NOT NULL,
	attempts       INTEGER NOT NULL DEFAULT 0,
	next_at_us     INTEGER NOT NULL DEFAULT 0,
	lease_until_us INTEGER NOT NULL DEFAULT 0,
	last_error     TEXT NOT NULL DEFAULT '',
	delivered_us   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (msg_seq, sink)
);
CREATE INDEX outbox_deliveries_state ON outbox_deliveries(sink, state, msg_seq);
