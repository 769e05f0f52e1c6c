//! The response cache's rows (`cache_entries`): one cached answer per cache
//! key, its body inline or in object storage, its hits, and when it
//! expires. The cache's rules (keys, the in-memory tier, single flight,
//! deleting blobs) are the gateway's. This holds the rows, the index the
//! gateway loads at start, and the sweeps (expiry, size, clearing). A sweep
//! returns what it deleted, so the caller can delete the blobs.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use bytes::Bytes;
use sqlx::query::Query;
use sqlx::{Arguments, Database, FromRow, QueryBuilder};

use crate::database::{column_count, insert_sql, on_pool, optional_text, prepared_chunks, text};
use crate::{Store, StoreError};

/// One cached answer. Holds user content (the answer): returned only to its
/// project.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    /// The cache key: SHA-256 of the request's canonical form, lowercase
    /// hex (64 chars).
    pub key: String,
    /// The project it belongs to; `None` for the master key.
    pub project_id: Option<String>,
    /// The end user whose request made it, when one was named.
    pub end_user: Option<String>,
    /// The client operation's name ("chat.completions", "generateContent", ...).
    pub operation: String,
    /// The provider that made the answer.
    pub provider: String,
    /// The upstream model that made the answer.
    pub model: String,
    /// The answer's HTTP status.
    pub status: u16,
    /// The answer's content type.
    pub content_type: String,
    /// Whether the body is a stream's chunks rather than one body.
    pub streamed: bool,
    /// The body itself, for a small entry. Exactly one of `body` and
    /// `blob_key` is set; the database refuses a row with neither or both.
    pub body: Option<Bytes>,
    /// The body's key in object storage, for a large entry.
    pub blob_key: Option<String>,
    /// The body's size in bytes.
    pub size: u64,
    /// The answer's usage as the gateway serialises it (JSON, opaque here).
    pub usage: Option<String>,
    /// What the answer cost when it was made (USD): what each hit saves.
    pub cost_usd: Option<f64>,
    /// When the answer was made (or last refreshed).
    pub created_at_ms: i64,
    /// The entry is expired from this moment on.
    pub expires_at_ms: i64,
    /// Answers served from it.
    pub hits: i64,
    /// When it last served one.
    pub last_hit_at_ms: Option<i64>,
}

/// What the gateway keeps in memory of each stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheIndexEntry {
    pub key: String,
    /// The project it belongs to; `None` for the master key.
    pub project_id: Option<String>,
    pub expires_at_ms: i64,
    /// The body's size in bytes.
    pub size: u64,
}

/// Hits on one entry since the last batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheHits {
    pub key: String,
    /// How many hits to add.
    pub count: i64,
    /// When the latest of them was.
    pub last_hit_at_ms: i64,
}

/// A deleted entry: its blob, if it had one, is the caller's to delete.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemovedEntry {
    pub key: String,
    /// Its body's key in object storage, for a large entry.
    pub blob_key: Option<String>,
}

/// Totals over a project's entries, or over every entry.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CacheStats {
    /// Entries stored, expired ones not yet swept included.
    pub entries: u64,
    /// The bodies' sizes summed.
    pub bytes: u64,
    /// Every entry's hits summed.
    pub hits: u64,
    /// Every entry's hits times what it cost when it was made (USD).
    pub saved_usd: f64,
}

#[derive(FromRow)]
struct CacheColumns {
    key: String,
    project_id: Option<String>,
    end_user: Option<String>,
    operation: String,
    provider: String,
    model: String,
    status: i32,
    content_type: String,
    streamed: bool,
    body: Option<Vec<u8>>,
    blob_key: Option<String>,
    size: i64,
    usage: Option<String>,
    cost_usd: Option<f64>,
    created_at_ms: i64,
    expires_at_ms: i64,
    hits: i64,
    last_hit_at_ms: Option<i64>,
}

