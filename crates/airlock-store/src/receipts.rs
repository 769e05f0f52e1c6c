//! The receipts log's storage: each request-log record's receipt appended
//! as a leaf of one append-only Merkle tree, in the request log's own
//! transaction; the tree's hashes as C2SP tlog-tiles (`receipt_tiles`);
//! the signed checkpoints issued over it.
//!
//! The tree math and formats are `airlock_receipts`'; this module only
//! reads and writes rows. Entries and full tiles are never changed once
//! written; the last tile of each level grows until it is full.

use airlock_receipts::tiles::TileId;
use airlock_receipts::{Hash, ReceiptEntry, ReceiptUsage, leaf_hash};
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row};

use crate::database::on_pool;
use crate::request_log::RequestRecord;
use crate::{Store, StoreError};

/// What the request path knows of a request that its receipt carries
/// beyond the request-log record: its id and the digests of what was
/// exchanged. A record with claims gets a receipt; one without does not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReceiptClaims {
    pub receipt_id: String,
    pub request_sha256: Option<String>,
    pub response_sha256: Option<String>,
    pub media_sha256: Vec<String>,
    pub policy_sha256: Option<String>,
    /// The constitution's verdict, when the answer was checked.
    pub checks: Option<airlock_receipts::ReceiptChecks>,
}

/// A receipt as stored: its place in the tree and its entry's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReceipt {
    pub leaf_index: u64,
    pub receipt_id: String,
    pub project_id: Option<String>,
    pub entry: Vec<u8>,
    /// The hashes of the level-0 tile its leaf is in, as stored now.
    pub leaf_tile: Vec<Hash>,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The checkpoint as a signed note.
    pub note: String,
    pub signed_at_ms: i64,
}

/// The entry of `record`'s receipt, from the record and its claims.
pub fn receipt_entry(record: &RequestRecord, claims: &ReceiptClaims) -> ReceiptEntry {
    let time = jiff::Timestamp::from_millisecond(record.started_at_ms)
        .map(|time| format!("{time:.3}"))
        .unwrap_or_default();
    ReceiptEntry {
        receipt: claims.receipt_id.clone(),
        request: record.id.clone(),
        time,
        project: record.project_id.clone(),
        key: record.api_key_id.clone(),
        surface: record.surface.clone(),
        operation: record.operation.clone(),
        model: record.model.clone(),
        upstream_model: record.upstream_model.clone(),
        provider: record.provider.clone(),
        status: record.status,
        outcome: record.outcome.clone(),
        streamed: record.streamed,
        cache: record.cache.clone(),
        request_sha256: claims.request_sha256.clone(),
        response_sha256: claims.response_sha256.clone(),
        media_sha256: claims.media_sha256.clone(),
        usage: ReceiptUsage {
            input_tokens: record.tokens_in,
            output_tokens: record.tokens_out,
            estimated: record.tokens_estimated,
        },
        cost_usd: record.cost_usd,
        policy_sha256: claims.policy_sha256.clone(),
        checks: claims.checks.clone(),
    }
}

/// Receipts to append: id, project and entry bytes, in leaf order.
pub(crate) struct NewLeaves {
    pub(crate) rows: Vec<(String, Option<String>, Vec<u8>)>,
    pub(crate) hashes: Vec<Hash>,
}

impl NewLeaves {
    /// The receipts of `records` that carry claims.
    pub(crate) fn of(records: &[&RequestRecord]) -> NewLeaves {
        let rows: Vec<_> = records
            .iter()
            .filter_map(|record| {
                let claims = record.receipt.as_ref()?;
                let entry = receipt_entry(record, claims).to_bytes();
                Some((claims.receipt_id.clone(), record.project_id.clone(), entry))
            })
            .collect();
        let hashes = rows.iter().map(|(_, _, entry)| leaf_hash(entry)).collect();
        NewLeaves { rows, hashes }
    }
}

/// Rows per multi-row INSERT of entries.
pub(crate) const ENTRIES_PER_INSERT: usize = 256;

