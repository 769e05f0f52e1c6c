//! Media records (`media`): one row per stored image or audio object, with
//! its content type, size and SHA-256, the request that made it, and for a
//! resized variant the original it came from. The bytes are blobs
//! ([`crate::Blobs`]); the row is what the gateway serves them by.
//!
//! The gateway hands each record to [`MediaLog::record`], which never
//! waits; one [`MediaLogWriter`] task appends them in batches (the shared
//! pipeline of [`crate::log_writer`]; in a durable log, behind a write-ahead
//! log). A record reaches the table shortly after it is handed over, so a
//! reader that must find it at once writes it with
//! [`Store::insert_media_records`] instead.

use std::future::Future;

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, QueryBuilder};

use crate::database::{ROWS_PER_STATEMENT, on_pool, optional_text, text};
use crate::log_writer::{LogRecord, LogSender, LogWriter};
use crate::{Store, StoreError};

/// What a media object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    #[default]
    Image,
    Audio,
}

impl MediaKind {
    /// Its name in the `kind` column: `image` or `audio`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
        }
    }

    fn parse(kind: &str) -> Result<MediaKind, StoreError> {
        match kind {
            "image" => Ok(MediaKind::Image),
            "audio" => Ok(MediaKind::Audio),
            other => Err(StoreError::Corrupt(format!("unknown media kind {other:?}"))),
        }
    }
}

/// One stored media object. Holds no user content, only its description.
/// A field missing from a WAL record takes its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MediaRecord {
    /// Also its blob's key.
    pub id: String,
    /// The project whose key made it; `None` for the master key.
    pub project_id: Option<String>,
    /// The end user whose request made it, when one was named.
    pub end_user: Option<String>,
    /// The request that made it, if a request did.
    pub request_id: Option<String>,
    pub kind: MediaKind,
    pub content_type: String,
    /// In bytes.
    pub size: u64,
    /// The bytes' SHA-256, lowercase hex.
    pub sha256: String,
    /// For a resized or re-encoded variant, the original's id.
    pub source_id: Option<String>,
    pub created_at_ms: i64,
}

impl MediaRecord {
    /// The most records one listing returns.
    pub const MAX_LIMIT: u32 = 1000;
}

#[derive(FromRow)]
struct MediaColumns {
    id: String,
    project_id: Option<String>,
    end_user: Option<String>,
    request_id: Option<String>,
    kind: String,
    content_type: String,
    size: i64,
    sha256: String,
    source_id: Option<String>,
    created_at_ms: i64,
}

impl TryFrom<MediaColumns> for MediaRecord {
    type Error = StoreError;

    fn try_from(row: MediaColumns) -> Result<Self, StoreError> {
        Ok(MediaRecord {
            kind: MediaKind::parse(&row.kind)?,
            size: u64::try_from(row.size)
                .map_err(|_| StoreError::Corrupt(format!("negative media size {}", row.size)))?,
            id: row.id,
            project_id: row.project_id,
            end_user: row.end_user,
            request_id: row.request_id,
            content_type: row.content_type,
            sha256: row.sha256,
            source_id: row.source_id,
            created_at_ms: row.created_at_ms,
        })
    }
}

const MEDIA_COLUMNS: &str = "id, project_id, end_user, request_id, kind, content_type, size, sha256, source_id, created_at_ms";

/// The media log's sending side, cloned into every request. Never blocks.
pub type MediaLog = LogSender<MediaRecord>;

/// The media log's writer task.
pub type MediaLogWriter = LogWriter<MediaRecord>;

impl LogRecord for MediaRecord {
    const LOG: &'static str = "media log";

    fn insert_batch(
        store: &Store,
        batch: &[Self],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        store.insert_media_records(batch)
    }
}

impl Store {
    /// Appends media records in one transaction. Records already stored (by
    /// id) are left as they are, so a retried batch is harmless. NUL in
    /// text is stored as U+FFFD on either engine.
    pub async fn insert_media_records(&self, records: &[MediaRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            for chunk in records.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::new(format!("INSERT INTO media ({MEDIA_COLUMNS}) "));
                query.push_values(chunk, |mut row, record| {
                    row.push_bind(text(&record.id))
                        .push_bind(optional_text(&record.project_id))
                        .push_bind(optional_text(&record.end_user))
                        .push_bind(optional_text(&record.request_id))
                        .push_bind(record.kind.as_str())
                        .push_bind(text(&record.content_type))
                        // No object is 2^63 bytes.
                        .push_bind(i64::try_from(record.size).unwrap_or(i64::MAX))
                        .push_bind(text(&record.sha256))
                        .push_bind(optional_text(&record.source_id))
                        .push_bind(record.created_at_ms);
                });
                query.push(" ON CONFLICT (id) DO NOTHING");
                // Not kept prepared: each batch size is another statement.
                query.build().persistent(false).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// One media record.
    pub async fn media(&self, id: &str) -> Result<Option<MediaRecord>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {MEDIA_COLUMNS} FROM media WHERE id = "));
            query.push_bind(id.to_string());
            match query.build().fetch_optional(pool).await? {
                Some(row) => Ok(Some(MediaRecord::try_from(MediaColumns::from_row(&row)?)?)),
                None => Ok(None),
            }
        })
    }

    /// A project's media, newest first: at most `limit` (capped at
    /// [`MediaRecord::MAX_LIMIT`]).
    pub async fn media_of_project(
        &self,
        project_id: &str,
        limit: u32,
    ) -> Result<Vec<MediaRecord>, StoreError> {
        let limit = i64::from(limit.min(MediaRecord::MAX_LIMIT));
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {MEDIA_COLUMNS} FROM media WHERE project_id = "
            ));
            query
                .push_bind(project_id.to_string())
                .push(" ORDER BY created_at_ms DESC, id DESC LIMIT ")
                .push_bind(limit);
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| MediaRecord::try_from(MediaColumns::from_row(row)?))
                .collect()
        })
    }
}