const CACHE_COLUMNS: &str = "key, project_id, end_user, operation, provider, model, status, content_type, \
     streamed, blob_key, size, usage, cost_usd, created_at_ms, expires_at_ms, hits, \
     last_hit_at_ms, body";

/// Values bound per entry: one per column of [`CACHE_COLUMNS`].
const CACHE_BINDS: usize = column_count(CACHE_COLUMNS);

/// What an entry's INSERT does when its key is stored already: every
/// column but the key is rewritten, hits included.
static REPLACE_ON_CONFLICT: LazyLock<String> = LazyLock::new(|| {
    let assignments = CACHE_COLUMNS
        .split(", ")
        .filter(|column| *column != "key")
        .map(|column| format!("{column} = excluded.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(" ON CONFLICT (key) DO UPDATE SET {assignments}")
});

/// What a deleting statement returns of each row it deleted.
const RETURNING_REMOVED: &str = " RETURNING key, blob_key";

impl TryFrom<CacheColumns> for CacheEntry {
    type Error = StoreError;

    fn try_from(row: CacheColumns) -> Result<Self, StoreError> {
        Ok(CacheEntry {
            status: u16::try_from(row.status)
                .map_err(|_| StoreError::Corrupt(format!("cache status {}", row.status)))?,
            size: read_size(row.size)?,
            key: row.key,
            project_id: row.project_id,
            end_user: row.end_user,
            operation: row.operation,
            provider: row.provider,
            model: row.model,
            content_type: row.content_type,
            streamed: row.streamed,
            body: row.body.map(Bytes::from),
            blob_key: row.blob_key,
            usage: row.usage,
            cost_usd: row.cost_usd,
            created_at_ms: row.created_at_ms,
            expires_at_ms: row.expires_at_ms,
            hits: row.hits,
            last_hit_at_ms: row.last_hit_at_ms,
        })
    }
}

/// A size as stored (no body is 2^63 bytes).
fn stored_size(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// A size read back; a negative one is corrupt data.
fn read_size(size: i64) -> Result<u64, StoreError> {
    u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("negative cache size {size}")))
}

/// Of the entries with one key, the last, in the order of their keys: one
/// statement may not change a row twice (PostgreSQL refuses it), and
/// writers that take rows' locks in one order never deadlock.
fn latest_by_key(entries: &[CacheEntry]) -> Vec<&CacheEntry> {
    let mut latest: HashMap<&str, &CacheEntry> = HashMap::with_capacity(entries.len());
    for entry in entries {
        latest.insert(&entry.key, entry);
    }
    let mut latest: Vec<&CacheEntry> = latest.into_values().collect();
    latest.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    latest
}

/// One INSERT of `entries` (see [`insert_sql`]) replacing those stored
/// already: a batch is a few statements, not one per entry (each a round
/// trip to SQLite's thread or PostgreSQL).
fn upsert_entries<'q, DB>(
    entries: &[&'q CacheEntry],
) -> Result<Query<'q, DB, DB::Arguments<'q>>, StoreError>
where
    DB: Database,
    DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    Cow<'q, str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Cow<'q, str>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q [u8]>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let sql = insert_sql::<DB>(
        "cache_entries",
        CACHE_COLUMNS,
        REPLACE_ON_CONFLICT.as_str(),
        entries.len(),
    );
    let mut arguments = DB::Arguments::<'q>::default();
    arguments.reserve(entries.len() * CACHE_BINDS, 0);
    // Each entry's values, in CACHE_COLUMNS' order.
    let mut bind = |entry: &'q CacheEntry| -> Result<(), sqlx::error::BoxDynError> {
        arguments.add(text(&entry.key))?;
        arguments.add(optional_text(&entry.project_id))?;
        arguments.add(optional_text(&entry.end_user))?;
        arguments.add(text(&entry.operation))?;
        arguments.add(text(&entry.provider))?;
        arguments.add(text(&entry.model))?;
        arguments.add(i32::from(entry.status))?;
        arguments.add(text(&entry.content_type))?;
        arguments.add(entry.streamed)?;
        arguments.add(optional_text(&entry.blob_key))?;
        arguments.add(stored_size(entry.size))?;
        arguments.add(optional_text(&entry.usage))?;
        arguments.add(entry.cost_usd)?;
        arguments.add(entry.created_at_ms)?;
        arguments.add(entry.expires_at_ms)?;
        arguments.add(entry.hits)?;
        arguments.add(entry.last_hit_at_ms)?;
        arguments.add(entry.body.as_deref())?;
        Ok(())
    };
    for entry in entries {
        bind(entry).map_err(|error| StoreError::Corrupt(format!("a cache entry: {error}")))?;
    }
    Ok(sqlx::query_with(sql, arguments))
}

