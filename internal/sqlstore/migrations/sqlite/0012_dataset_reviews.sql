-- The human review queue: dataset items whose protection a build could not
-- show (no face found). It names the asset, never holds its bytes.
CREATE TABLE dataset_reviews (
	dataset_id TEXT NOT NULL REFERENCES datasets(id),
	item_id    TEXT NOT NULL,
	asset_id   TEXT NOT NULL,
	purpose    TEXT NOT NULL,
	category   TEXT NOT NULL,
	reason     TEXT NOT NULL,
	state      TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	decided_by TEXT NOT NULL DEFAULT '',
	decided_us INTEGER NOT NULL DEFAULT 0,
	note       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (dataset_id, item_id)
);
CREATE INDEX dataset_reviews_purpose_asset ON dataset_reviews(purpose, asset_id, decided_us);

-- A dataset's card: what the build did, as JSON. Written once, with the build.
CREATE TABLE dataset_cards (
	dataset_id TEXT PRIMARY KEY REFERENCES datasets(id),
	card       TEXT NOT NULL
);
