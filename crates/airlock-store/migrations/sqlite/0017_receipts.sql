-- Receipts: every request-log record's receipt as a leaf of an
-- append-only Merkle tree (RFC 9162), the tree's hashes kept as C2SP
-- tlog-tiles, and the signed checkpoints issued over it. Rows are only
-- ever inserted, except the last tile of each level, which grows until
-- it is full.
CREATE TABLE receipt_entries (
    leaf_index INTEGER PRIMARY KEY,
    receipt_id TEXT NOT NULL UNIQUE,
    project_id TEXT,
    entry      BLOB NOT NULL
);

-- A tile of level L and index N holds the hashes of the complete subtrees
-- of 256^L leaves numbered N*256 onwards, 32 bytes each (1 to 256).
CREATE TABLE receipt_tiles (
    level      INTEGER NOT NULL,
    tile_index BIGINT NOT NULL,
    hashes     BLOB NOT NULL,
    PRIMARY KEY (level, tile_index)
) WITHOUT ROWID;

-- The tree's size: the writer that appends holds this row's lock.
CREATE TABLE receipt_log (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO receipt_log (id, size) VALUES (1, 0);

CREATE TABLE receipt_checkpoints (
    size         BIGINT PRIMARY KEY,
    root_hash    BLOB NOT NULL,
    note         TEXT NOT NULL,
    signed_at_ms BIGINT NOT NULL
);