/// A deleting statement's returned rows as removed entries.
fn removed(rows: Vec<(String, Option<String>)>) -> Vec<RemovedEntry> {
    rows.into_iter()
        .map(|(key, blob_key)| RemovedEntry { key, blob_key })
        .collect()
}

impl Store {
    /// Stores an entry, replacing any entry with its key: every column is
    /// rewritten, hits included.
    pub async fn cache_put(&self, entry: &CacheEntry) -> Result<(), StoreError> {
        self.cache_put_many(std::slice::from_ref(entry)).await
    }

    /// Stores entries as [`Store::cache_put`] does, in one transaction (one
    /// commit), in order: of two with one key, the later stays.
    pub async fn cache_put_many(&self, entries: &[CacheEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let latest = latest_by_key(entries);
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            for chunk in prepared_chunks(&latest) {
                upsert_entries(chunk)?.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// One entry, expired or not.
    pub async fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {CACHE_COLUMNS} FROM cache_entries WHERE key = "
            ));
            query.push_bind(key.to_string());
            match query.build_query_as::<CacheColumns>().fetch_optional(pool).await? {
                Some(row) => Ok(Some(CacheEntry::try_from(row)?)),
                None => Ok(None),
            }
        })
    }

    /// Every entry not yet expired at `now_ms`, in no set order.
    pub async fn cache_index(&self, now_ms: i64) -> Result<Vec<CacheIndexEntry>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT key, project_id, expires_at_ms, size FROM cache_entries WHERE expires_at_ms > ",
            );
            query.push_bind(now_ms);
            let rows = query
                .build_query_as::<(String, Option<String>, i64, i64)>()
                .fetch_all(pool)
                .await?;
            rows.into_iter()
                .map(|(key, project_id, expires_at_ms, size)| {
                    Ok(CacheIndexEntry { key, project_id, expires_at_ms, size: read_size(size)? })
                })
                .collect()
        })
    }

    /// Adds hits in one transaction. A key no longer stored is skipped; an
    /// entry's last hit only moves forward.
    pub async fn cache_add_hits(&self, hits: &[CacheHits]) -> Result<(), StoreError> {
        if hits.is_empty() {
            return Ok(());
        }
        // The same order in every transaction, so two writers never deadlock.
        let mut ordered: Vec<&CacheHits> = hits.iter().collect();
        ordered.sort_by(|a, b| a.key.cmp(&b.key));
        on_pool!(&self.pools, pool => {
            let mut transaction = pool.begin().await?;
            for hit in &ordered {
                let mut query = QueryBuilder::new("UPDATE cache_entries SET hits = hits + ");
                query
                    .push_bind(hit.count)
                    .push(", last_hit_at_ms = CASE WHEN last_hit_at_ms IS NULL OR last_hit_at_ms < ")
                    .push_bind(hit.last_hit_at_ms)
                    .push(" THEN ")
                    .push_bind(hit.last_hit_at_ms)
                    .push(" ELSE last_hit_at_ms END WHERE key = ")
                    .push_bind(hit.key.clone());
                query.build().execute(&mut *transaction).await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Deletes up to `limit` entries expired at `now_ms`, those that expired
    /// first, and returns them (in no set order).
    pub async fn cache_take_expired(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<RemovedEntry>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "DELETE FROM cache_entries WHERE key IN (\
                 SELECT key FROM cache_entries WHERE expires_at_ms <= ",
            );
            query
                .push_bind(now_ms)
                .push(" ORDER BY expires_at_ms, key LIMIT ")
                .push_bind(i64::from(limit))
                .push(")")
                .push(RETURNING_REMOVED);
            Ok(removed(query.build_query_as().fetch_all(pool).await?))
        })
    }

    /// Deletes one entry (say, one whose blob has gone); it, if it was there.
    pub async fn cache_remove(&self, key: &str) -> Result<Option<RemovedEntry>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("DELETE FROM cache_entries WHERE key = ");
            query.push_bind(key.to_string()).push(RETURNING_REMOVED);
            let row: Option<(String, Option<String>)> =
                query.build_query_as().fetch_optional(pool).await?;
            Ok(row.map(|(key, blob_key)| RemovedEntry { key, blob_key }))
        })
    }

    /// Deletes a project's entries (`None`: every entry of every project,
    /// the master key's included) and returns them, in no set order.
    pub async fn cache_clear(
        &self,
        project_id: Option<&str>,
    ) -> Result<Vec<RemovedEntry>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("DELETE FROM cache_entries");
            if let Some(project_id) = project_id {
                query.push(" WHERE project_id = ").push_bind(project_id.to_string());
            }
            query.push(RETURNING_REMOVED);
            Ok(removed(query.build_query_as().fetch_all(pool).await?))
        })
    }

    /// When the entries' sizes sum to more than `over_bytes`, deletes the
    /// least recently used (by last hit, else by creation) until the sum is
    /// at or below it, and returns them in no set order. Ranks every row:
    /// for a sweep, not for each request.
    pub async fn cache_evict_oldest(
        &self,
        over_bytes: u64,
    ) -> Result<Vec<RemovedEntry>, StoreError> {
        // A row goes while the rows before it in use order free less than
        // the excess (on an empty table the excess is NULL: none goes).
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "DELETE FROM cache_entries WHERE key IN (\
                 SELECT key FROM (\
                 SELECT key, SUM(size) OVER (\
                 ORDER BY COALESCE(last_hit_at_ms, created_at_ms), key \
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - size AS freed_before \
                 FROM cache_entries) AS ranked \
                 WHERE freed_before < (SELECT SUM(size) FROM cache_entries) - ",
            );
            query
                .push_bind(stored_size(over_bytes))
                .push(")")
                .push(RETURNING_REMOVED);
            Ok(removed(query.build_query_as().fetch_all(pool).await?))
        })
    }

    /// Every blob key a stored entry refers to: a blob under the cache's
    /// prefix that is not among them is an orphan.
    pub async fn cache_blob_keys(&self) -> Result<HashSet<String>, StoreError> {
        on_pool!(&self.pools, pool => {
            let rows: Vec<(String,)> = QueryBuilder::new(
                "SELECT blob_key FROM cache_entries WHERE blob_key IS NOT NULL",
            )
            .build_query_as()
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().map(|(blob_key,)| blob_key).collect())
        })
    }

    /// Totals over a project's entries (`None`: over every entry).
    pub async fn cache_stats(&self, project_id: Option<&str>) -> Result<CacheStats, StoreError> {
        let (entries, bytes, hits, saved_usd) = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(hits), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(hits * cost_usd), 0) AS DOUBLE PRECISION) FROM cache_entries",
            );
            if let Some(project_id) = project_id {
                query.push(" WHERE project_id = ").push_bind(project_id.to_string());
            }
            query
                .build_query_as::<(i64, i64, i64, f64)>()
                .fetch_one(pool)
                .await?
        });
        let count = |value: i64, what: &str| {
            u64::try_from(value)
                .map_err(|_| StoreError::Corrupt(format!("negative cache {what} {value}")))
        };
        Ok(CacheStats {
            entries: count(entries, "entries")?,
            bytes: count(bytes, "size")?,
            hits: count(hits, "hits")?,
            saved_usd,
        })
    }
}
