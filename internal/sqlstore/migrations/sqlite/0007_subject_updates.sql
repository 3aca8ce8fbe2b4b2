-- Replicas follow rectified subjects by the time of their last change.
ALTER TABLE subjects ADD COLUMN updated_us INTEGER NOT NULL DEFAULT 0;
CREATE INDEX subjects_updated ON subjects(updated_us);
