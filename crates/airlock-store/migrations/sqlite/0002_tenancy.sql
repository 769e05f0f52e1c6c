-- Projects (tenants), their keys, the audit log, and a version number that
-- every change bumps so running instances know to reload.
CREATE TABLE projects (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    settings      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects (id),
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    settings      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT,
    revoked_at_ms BIGINT
);
CREATE INDEX api_keys_project ON api_keys (project_id);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    remote_addr TEXT,
    before      TEXT,
    after       TEXT
);

CREATE TABLE tenancy_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO tenancy_version (id, version) VALUES (1, 0);

ALTER TABLE request_log ADD COLUMN project_id TEXT;
ALTER TABLE request_log ADD COLUMN api_key_id TEXT;
ALTER TABLE request_log ADD COLUMN end_user TEXT;
ALTER TABLE request_log ADD COLUMN cost_usd DOUBLE PRECISION;
CREATE INDEX request_log_project ON request_log (project_id, started_at_ms);
CREATE INDEX request_log_key ON request_log (api_key_id, started_at_ms);
