-- The person a kept answer is about (grant, withdraw, upload): their rows
-- are deleted with their data key on erasure, so no answer to a write about
-- them outlives it, even sealed.
ALTER TABLE idempotency ADD COLUMN subject_id TEXT NOT NULL DEFAULT '';
CREATE INDEX idempotency_subject ON idempotency(subject_id) WHERE subject_id <> '';
