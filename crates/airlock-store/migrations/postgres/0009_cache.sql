-- One row per cached answer, by its cache key (the SHA-256 of the request's
-- canonical form, lowercase hex). The body is inline (small answers) or a
-- blob in object storage (large ones): exactly one of body and blob_key is
-- set. usage is the gateway's JSON, opaque here; cost_usd is what the answer
-- cost when it was made, so what each hit saves. An entry is expired from
-- expires_at_ms on; eviction goes by last_hit_at_ms, else created_at_ms.
-- The body is the last column, and the indexes hold every column the
-- start-up index reads and the expiry and eviction sweeps choose rows by,
-- so none of them scans the table's pages, where inline bodies are.
-- Keys compare byte by byte ("C").
CREATE TABLE cache_entries (
    key            TEXT COLLATE "C" PRIMARY KEY,
    project_id     TEXT,
    operation      TEXT NOT NULL,
    provider       TEXT NOT NULL,
    model          TEXT NOT NULL,
    status         INTEGER NOT NULL,
    content_type   TEXT NOT NULL,
    streamed       BOOLEAN NOT NULL,
    blob_key       TEXT,
    size           BIGINT NOT NULL,
    usage          TEXT,
    cost_usd       DOUBLE PRECISION,
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL,
    hits           BIGINT NOT NULL,
    last_hit_at_ms BIGINT,
    body           BYTEA,
    CHECK ((body IS NULL) <> (blob_key IS NULL))
);
CREATE INDEX cache_entries_project ON cache_entries (project_id);
CREATE INDEX cache_entries_expires ON cache_entries (expires_at_ms, key, project_id, size);
CREATE INDEX cache_entries_use ON cache_entries
    ((COALESCE(last_hit_at_ms, created_at_ms)), key, size, last_hit_at_ms, created_at_ms);
