-- Durable background jobs (pre-generation, batches, exports, sweeps): one
-- row per job, and one row per item of work it holds. params, payload and
-- result are JSON, opaque here: what they mean is the job kind's. A job's
-- state is queued, running, cancelled, completed or stopped (ended early;
-- stop_reason says why). done, failed and spend_usd are the sums over its
-- items, kept in the same transaction as each item's outcome.
CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    project_id     TEXT,
    state          TEXT NOT NULL,
    stop_reason    TEXT,
    params         TEXT NOT NULL,
    total          BIGINT NOT NULL,
    done           BIGINT NOT NULL,
    failed         BIGINT NOT NULL,
    spend_usd      DOUBLE PRECISION NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    started_at_ms  BIGINT,
    updated_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT
);
CREATE INDEX jobs_project_created ON jobs (project_id, created_at_ms);
CREATE INDEX jobs_state ON jobs (state);

-- An item is pending, running, done or failed (error says why, for a
-- person). attempts counts the runs started; an item interrupted by a
-- restart goes back to pending and runs again.
CREATE TABLE job_items (
    job_id        TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT NOT NULL,
    error         TEXT,
    attempts      INTEGER NOT NULL,
    result        TEXT,
    spend_usd     DOUBLE PRECISION NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX job_items_state ON job_items (job_id, state, seq);
