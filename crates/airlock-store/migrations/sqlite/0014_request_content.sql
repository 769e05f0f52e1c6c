-- What a request said and what it was answered, for projects that log
-- content: redacted before it is written, beside the request's record
-- (same id), found by project and end user.
CREATE TABLE request_content (
    id            TEXT PRIMARY KEY,
    project_id    TEXT,
    end_user      TEXT,
    created_at_ms BIGINT NOT NULL,
    request       TEXT NOT NULL,
    response      TEXT NOT NULL,
    truncated     BOOLEAN NOT NULL
);
CREATE INDEX request_content_project_created ON request_content (project_id, created_at_ms);
CREATE INDEX request_content_project_user ON request_content (project_id, end_user);
