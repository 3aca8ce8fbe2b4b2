-- ended_sessions are console sessions signed out before their cookie
-- expires: a hash naming the session, and when the cookie would have
-- expired (after which the row may go).
CREATE TABLE ended_sessions (
	id       TEXT PRIMARY KEY,
	until_us BIGINT NOT NULL
);
CREATE INDEX ended_sessions_until ON ended_sessions(until_us);
