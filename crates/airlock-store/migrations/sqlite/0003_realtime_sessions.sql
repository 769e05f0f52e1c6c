-- One row per realtime (WebSocket voice) session, with its transcript as a
-- JSON array of {at_ms, role, text}. Listed newest first, by id.
-- Ids are UUIDv7 text, so they sort by time.
CREATE TABLE realtime_sessions (
    id             TEXT PRIMARY KEY,
    surface        TEXT NOT NULL,
    started_at_ms  BIGINT NOT NULL,
    ended_at_ms    BIGINT NOT NULL,
    project_id     TEXT,
    api_key_id     TEXT,
    end_user       TEXT,
    model          TEXT,
    provider       TEXT,
    upstream_model TEXT,
    key_id         TEXT,
    close_code     INTEGER NOT NULL,
    close_reason   TEXT NOT NULL,
    close_detail   TEXT,
    frames_in      BIGINT NOT NULL,
    frames_out     BIGINT NOT NULL,
    bytes_in       BIGINT NOT NULL,
    bytes_out      BIGINT NOT NULL,
    tokens_in      BIGINT,
    tokens_out     BIGINT,
    tool_calls     BIGINT NOT NULL,
    tool_failures  BIGINT NOT NULL,
    cost_usd       DOUBLE PRECISION,
    transcript     TEXT NOT NULL
);
CREATE INDEX realtime_sessions_project ON realtime_sessions (project_id, id);
CREATE INDEX realtime_sessions_key ON realtime_sessions (api_key_id, id);
CREATE INDEX realtime_sessions_started_at ON realtime_sessions (started_at_ms);
