-- API keys may expire, and record (to the minute) when they were last used.
ALTER TABLE api_keys ADD COLUMN expires_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN last_used_us BIGINT NOT NULL DEFAULT 0;