/// Appends `leaves` to the tree inside the caller's transaction `$tx` on
/// backend `$db` (a macro: the statements are the same on both backends
/// but their connection types are not).
macro_rules! append_leaves {
    ($tx:expr, $leaves:expr, $postgres:expr) => {{
        let leaves: &crate::receipts::NewLeaves = $leaves;
        if !leaves.rows.is_empty() {
            // PostgreSQL: instances append one at a time, in this row's lock.
            let lock = if $postgres { " FOR UPDATE" } else { "" };
            let size: i64 =
                sqlx::query_scalar(&format!("SELECT size FROM receipt_log WHERE id = 1{lock}"))
                    .fetch_one(&mut *$tx)
                    .await?;
            let size = size as u64;
            let mut partials = Vec::new();
            for (id, width) in airlock_receipts::tiles::edge_tiles(size) {
                let mut query =
                    sqlx::QueryBuilder::new("SELECT hashes FROM receipt_tiles WHERE level = ");
                query.push_bind(id.level as i64);
                query.push(" AND tile_index = ");
                query.push_bind(id.index as i64);
                let bytes: Vec<u8> = query.build_query_scalar().fetch_one(&mut *$tx).await?;
                let level = id.level as usize;
                partials.resize(partials.len().max(level + 1), Vec::new());
                partials[level] = crate::receipts::hashes_of(&bytes, width)?;
            }
            let written = airlock_receipts::tiles::append(size, &partials, &leaves.hashes)
                .map_err(|error| crate::StoreError::Corrupt(error.to_string()))?;
            for (id, hashes) in written {
                let bytes: Vec<u8> = hashes.iter().flat_map(|hash| hash.0).collect();
                let mut upsert = sqlx::QueryBuilder::new(
                    "INSERT INTO receipt_tiles (level, tile_index, hashes) VALUES (",
                );
                upsert.push_bind(id.level as i64);
                upsert.push(", ");
                upsert.push_bind(id.index as i64);
                upsert.push(", ");
                upsert.push_bind(bytes);
                upsert.push(
                    ") ON CONFLICT (level, tile_index) DO UPDATE SET hashes = excluded.hashes",
                );
                upsert.build().execute(&mut *$tx).await?;
            }
            let mut index = size as i64;
            for chunk in leaves.rows.chunks(crate::receipts::ENTRIES_PER_INSERT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO receipt_entries (leaf_index, receipt_id, project_id, entry) ",
                );
                insert.push_values(chunk, |mut row, (receipt_id, project_id, entry)| {
                    row.push_bind(index)
                        .push_bind(crate::database::text(receipt_id))
                        .push_bind(crate::database::optional_text(project_id))
                        .push_bind(entry.as_slice());
                    index += 1;
                });
                insert.build().execute(&mut *$tx).await?;
            }
            let mut update = sqlx::QueryBuilder::new("UPDATE receipt_log SET size = ");
            update.push_bind(index);
            update.push(" WHERE id = 1");
            update.build().execute(&mut *$tx).await?;
        }
    }};
}

pub(crate) use append_leaves;

/// The first `width` hashes of a stored tile's bytes.
pub(crate) fn hashes_of(bytes: &[u8], width: u64) -> Result<Vec<Hash>, StoreError> {
    let width = width as usize;
    if bytes.len() < width * 32 || !bytes.len().is_multiple_of(32) {
        return Err(StoreError::Corrupt(format!(
            "a stored tile holds {} bytes, not {width} hashes",
            bytes.len()
        )));
    }
    Ok(bytes[..width * 32]
        .chunks_exact(32)
        .map(|chunk| {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(chunk);
            Hash(hash)
        })
        .collect())
}

impl Store {
    /// How many receipts the tree holds.
    pub async fn receipt_log_size(&self) -> Result<u64, StoreError> {
        let size: i64 = on_pool!(&self.pools, pool => {
            sqlx::query_scalar("SELECT size FROM receipt_log WHERE id = 1")
                .fetch_one(pool)
                .await?
        });
        Ok(size as u64)
    }

