//! Uploaded files' rows (`files`) and uploads in progress (`uploads`,
//! `upload_parts`). The bytes live in the object store ([`crate::Blobs`])
//! under each row's `blob_key`; what the gateway checks, sniffs and
//! answers is its `files` module's. Files and uploads hold user content:
//! they are returned only to their project.

use serde_json::Value;
use sqlx::{FromRow, QueryBuilder};

use crate::database::{from_json, on_pool, optional_text, text, to_json};
use crate::{Store, StoreError};

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Stored, its text not yet extracted.
    Processing,
    /// Ready to use.
    Active,
    /// Its processing failed (the file's `error` says why).
    Failed,
}

impl FileState {
    pub fn name(self) -> &'static str {
        match self {
            FileState::Processing => "processing",
            FileState::Active => "active",
            FileState::Failed => "failed",
        }
    }

    fn parse(name: &str) -> Result<FileState, StoreError> {
        match name {
            "processing" => Ok(FileState::Processing),
            "active" => Ok(FileState::Active),
            "failed" => Ok(FileState::Failed),
            other => Err(StoreError::Corrupt(format!("unknown file state {other:?}"))),
        }
    }
}

/// One stored file.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    /// `file-` and random hex; Gemini names it `files/{id}`.
    pub id: String,
    /// The project whose key uploaded it; `None` for the master key.
    pub project_id: Option<String>,
    /// The end user a verified token named when it was uploaded.
    pub end_user: Option<String>,
    /// What it is for, as the client said (OpenAI's `purpose`).
    pub purpose: String,
    /// The name the client gave it (Gemini's display name).
    pub filename: String,
    /// What the bytes were sniffed as.
    pub content_type: String,
    pub bytes: u64,
    /// The bytes' SHA-256, in hex.
    pub sha256: String,
    pub blob_key: String,
    pub state: FileState,
    pub error: Option<String>,
    /// Where its extracted text is kept, for a document.
    pub text_key: Option<String>,
    /// A document's metadata (opaque here: the gateway's).
    pub document: Option<Value>,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
}

#[derive(FromRow)]
struct FileColumns {
    id: String,
    project_id: Option<String>,
    end_user: Option<String>,
    purpose: String,
    filename: String,
    content_type: String,
    bytes: i64,
    sha256: String,
    blob_key: String,
    state: String,
    error: Option<String>,
    text_key: Option<String>,
    document: Option<String>,
    created_at_ms: i64,
    expires_at_ms: Option<i64>,
}

const FILE_COLUMNS: &str = "id, project_id, end_user, purpose, filename, content_type, bytes, sha256, \
     blob_key, state, error, text_key, document, created_at_ms, expires_at_ms";

impl TryFrom<FileColumns> for StoredFile {
    type Error = StoreError;

    fn try_from(row: FileColumns) -> Result<Self, StoreError> {
        Ok(StoredFile {
            id: row.id,
            project_id: row.project_id,
            end_user: row.end_user,
            purpose: row.purpose,
            filename: row.filename,
            content_type: row.content_type,
            bytes: u64::try_from(row.bytes).map_err(|_| corrupt_size(row.bytes))?,
            sha256: row.sha256,
            blob_key: row.blob_key,
            state: FileState::parse(&row.state)?,
            error: row.error,
            text_key: row.text_key,
            document: row.document.as_deref().map(from_json).transpose()?,
            created_at_ms: row.created_at_ms,
            expires_at_ms: row.expires_at_ms,
        })
    }
}

fn corrupt_size(bytes: i64) -> StoreError {
    StoreError::Corrupt(format!("a negative size ({bytes})"))
}

fn size(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Which files a listing shows, in which order, from where.
#[derive(Debug, Clone, Copy)]
pub struct FileListing<'a> {
    /// The owner's files: a project's, or (`None`) the master key's.
    pub project: Option<&'a str>,
    pub purpose: Option<&'a str>,
    /// Only files after this one in the listing's order.
    pub after: Option<&'a str>,
    pub limit: u32,
    pub newest_first: bool,
    /// Files expired by then are left out.
    pub now_ms: i64,
}

