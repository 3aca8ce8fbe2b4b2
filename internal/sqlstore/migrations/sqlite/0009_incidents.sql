-- Personal-data breaches (GDPR Art. 33/34): the incident, who it affected
-- (computed from its scope when it was opened) and the notifications made.
CREATE TABLE incidents (
	id                TEXT PRIMARY KEY,
	title             TEXT NOT NULL,
	description       TEXT NOT NULL,
	detected_us       INTEGER NOT NULL,
	opened_us         INTEGER NOT NULL,
	opened_by         TEXT NOT NULL,
	scope             TEXT NOT NULL,
	affected_subjects INTEGER NOT NULL,
	affected_assets   INTEGER NOT NULL,
	deadline_us       INTEGER NOT NULL,
	state             TEXT NOT NULL,
	closed_us         INTEGER NOT NULL DEFAULT 0,
	close_reason      TEXT NOT NULL DEFAULT '',
	close_note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incidents_state_deadline ON incidents(state, deadline_us);

CREATE TABLE incident_subjects (
	incident_id TEXT NOT NULL REFERENCES incidents(id),
	subject_id  TEXT NOT NULL REFERENCES subjects(id),
	asset_ids   TEXT NOT NULL,
	PRIMARY KEY (incident_id, subject_id)
);

CREATE TABLE incident_notifications (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	incident_id TEXT NOT NULL REFERENCES incidents(id),
	kind        TEXT NOT NULL,
	at_us       INTEGER NOT NULL,
	reference   TEXT NOT NULL,
	count       INTEGER NOT NULL
);
CREATE INDEX incident_notifications_incident ON incident_notifications(incident_id, seq);
