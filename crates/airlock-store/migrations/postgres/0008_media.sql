-- One row per stored media object (an image or audio blob, whose key is the
-- id): what the gateway serves it by. kind is 'image' or 'audio'; sha256 is
-- the bytes' digest, lowercase hex; a resized or re-encoded variant names
-- its original in source_id. Ids compare byte by byte ("C").
CREATE TABLE media (
    id            TEXT COLLATE "C" PRIMARY KEY,
    project_id    TEXT,
    request_id    TEXT,
    kind          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    source_id     TEXT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX media_project ON media (project_id, created_at_ms);
CREATE INDEX media_source ON media (source_id);
