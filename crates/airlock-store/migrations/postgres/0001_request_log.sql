-- One row per request the gateway answered (or that the client abandoned).
CREATE TABLE request_log (
    id             TEXT PRIMARY KEY,
    started_at_ms  BIGINT NOT NULL,
    surface        TEXT NOT NULL,
    operation      TEXT NOT NULL,
    model          TEXT,
    provider       TEXT,
    upstream_model TEXT,
    key_id         TEXT,
    status         INTEGER NOT NULL,
    latency_us     BIGINT NOT NULL,
    ttft_us        BIGINT,
    tokens_in      BIGINT,
    tokens_out     BIGINT,
    streamed       BOOLEAN NOT NULL,
    outcome        TEXT NOT NULL
);
CREATE INDEX request_log_started_at ON request_log (started_at_ms);