/// Which protocol an upload speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadProtocol {
    /// OpenAI's Uploads API: parts in any order, ordered at completion.
    OpenAi,
    /// Gemini's resumable upload: chunks at increasing offsets.
    Gemini,
}

impl UploadProtocol {
    fn name(self) -> &'static str {
        match self {
            UploadProtocol::OpenAi => "openai",
            UploadProtocol::Gemini => "gemini",
        }
    }

    fn parse(name: &str) -> Result<UploadProtocol, StoreError> {
        match name {
            "openai" => Ok(UploadProtocol::OpenAi),
            "gemini" => Ok(UploadProtocol::Gemini),
            other => Err(StoreError::Corrupt(format!(
                "unknown upload protocol {other:?}"
            ))),
        }
    }
}

/// Where an upload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    Pending,
    /// Claimed by a completion under way.
    Completing,
    Completed,
    Cancelled,
    Expired,
}

impl UploadState {
    pub fn name(self) -> &'static str {
        match self {
            UploadState::Pending => "pending",
            UploadState::Completing => "completing",
            UploadState::Completed => "completed",
            UploadState::Cancelled => "cancelled",
            UploadState::Expired => "expired",
        }
    }

    fn parse(name: &str) -> Result<UploadState, StoreError> {
        match name {
            "pending" => Ok(UploadState::Pending),
            "completing" => Ok(UploadState::Completing),
            "completed" => Ok(UploadState::Completed),
            "cancelled" => Ok(UploadState::Cancelled),
            "expired" => Ok(UploadState::Expired),
            other => Err(StoreError::Corrupt(format!(
                "unknown upload state {other:?}"
            ))),
        }
    }
}

/// An upload in progress (or ended).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUpload {
    /// `upload_` and random hex.
    pub id: String,
    pub project_id: Option<String>,
    /// The end user a verified token named when it began.
    pub end_user: Option<String>,
    pub protocol: UploadProtocol,
    pub purpose: String,
    pub filename: String,
    /// The type the client declared (the file's is sniffed at completion).
    pub declared_type: String,
    /// The size the client declared.
    pub bytes: u64,
    /// The bytes stored so far.
    pub received: u64,
    pub state: UploadState,
    /// The file it became, once completed.
    pub file_id: Option<String>,
    /// How long the file it becomes is kept; `None`: until deleted.
    pub file_ttl_ms: Option<i64>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

#[derive(FromRow)]
struct UploadColumns {
    id: String,
    project_id: Option<String>,
    end_user: Option<String>,
    protocol: String,
    purpose: String,
    filename: String,
    declared_type: String,
    bytes: i64,
    received: i64,
    state: String,
    file_id: Option<String>,
    file_ttl_ms: Option<i64>,
    created_at_ms: i64,
    expires_at_ms: i64,
}

const UPLOAD_COLUMNS: &str = "id, project_id, end_user, protocol, purpose, filename, declared_type, bytes, \
     received, state, file_id, file_ttl_ms, created_at_ms, expires_at_ms";

impl TryFrom<UploadColumns> for StoredUpload {
    type Error = StoreError;

    fn try_from(row: UploadColumns) -> Result<Self, StoreError> {
        Ok(StoredUpload {
            id: row.id,
            project_id: row.project_id,
            end_user: row.end_user,
            protocol: UploadProtocol::parse(&row.protocol)?,
            purpose: row.purpose,
            filename: row.filename,
            declared_type: row.declared_type,
            bytes: u64::try_from(row.bytes).map_err(|_| corrupt_size(row.bytes))?,
            received: u64::try_from(row.received).map_err(|_| corrupt_size(row.received))?,
            state: UploadState::parse(&row.state)?,
            file_id: row.file_id,
            file_ttl_ms: row.file_ttl_ms,
            created_at_ms: row.created_at_ms,
            expires_at_ms: row.expires_at_ms,
        })
    }
}

/// One stored part of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadPart {
    /// `part_` and random hex.
    pub id: String,
    pub upload_id: String,
    /// Its offset in the file for a resumable upload; its arrival order
    /// for OpenAI's parts.
    pub seq: u64,
    pub bytes: u64,
    pub blob_key: String,
    pub created_at_ms: i64,
}