    /// A receipt by its id, with the tile of hashes its leaf is in (read
    /// in the same statement: a proof of it reads that tile first).
    pub async fn receipt(&self, receipt_id: &str) -> Result<Option<StoredReceipt>, StoreError> {
        let row = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT e.leaf_index, e.receipt_id, e.project_id, e.entry, t.hashes \
                 FROM receipt_entries e LEFT JOIN receipt_tiles t \
                 ON t.level = 0 AND t.tile_index = e.leaf_index / 256 WHERE e.receipt_id = ",
            );
            query.push_bind(receipt_id.to_string());
            query.build().fetch_optional(pool).await?.map(|row| -> Result<_, StoreError> {
                let tile: Option<Vec<u8>> = row.try_get(4)?;
                let tile = tile.unwrap_or_default();
                Ok(StoredReceipt {
                    leaf_index: row.try_get::<i64, _>(0)? as u64,
                    receipt_id: row.try_get(1)?,
                    project_id: row.try_get(2)?,
                    entry: row.try_get(3)?,
                    leaf_tile: hashes_of(&tile, (tile.len() / 32) as u64)?,
                })
            }).transpose()?
        });
        Ok(row)
    }

    /// The entries with leaf indexes in `from..to`, in order.
    pub async fn receipt_entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let entries = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("SELECT entry FROM receipt_entries WHERE leaf_index >= ");
            query.push_bind(from as i64);
            query.push(" AND leaf_index < ");
            query.push_bind(to as i64);
            query.push(" ORDER BY leaf_index");
            query.build_query_scalar().fetch_all(pool).await?
        });
        Ok(entries)
    }

    /// The stored hashes of each tile in `ids` that exists (a tile still
    /// partial holds fewer than 256).
    pub async fn receipt_tiles(
        &self,
        ids: &[TileId],
    ) -> Result<Vec<(TileId, Vec<Hash>)>, StoreError> {
        let mut tiles = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes: Option<Vec<u8>> = on_pool!(&self.pools, pool => {
                let mut query = QueryBuilder::new("SELECT hashes FROM receipt_tiles WHERE level = ");
                query.push_bind(id.level as i64);
                query.push(" AND tile_index = ");
                query.push_bind(id.index as i64);
                query.build_query_scalar().fetch_optional(pool).await?
            });
            if let Some(bytes) = bytes {
                let width = (bytes.len() / 32) as u64;
                tiles.push((*id, hashes_of(&bytes, width)?));
            }
        }
        Ok(tiles)
    }

    /// Keeps a signed checkpoint; one already kept for its size stays.
    pub async fn insert_receipt_checkpoint(
        &self,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "INSERT INTO receipt_checkpoints (size, root_hash, note, signed_at_ms) VALUES (",
            );
            query.push_bind(checkpoint.size as i64);
            query.push(", ");
            query.push_bind(checkpoint.root.0.to_vec());
            query.push(", ");
            query.push_bind(checkpoint.note.clone());
            query.push(", ");
            query.push_bind(checkpoint.signed_at_ms);
            query.push(") ON CONFLICT (size) DO NOTHING");
            query.build().execute(pool).await?;
        });
        Ok(())
    }

    /// The checkpoint of the largest tree signed so far.
    pub async fn latest_receipt_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.checkpoint_where(" ORDER BY size DESC LIMIT 1", None)
            .await
    }

    /// The checkpoint signed for a tree of exactly `size` leaves, if one was.
    pub async fn receipt_checkpoint_at(
        &self,
        size: u64,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.checkpoint_where(" WHERE size = ", Some(size)).await
    }

    async fn checkpoint_where(
        &self,
        clause: &str,
        size: Option<u64>,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT size, root_hash, note, signed_at_ms FROM receipt_checkpoints",
            );
            query.push(clause);
            if let Some(size) = size {
                query.push_bind(size as i64);
            }
            query.build().fetch_optional(pool).await?.map(|row| -> Result<_, StoreError> {
                let root: Vec<u8> = row.try_get(1)?;
                Ok(StoredCheckpoint {
                    size: row.try_get::<i64, _>(0)? as u64,
                    root: Hash::from_slice(&root).map_err(|error| StoreError::Corrupt(error.to_string()))?,
                    note: row.try_get(2)?,
                    signed_at_ms: row.try_get(3)?,
                })
            }).transpose()?
        });
        Ok(row)
    }
}
