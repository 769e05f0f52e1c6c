-- Files uploaded through the OpenAI and Gemini Files APIs. The bytes are in
-- the media object store under blob_key; content_type is what the bytes
-- were sniffed as, never what the client declared. state is processing,
-- active or failed (error says why). A file belongs to its project
-- (project_id; NULL for the master key's) and is gone once expires_at_ms
-- has passed. A document's extracted text is a blob too (text_key), its
-- metadata (title, author, pages, language, ...) JSON in document.
CREATE TABLE files (
    id            TEXT PRIMARY KEY,
    project_id    TEXT,
    purpose       TEXT NOT NULL,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    bytes         BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    blob_key      TEXT NOT NULL,
    state         TEXT NOT NULL,
    error         TEXT,
    text_key      TEXT,
    document      TEXT,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT
);
CREATE INDEX files_project_created ON files (project_id, created_at_ms, id);
CREATE INDEX files_expires ON files (expires_at_ms);

-- Uploads in progress: OpenAI's Uploads API (parts added in any order,
-- ordered when completed) and Gemini's resumable uploads (chunks at
-- offsets). received is the bytes stored so far; state is pending,
-- completing, completed (file_id names the file made), cancelled or
-- expired. file_ttl_ms is how long the file made will be kept (NULL:
-- for ever).
CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    project_id    TEXT,
    protocol      TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    filename      TEXT NOT NULL,
    declared_type TEXT NOT NULL,
    bytes         BIGINT NOT NULL,
    received      BIGINT NOT NULL,
    state         TEXT NOT NULL,
    file_id       TEXT,
    file_ttl_ms   BIGINT,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX uploads_expires ON uploads (state, expires_at_ms);

-- One part of an upload, its bytes in the object store under blob_key.
CREATE TABLE upload_parts (
    id            TEXT PRIMARY KEY,
    upload_id     TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL,
    bytes         BIGINT NOT NULL,
    blob_key      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX upload_parts_upload ON upload_parts (upload_id, seq);