#[derive(FromRow)]
struct PartColumns {
    id: String,
    upload_id: String,
    seq: i64,
    bytes: i64,
    blob_key: String,
    created_at_ms: i64,
}

impl TryFrom<PartColumns> for UploadPart {
    type Error = StoreError;

    fn try_from(row: PartColumns) -> Result<Self, StoreError> {
        Ok(UploadPart {
            id: row.id,
            upload_id: row.upload_id,
            seq: u64::try_from(row.seq).map_err(|_| corrupt_size(row.seq))?,
            bytes: u64::try_from(row.bytes).map_err(|_| corrupt_size(row.bytes))?,
            blob_key: row.blob_key,
            created_at_ms: row.created_at_ms,
        })
    }
}

/// Why a part was not added.
#[derive(Debug, Clone, PartialEq)]
pub enum PartRefused {
    /// The upload is not there.
    NoUpload,
    /// The upload is no longer pending.
    NotPending(UploadState),
    /// A resumable chunk not at the bytes received so far (which it says).
    WrongOffset { received: u64 },
    /// The part would take the upload past its declared size.
    TooLarge { bytes: u64, received: u64 },
}

impl Store {
    /// Stores a file's row; an id already stored is a conflict.
    pub async fn insert_file(&self, file: &StoredFile) -> Result<(), StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("INSERT INTO files ({FILE_COLUMNS}) "));
            query.push_values([()], |mut row, ()| {
                row.push_bind(text(&file.id))
                    .push_bind(optional_text(&file.project_id))
                    .push_bind(optional_text(&file.end_user))
                    .push_bind(text(&file.purpose))
                    .push_bind(text(&file.filename))
                    .push_bind(text(&file.content_type))
                    .push_bind(size(file.bytes))
                    .push_bind(text(&file.sha256))
                    .push_bind(text(&file.blob_key))
                    .push_bind(file.state.name())
                    .push_bind(optional_text(&file.error))
                    .push_bind(optional_text(&file.text_key))
                    .push_bind(file.document.as_ref().map(to_json))
                    .push_bind(file.created_at_ms)
                    .push_bind(file.expires_at_ms);
            });
            query.push(" ON CONFLICT (id) DO NOTHING");
            if query.build().execute(pool).await?.rows_affected() == 0 {
                return Err(StoreError::Conflict);
            }
        });
        Ok(())
    }

    /// A file, unless it is not stored or expired by `now_ms`.
    pub async fn file(&self, id: &str, now_ms: i64) -> Result<Option<StoredFile>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {FILE_COLUMNS} FROM files WHERE id = "));
            query
                .push_bind(id.to_string())
                .push(" AND (expires_at_ms IS NULL OR expires_at_ms > ")
                .push_bind(now_ms)
                .push(")");
            match query.build().fetch_optional(pool).await? {
                Some(row) => Ok(Some(StoredFile::try_from(FileColumns::from_row(&row)?)?)),
                None => Ok(None),
            }
        })
    }

    /// Files as a listing asks, at most `limit` of them, ordered by
    /// creation (then id).
    pub async fn list_files(
        &self,
        listing: &FileListing<'_>,
    ) -> Result<Vec<StoredFile>, StoreError> {
        let (order, before_or_after) = match listing.newest_first {
            true => ("DESC", "<"),
            false => ("ASC", ">"),
        };
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE (expires_at_ms IS NULL OR expires_at_ms > "
            ));
            query.push_bind(listing.now_ms).push(")");
            match listing.project {
                Some(project) => {
                    query.push(" AND project_id = ").push_bind(project.to_string());
                }
                None => {
                    query.push(" AND project_id IS NULL");
                }
            }
            if let Some(purpose) = listing.purpose {
                query.push(" AND purpose = ").push_bind(purpose.to_string());
            }
            if let Some(after) = listing.after {
                query
                    .push(format!(" AND (created_at_ms, id) {before_or_after} (SELECT created_at_ms, id FROM files WHERE id = "))
                    .push_bind(after.to_string())
                    .push(")");
            }
            query
                .push(format!(" ORDER BY created_at_ms {order}, id {order} LIMIT "))
                .push_bind(i64::from(listing.limit));
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| StoredFile::try_from(FileColumns::from_row(row)?))
                .collect()
        })
    }

    /// Deletes a file's row and gives it back (its blob is the caller's to
    /// delete); `None` when it was not there.
    pub async fn delete_file(&self, id: &str) -> Result<Option<StoredFile>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("DELETE FROM files WHERE id = ");
            query.push_bind(id.to_string()).push(format!(" RETURNING {FILE_COLUMNS}"));
            match query.build().fetch_optional(pool).await? {
                Some(row) => Ok(Some(StoredFile::try_from(FileColumns::from_row(&row)?)?)),
                None => Ok(None),
            }
        })
    }

    /// Files expired by `now_ms`, at most `limit`, the longest expired first.
    pub async fn expired_files(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredFile>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE expires_at_ms <= "
            ));
            query
                .push_bind(now_ms)
                .push(" ORDER BY expires_at_ms LIMIT ")
                .push_bind(i64::from(limit));
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| StoredFile::try_from(FileColumns::from_row(row)?))
                .collect()
        })
    }

    /// Stores an upload's row; an id already stored is a conflict.
    pub async fn insert_upload(&self, upload: &StoredUpload) -> Result<(), StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("INSERT INTO uploads ({UPLOAD_COLUMNS}) "));
            query.push_values([()], |mut row, ()| {
                row.push_bind(text(&upload.id))
                    .push_bind(optional_text(&upload.project_id))
                    .push_bind(optional_text(&upload.end_user))
                    .push_bind(upload.protocol.name())
                    .push_bind(text(&upload.purpose))
                    .push_bind(text(&upload.filename))
                    .push_bind(text(&upload.declared_type))
                    .push_bind(size(upload.bytes))
                    .push_bind(size(upload.received))
                    .push_bind(upload.state.name())
                    .push_bind(optional_text(&upload.file_id))
                    .push_bind(upload.file_ttl_ms)
                    .push_bind(upload.created_at_ms)
                    .push_bind(upload.expires_at_ms);
            });
            query.push(" ON CONFLICT (id) DO NOTHING");
            if query.build().execute(pool).await?.rows_affected() == 0 {
                return Err(StoreError::Conflict);
            }
        });
        Ok(())
    }

    /// An upload, in whatever state.
    pub async fn upload(&self, id: &str) -> Result<Option<StoredUpload>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = "));
            query.push_bind(id.to_string());
            match query.build().fetch_optional(pool).await? {
                Some(row) => Ok(Some(StoredUpload::try_from(UploadColumns::from_row(&row)?)?)),
                None => Ok(None),
            }
        })
    }

    /// Adds a stored part to a pending upload, in one transaction with the
    /// bytes it has received: a resumable chunk (`at_offset`) only at the
    /// bytes received so far, and no part past the declared size. Gives
    /// the upload as it now is, or why the part was refused (its blob is
    /// then the caller's to delete).
    pub async fn add_upload_part(
        &self,
        part: &UploadPart,
        at_offset: Option<u64>,
    ) -> Result<Result<StoredUpload, PartRefused>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let mut query = QueryBuilder::new("UPDATE uploads SET received = received + ");
            query
                .push_bind(size(part.bytes))
                .push(" WHERE id = ")
                .push_bind(part.upload_id.clone())
                .push(" AND state = 'pending' AND received + ")
                .push_bind(size(part.bytes))
                .push(" <= bytes");
            if let Some(offset) = at_offset {
                query.push(" AND received = ").push_bind(size(offset));
            }
            query.push(format!(" RETURNING {UPLOAD_COLUMNS}"));
            let Some(row) = query.build().fetch_optional(&mut *tx).await? else {
                drop(tx);
                return Ok(Err(self.part_refusal(part, at_offset).await?));
            };
            let upload = StoredUpload::try_from(UploadColumns::from_row(&row)?)?;
            let seq = match at_offset {
                Some(offset) => offset,
                None => upload.received - part.bytes,
            };
            let mut insert = QueryBuilder::new(
                "INSERT INTO upload_parts (id, upload_id, seq, bytes, blob_key, created_at_ms) ",
            );
            insert.push_values([()], |mut row, ()| {
                row.push_bind(text(&part.id))
                    .push_bind(text(&part.upload_id))
                    .push_bind(size(seq))
                    .push_bind(size(part.bytes))
                    .push_bind(text(&part.blob_key))
                    .push_bind(part.created_at_ms);
            });
            insert.build().execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Ok(upload))
        })
    }

    async fn part_refusal(
        &self,
        part: &UploadPart,
        at_offset: Option<u64>,
    ) -> Result<PartRefused, StoreError> {
        let Some(upload) = self.upload(&part.upload_id).await? else {
            return Ok(PartRefused::NoUpload);
        };
        Ok(if upload.state != UploadState::Pending {
            PartRefused::NotPending(upload.state)
        } else if at_offset.is_some_and(|offset| offset != upload.received) {
            PartRefused::WrongOffset {
                received: upload.received,
            }
        } else {
            PartRefused::TooLarge {
                bytes: upload.bytes,
                received: upload.received,
            }
        })
    }

    /// An upload's parts, in the order they were stored.
    pub async fn upload_parts(&self, upload_id: &str) -> Result<Vec<UploadPart>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT id, upload_id, seq, bytes, blob_key, created_at_ms FROM upload_parts WHERE upload_id = ",
            );
            query.push_bind(upload_id.to_string()).push(" ORDER BY seq");
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| UploadPart::try_from(PartColumns::from_row(row)?))
                .collect()
        })
    }

    /// Moves an upload from one of `from` to `to` (naming the file it
    /// became, when given); `None` when it was in none of them (or not
    /// there), so two completions cannot both win.
    pub async fn set_upload_state(
        &self,
        id: &str,
        from: &[UploadState],
        to: UploadState,
        file_id: Option<&str>,
    ) -> Result<Option<StoredUpload>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("UPDATE uploads SET state = ");
            query.push_bind(to.name());
            if let Some(file_id) = file_id {
                query.push(", file_id = ").push_bind(file_id.to_string());
            }
            query.push(" WHERE id = ").push_bind(id.to_string()).push(" AND state IN (");
            let mut states = query.separated(", ");
            for state in from {
                states.push_bind(state.name());
            }
            query.push(format!(") RETURNING {UPLOAD_COLUMNS}"));
            match query.build().fetch_optional(pool).await? {
                Some(row) => Ok(Some(StoredUpload::try_from(UploadColumns::from_row(&row)?)?)),
                None => Ok(None),
            }
        })
    }

    /// Pending uploads whose time ran out by `now_ms`, at most `limit`.
    pub async fn expired_uploads(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredUpload>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE state IN ('pending', 'completing') AND expires_at_ms <= "
            ));
            query
                .push_bind(now_ms)
                .push(" ORDER BY expires_at_ms LIMIT ")
                .push_bind(i64::from(limit));
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| StoredUpload::try_from(UploadColumns::from_row(row)?))
                .collect()
        })
    }

    /// Every object-store key a file or an upload's part names (files'
    /// bytes and text, parts), for collecting the objects nothing names.
    pub async fn file_blob_keys(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut keys = std::collections::HashSet::new();
        on_pool!(&self.pools, pool => {
            let named = sqlx::query(
                "SELECT blob_key FROM files UNION ALL SELECT text_key FROM files WHERE text_key IS NOT NULL \
                 UNION ALL SELECT blob_key FROM upload_parts",
            )
            .fetch_all(pool)
            .await?;
            for row in named {
                keys.insert(sqlx::Row::try_get::<String, _>(&row, 0)?);
            }
        });
        Ok(keys)
    }

    /// Forgets an upload's parts (their blobs are the caller's to delete).
    pub async fn delete_upload_parts(&self, upload_id: &str) -> Result<(), StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("DELETE FROM upload_parts WHERE upload_id = ");
            query.push_bind(upload_id.to_string());
            query.build().execute(pool).await?;
        });
        Ok(())
    }
}
