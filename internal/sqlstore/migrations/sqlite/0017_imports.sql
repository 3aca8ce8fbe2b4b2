-- imported marks consent events brought in by `likeness import`, whose
-- time_us is when they happened in the system they came from.
ALTER TABLE consent_events ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;

-- import_marks holds one row per imported line, under its import key (the
-- SHA-256 of its import_id, or of the line), so a line is recorded once
-- however often its file is imported.
CREATE TABLE import_marks (
	import_key BLOB PRIMARY KEY,
	digest     BLOB NOT NULL,
	run        TEXT NOT NULL,
	line       INTEGER NOT NULL,
	created_us INTEGER NOT NULL
) WITHOUT ROWID;
