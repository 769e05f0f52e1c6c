-- The dashboard: its signed-in users and their sessions, and the request
-- log rolled up by minute, quarter hour and day, so a chart of a month
-- reads a few thousand rows, not every request.
CREATE TABLE admin_users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

-- A session is found by its token's SHA-256; the token itself is only in
-- the browser's cookie.
CREATE TABLE admin_sessions (
    token_sha256  TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    role          TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at_ms);

-- One row per span (60, 900 or 86400 seconds), bucket start, project,
-- key, model and provider ('' when there is none). Latencies and times to
-- first token are counted in fixed buckets (see rollups.rs), from which
-- percentiles are estimated.
CREATE TABLE request_rollups (
    span_s      INTEGER NOT NULL,
    bucket_ms   BIGINT NOT NULL,
    project_id  TEXT NOT NULL,
    api_key_id  TEXT NOT NULL,
    model       TEXT NOT NULL,
    provider    TEXT NOT NULL,
    requests    BIGINT NOT NULL DEFAULT 0,
    errors      BIGINT NOT NULL DEFAULT 0,
    tokens_in   BIGINT NOT NULL DEFAULT 0,
    tokens_out  BIGINT NOT NULL DEFAULT 0,
    cost_usd    DOUBLE PRECISION NOT NULL DEFAULT 0,
    lat_0 BIGINT NOT NULL DEFAULT 0,
    lat_1 BIGINT NOT NULL DEFAULT 0,
    lat_2 BIGINT NOT NULL DEFAULT 0,
    lat_3 BIGINT NOT NULL DEFAULT 0,
    lat_4 BIGINT NOT NULL DEFAULT 0,
    lat_5 BIGINT NOT NULL DEFAULT 0,
    lat_6 BIGINT NOT NULL DEFAULT 0,
    lat_7 BIGINT NOT NULL DEFAULT 0,
    lat_8 BIGINT NOT NULL DEFAULT 0,
    lat_9 BIGINT NOT NULL DEFAULT 0,
    lat_10 BIGINT NOT NULL DEFAULT 0,
    lat_11 BIGINT NOT NULL DEFAULT 0,
    lat_12 BIGINT NOT NULL DEFAULT 0,
    lat_13 BIGINT NOT NULL DEFAULT 0,
    lat_14 BIGINT NOT NULL DEFAULT 0,
    lat_15 BIGINT NOT NULL DEFAULT 0,
    lat_16 BIGINT NOT NULL DEFAULT 0,
    lat_17 BIGINT NOT NULL DEFAULT 0,
    lat_18 BIGINT NOT NULL DEFAULT 0,
    lat_19 BIGINT NOT NULL DEFAULT 0,
    ttft_0 BIGINT NOT NULL DEFAULT 0,
    ttft_1 BIGINT NOT NULL DEFAULT 0,
    ttft_2 BIGINT NOT NULL DEFAULT 0,
    ttft_3 BIGINT NOT NULL DEFAULT 0,
    ttft_4 BIGINT NOT NULL DEFAULT 0,
    ttft_5 BIGINT NOT NULL DEFAULT 0,
    ttft_6 BIGINT NOT NULL DEFAULT 0,
    ttft_7 BIGINT NOT NULL DEFAULT 0,
    ttft_8 BIGINT NOT NULL DEFAULT 0,
    ttft_9 BIGINT NOT NULL DEFAULT 0,
    ttft_10 BIGINT NOT NULL DEFAULT 0,
    ttft_11 BIGINT NOT NULL DEFAULT 0,
    ttft_12 BIGINT NOT NULL DEFAULT 0,
    ttft_13 BIGINT NOT NULL DEFAULT 0,
    ttft_14 BIGINT NOT NULL DEFAULT 0,
    ttft_15 BIGINT NOT NULL DEFAULT 0,
    ttft_16 BIGINT NOT NULL DEFAULT 0,
    ttft_17 BIGINT NOT NULL DEFAULT 0,
    ttft_18 BIGINT NOT NULL DEFAULT 0,
    ttft_19 BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span_s, bucket_ms, project_id, api_key_id, model, provider)
);

-- Each end user's requests, tokens and spend per UTC day and project
-- (spend by end user over days, without reading the log). Personal data:
-- erasing or expiring a user's request records deletes their days here.
CREATE TABLE request_user_rollups (
    bucket_ms   BIGINT NOT NULL,
    project_id  TEXT NOT NULL,
    end_user    TEXT NOT NULL,
    requests    BIGINT NOT NULL DEFAULT 0,
    tokens_in   BIGINT NOT NULL DEFAULT 0,
    tokens_out  BIGINT NOT NULL DEFAULT 0,
    cost_usd    DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_ms, project_id, end_user)
);

-- Whether the rollups hold the request log written before them; the
-- store fills them once, when it opens.
CREATE TABLE request_rollups_state (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    built BOOLEAN NOT NULL
);
INSERT INTO request_rollups_state (id, built) VALUES (1, FALSE);

-- The request log page filters by model and end user, newest first (and
-- by a project's model without walking the model's other projects).
CREATE INDEX request_log_model ON request_log (model, started_at_ms);
CREATE INDEX request_log_project_model ON request_log (project_id, model, started_at_ms);
CREATE INDEX request_log_end_user ON request_log (end_user, started_at_ms);
