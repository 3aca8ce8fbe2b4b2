-- A replica starting from a decision snapshot reads the subjects created since.
CREATE INDEX subjects_created ON subjects(created_us);
