-- Replicas follow each other's uploads and erasures by time.
CREATE INDEX assets_created ON assets(created_us);
CREATE INDEX assets_erased ON assets(erased_us);
