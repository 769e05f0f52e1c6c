//! Uploaded files: kept in the media object store under `files/{id}`,
//! their rows in the database, each its project's alone.
//!
//! A file is checked before anything is stored: its size against the
//! project's limit, its type sniffed from its bytes ([`airlock_documents`])
//! against the types the project accepts. Then its bytes go to the object
//! store and its row to the database, in that order; a row that cannot be
//! written takes its bytes with it, so nothing is half-stored. Large files
//! arrive in parts ([`uploads`]) and are checked the same way when
//! complete. Both APIs' surfaces (`surface/openai/files.rs`,
//! `surface/gemini/files.rs`) speak through this module only, and
//! generation requests that name a file have it resolved by [`context`].

pub mod context;
pub mod uploads;

use airlock_documents::{
    AcceptedTypes, Extracted, FileType, Limits, extract, redact_personal_data, sniff,
};
use airlock_store::{
    BlobError, BlobObject, Blobs, FileListing, FileState, ProjectFiles, SealedColumn, Store,
    StoreError, StoredFile,
};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What the gateway accepts when a project says nothing.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// The largest file, in bytes.
    pub max_bytes: u64,
    pub accepted: AcceptedTypes,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            max_bytes: DEFAULT_MAX_BYTES,
            accepted: AcceptedTypes::default(),
        }
    }
}

/// 100 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;

/// What one project may upload: its settings over the gateway's.
#[derive(Debug, Clone)]
pub struct FileRules {
    pub max_bytes: u64,
    pub accepted: AcceptedTypes,
    /// Personal data redacted from documents' text.
    pub redact_pii: bool,
}

/// Why a file operation failed; each surface says it in its protocol.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not stored, expired, or another project's.
    #[error("No such File object: {id}")]
    NotFound { id: String },
    #[error("The file is {bytes} bytes; files may be at most {limit} bytes.")]
    TooLarge { bytes: u64, limit: u64 },
    #[error(
        "The file's bytes are {sniffed}, which this project does not accept (it accepts {accepted})."
    )]
    Refused {
        sniffed: &'static str,
        accepted: String,
    },
    /// A resumable chunk not at the bytes received so far.
    #[error("The chunk's offset is not the {received} bytes received so far.")]
    WrongOffset { received: u64 },
    /// The request's arguments (the message names the one at fault).
    #[error("{message}")]
    Invalid {
        message: String,
        param: Option<&'static str>,
    },
    /// The database or the object store failed.
    #[error("File storage is unavailable; retry shortly.")]
    Unavailable,
}

impl From<StoreError> for FileError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "the files' database failed");
        FileError::Unavailable
    }
}

impl From<BlobError> for FileError {
    fn from(error: BlobError) -> Self {
        tracing::error!(%error, "the files' object store failed");
        FileError::Unavailable
    }
}

/// A file to keep.
pub struct NewFile {
    /// The id to give it (a Gemini client may name its file); a fresh one
    /// when `None`.
    pub id: Option<String>,
    pub project_id: Option<String>,
    /// The end user a verified token named.
    pub end_user: Option<String>,
    pub purpose: String,
    pub filename: String,
    pub bytes: Bytes,
    pub expires_at_ms: Option<i64>,
}

/// The files of every project.
pub struct Files {
    store: Store,
    blobs: Blobs,
    settings: FileSettings,
}

impl Files {
    /// The file store, with its upkeep running while it lives: expired
    /// files and uploads are deleted every [`SWEEP_EVERY`].
    pub fn open(store: Store, blobs: Blobs, settings: FileSettings) -> Arc<Files> {
        let files = Arc::new(Files {
            store,
            blobs,
            settings,
        });
        tokio::spawn(upkeep(Arc::downgrade(&files)));
        files
    }

    /// A project's rules: its own settings where it has them, else the
    /// gateway's. Its accepted types were checked when they were set.
    pub fn rules(&self, project: Option<&ProjectFiles>) -> FileRules {
        let accepted = project
            .and_then(|files| files.accepted_types.as_deref())
            .and_then(|rules| AcceptedTypes::new(rules).ok())
            .unwrap_or_else(|| self.settings.accepted.clone());
        FileRules {
            max_bytes: project
                .and_then(|files| files.max_bytes)
                .unwrap_or(self.settings.max_bytes),
            accepted,
            redact_pii: project.is_some_and(|files| files.redact_pii),
        }
    }

    /// Checks a file against the rules and keeps it (see the module's doc).
    pub async fn keep(
        &self,
        new: NewFile,
        rules: &FileRules,
        now_ms: i64,
    ) -> Result<StoredFile, FileError> {
        let size = new.bytes.len() as u64;
        if size > rules.max_bytes {
            return Err(FileError::TooLarge {
                bytes: size,
                limit: rules.max_bytes,
            });
        }
        let read = read_file(new.bytes.clone(), new.filename.clone(), rules.clone()).await?;
        let chosen = new.id.is_some();
        let id = new.id.unwrap_or_else(new_file_id);
        let mut file = StoredFile {
            blob_key: format!("files/{id}"),
            text_key: None,
            id,
            project_id: new.project_id,
            end_user: new.end_user,
            purpose: new.purpose,
            filename: new.filename,
            content_type: read.sniffed.mime.to_string(),
            bytes: size,
            sha256: read.sha256,
            state: FileState::Active,
            error: None,
            document: None,
            created_at_ms: now_ms,
            expires_at_ms: new.expires_at_ms,
        };
        // A name the client chose is refused when taken, before its bytes
        // could replace the other file's (expired or not); a fresh id is
        // random and needs no look.
        if chosen && self.store.file(&file.id, i64::MIN).await?.is_some() {
            return Err(name_taken(&file.id));
        }
        self.blobs
            .put(&file.blob_key, new.bytes, &file.content_type)
            .await?;
        match read.text {
            DocumentText::None => {}
            // Plain text is its own text: one copy kept.
            DocumentText::TheBytes(info) => {
                file.text_key = Some(file.blob_key.clone());
                file.document = Some(info);
            }
            DocumentText::Extracted(text, info) => {
                let text_key = format!("file-text/{}", file.id);
                // Sealed at rest when the store seals user content.
                let text = self.store.seal(SealedColumn::ExtractedText, text);
                let put = self
                    .blobs
                    .put(&text_key, Bytes::from(text), "text/plain; charset=utf-8")
                    .await;
                if let Err(error) = put {
                    self.forget_blob(&file.blob_key).await;
                    return Err(error.into());
                }
                file.text_key = Some(text_key);
                file.document = Some(info);
            }
        }
        if let Err(error) = self.store.insert_file(&file).await {
            self.forget_blobs(&file).await;
            return Err(match error {
                StoreError::Conflict => name_taken(&file.id),
                other => other.into(),
            });
        }
        Ok(file)
    }

    /// A document's extracted text, when it has one.
    pub async fn text(&self, file: &StoredFile) -> Result<Option<String>, FileError> {
        let Some(key) = &file.text_key else {
            return Ok(None);
        };
        let bytes = self.blobs.get(key, None).await?.bytes().await?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if *key == file.blob_key {
            // Plain text is its own text: the file as it was uploaded.
            return Ok(Some(text));
        }
        Ok(Some(self.store.unseal(SealedColumn::ExtractedText, text)?))
    }

    /// A file of `owner`'s (a project's, or the master key's when `None`).
    pub async fn get(
        &self,
        owner: Option<&str>,
        id: &str,
        now_ms: i64,
    ) -> Result<StoredFile, FileError> {
        match self.store.file(id, now_ms).await? {
            Some(file) if file.project_id.as_deref() == owner => Ok(file),
            _ => Err(FileError::NotFound { id: id.to_string() }),
        }
    }

    /// A page of `owner`'s files.
    pub async fn list(&self, listing: &FileListing<'_>) -> Result<Vec<StoredFile>, FileError> {
        Ok(self.store.list_files(listing).await?)
    }

    /// A file's bytes.
    pub async fn content(&self, file: &StoredFile) -> Result<BlobObject, FileError> {
        Ok(self.blobs.get(&file.blob_key, None).await?)
    }

    /// Deletes a file of `owner`'s: its row, then its bytes.
    pub async fn delete(
        &self,
        owner: Option<&str>,
        id: &str,
        now_ms: i64,
    ) -> Result<StoredFile, FileError> {
        self.get(owner, id, now_ms).await?;
        let Some(file) = self.store.delete_file(id).await? else {
            return Err(FileError::NotFound { id: id.to_string() });
        };
        self.forget_blobs(&file).await;
        Ok(file)
    }

    /// Deletes the files expired by `now_ms`, at most `limit` of them;
    /// says how many went.
    pub async fn sweep_expired(&self, now_ms: i64, limit: u32) -> Result<usize, FileError> {
        let expired = self.store.expired_files(now_ms, limit).await?;
        for file in &expired {
            self.store.delete_file(&file.id).await?;
            self.forget_blobs(file).await;
        }
        Ok(expired.len())
    }

    /// Deletes the objects under the files' prefixes that no file or
    /// upload names and that were written before `written_before_ms` (a
    /// file being kept writes its bytes before its row); says how many.
    pub async fn collect_orphan_blobs(&self, written_before_ms: i64) -> Result<usize, FileError> {
        let named = self.store.file_blob_keys().await?;
        let mut collected = 0;
        for prefix in BLOB_PREFIXES {
            for blob in self.blobs.list(prefix).await? {
                if blob.modified_at_ms < written_before_ms && !named.contains(&blob.key) {
                    self.forget_blob(&blob.key).await;
                    collected += 1;
                }
            }
        }
        Ok(collected)
    }

    /// Deletes a file's bytes and its text.
    async fn forget_blobs(&self, file: &StoredFile) {
        self.forget_blob(&file.blob_key).await;
        if let Some(text_key) = file.text_key.as_ref().filter(|key| **key != file.blob_key) {
            self.forget_blob(text_key).await;
        }
    }

    /// Deletes a blob nothing refers to any more. A failure is logged: the
    /// object store's orphans are collected later.
    async fn forget_blob(&self, key: &str) {
        if let Err(error) = self.blobs.delete(key).await {
            tracing::warn!(%error, key, "a file's bytes could not be deleted");
        }
    }
}

/// How often expired files and uploads are deleted.
pub const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// Orphaned objects are looked for every this many sweeps (hourly).
const ORPHANS_EVERY_SWEEPS: u64 = 12;

/// How old an object nothing names must be to be collected: older than
/// any file or part still being written.
const ORPHAN_GRACE_MS: i64 = 60 * 60 * 1000;

/// The object-store prefixes the files own: their bytes, their text and
/// uploads' parts.
const BLOB_PREFIXES: [&str; 3] = ["files", "file-text", "uploads"];

/// The most deleted in one sweep of each kind (the rest wait for the next).
const SWEEP_BATCH: u32 = 1_000;

/// Sweeps while the files live. A sweep is idempotent (the expiry times
/// are in the database), so an interrupted one is simply done again.
async fn upkeep(files: Weak<Files>) {
    // The first sweep a period after the start, not at once.
    let first = tokio::time::Instant::now() + SWEEP_EVERY;
    let mut every = tokio::time::interval_at(first, SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for sweeps in 1u64.. {
        every.tick().await;
        let Some(files) = files.upgrade() else { return };
        let now = crate::clock::now_ms();
        let swept = (
            files.sweep_expired(now, SWEEP_BATCH).await,
            files.sweep_uploads(now, SWEEP_BATCH).await,
        );
        match swept {
            (Ok(0), Ok(0)) => {}
            (Ok(files), Ok(uploads)) => {
                tracing::info!(files, uploads, "expired files and uploads deleted")
            }
            _ => tracing::warn!("the files' sweep failed; it runs again shortly"),
        }
        if sweeps.is_multiple_of(ORPHANS_EVERY_SWEEPS) {
            match files.collect_orphan_blobs(now - ORPHAN_GRACE_MS).await {
                Ok(0) => {}
                Ok(collected) => tracing::info!(collected, "orphaned file objects deleted"),
                Err(_) => tracing::warn!("collecting orphaned file objects failed"),
            }
        }
    }
}

/// What reading a file found: its type, its digest, and its text.
struct ReadFile {
    sniffed: FileType,
    sha256: String,
    text: DocumentText,
}

/// A file's text, and its metadata as stored.
enum DocumentText {
    /// Pictures, sound, video.
    None,
    /// Text whose extracted text is its bytes as uploaded.
    TheBytes(Value),
    Extracted(String, Value),
}

/// A file's type (checked against the rules), its digest and its
/// document's text (redacted when asked), worked out off the runtime's
/// thread: a large file's reading would stall every connection of its
/// worker. A type not accepted, or a document its reader refuses, is
/// refused here.
async fn read_file(
    bytes: Bytes,
    filename: String,
    rules: FileRules,
) -> Result<ReadFile, FileError> {
    let read = tokio::task::spawn_blocking(move || {
        let sniffed = sniff(&bytes, &filename);
        if !rules.accepted.accepts(sniffed) {
            return Err(FileError::Refused {
                sniffed: sniffed.mime,
                accepted: rules.accepted.rules().join(", "),
            });
        }
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let started = std::time::Instant::now();
        let extracted =
            extract(sniffed, &bytes, &Limits::default()).map_err(|refusal| FileError::Invalid {
                message: format!("The file was refused: {refusal}."),
                param: Some("file"),
            })?;
        let took = started.elapsed();
        let text =
            extracted.map(|extracted| document_text(extracted, &bytes, rules.redact_pii, took));
        Ok(ReadFile {
            sniffed,
            sha256,
            text: text.unwrap_or(DocumentText::None),
        })
    });
    read.await.map_err(|_| FileError::Unavailable)?
}

fn document_text(
    extracted: Extracted,
    bytes: &[u8],
    redact_pii: bool,
    took: Duration,
) -> DocumentText {
    let Extracted {
        mut text,
        metadata,
        truncated,
    } = extracted;
    if let Some(pages) = metadata.pages.filter(|pages| *pages > 0) {
        metrics::histogram!(crate::metrics::FILE_EXTRACTION_PAGE_SECONDS)
            .record(took.as_secs_f64() / f64::from(pages));
    }
    if redact_pii {
        text = redact_personal_data(&text);
    }
    let info = json!({
        "title": metadata.title,
        "author": metadata.author,
        "pages": metadata.pages,
        "language": metadata.language,
        "characters": text.chars().count(),
        "truncated": truncated,
        "redacted": redact_pii,
    });
    match text.as_bytes() == bytes {
        true => DocumentText::TheBytes(info),
        false => DocumentText::Extracted(text, info),
    }
}

fn name_taken(id: &str) -> FileError {
    FileError::Invalid {
        message: format!("A file named {id} already exists."),
        param: Some("name"),
    }
}

/// `file-` and 32 random hex digits: an OpenAI file id, and a valid Gemini
/// file name (`files/file-…`: lowercase letters, digits and dashes).
pub fn new_file_id() -> String {
    format!("file-{}", uuid::Uuid::new_v4().simple())
}

impl From<FileError> for crate::error::ApiError {
    fn from(error: FileError) -> Self {
        use crate::error::ApiError;
        match error {
            FileError::NotFound { id } => ApiError::FileNotFound { id },
            FileError::TooLarge { bytes, limit } => ApiError::FileTooLarge { bytes, limit },
            FileError::Unavailable => ApiError::FilesUnavailable,
            FileError::Invalid { message, param } => ApiError::BadRequest {
                message,
                param: param.map(str::to_string),
            },
            refused @ (FileError::Refused { .. } | FileError::WrongOffset { .. }) => {
                ApiError::BadRequest {
                    message: refused.to_string(),
                    param: Some("file".into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use airlock_store::{BlobsConfig, UploadProtocol, UploadState};

    use super::uploads::NewUpload;
    use super::*;

    async fn files(root: &std::path::Path) -> Arc<Files> {
        let blobs = Blobs::open(&BlobsConfig::Local {
            root: root.join("blobs"),
            sync: false,
        })
        .unwrap();
        let store = Store::open_data_dir(root).await.unwrap();
        Files::open(store, blobs, FileSettings::default())
    }

    fn new_file(expires_at_ms: Option<i64>) -> NewFile {
        NewFile {
            id: None,
            project_id: Some("proj_1".into()),
            end_user: None,
            purpose: "user_data".into(),
            filename: "page.html".into(),
            bytes: Bytes::from_static(b"<html><p>Hello</p></html>"),
            expires_at_ms,
        }
    }

    #[tokio::test]
    async fn the_sweep_deletes_expired_files_with_their_text_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path()).await;
        let rules = files.rules(None);
        let expiring = files
            .keep(new_file(Some(5_000)), &rules, 1_000)
            .await
            .unwrap();
        let kept = files.keep(new_file(None), &rules, 1_000).await.unwrap();
        let text_key = expiring.text_key.clone().unwrap();
        assert_ne!(text_key, expiring.blob_key, "HTML's text is not its bytes");
        assert!(files.blobs.head(&text_key).await.is_ok());

        assert_eq!(files.sweep_expired(4_999, 100).await.unwrap(), 0);
        assert_eq!(files.sweep_expired(5_000, 100).await.unwrap(), 1);
        assert!(files.blobs.head(&expiring.blob_key).await.is_err());
        assert!(files.blobs.head(&text_key).await.is_err());
        assert!(files.get(Some("proj_1"), &kept.id, 6_000).await.is_ok());
        assert!(files.blobs.head(&kept.blob_key).await.is_ok());
    }

    #[tokio::test]
    async fn objects_no_file_or_part_names_are_collected_once_old_enough() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path()).await;
        let kept = files
            .keep(new_file(None), &files.rules(None), 1_000)
            .await
            .unwrap();
        for orphan in [
            "files/file-gone",
            "file-text/file-gone",
            "uploads/upload_gone/part_1",
        ] {
            files
                .blobs
                .put(orphan, Bytes::from_static(b"left behind"), "text/plain")
                .await
                .unwrap();
        }
        // Everything was written just now: nothing is old enough.
        let an_hour_ago = crate::clock::now_ms() - ORPHAN_GRACE_MS;
        assert_eq!(files.collect_orphan_blobs(an_hour_ago).await.unwrap(), 0);
        let later = crate::clock::now_ms() + 1_000;
        assert_eq!(files.collect_orphan_blobs(later).await.unwrap(), 3);
        assert!(files.blobs.head("files/file-gone").await.is_err());
        assert!(files.blobs.head(&kept.blob_key).await.is_ok());
        assert!(
            files
                .blobs
                .head(kept.text_key.as_deref().unwrap())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn plain_text_is_kept_once_as_its_own_text() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path()).await;
        let notes = NewFile {
            filename: "notes.txt".into(),
            bytes: Bytes::from_static(b"Just notes.\n"),
            ..new_file(None)
        };
        let file = files.keep(notes, &files.rules(None), 1_000).await.unwrap();
        assert_eq!(file.text_key.as_deref(), Some(file.blob_key.as_str()));
        assert_eq!(
            files.text(&file).await.unwrap().as_deref(),
            Some("Just notes.\n")
        );
        files.delete(Some("proj_1"), &file.id, 2_000).await.unwrap();
        assert!(files.blobs.head(&file.blob_key).await.is_err());
    }

    #[tokio::test]
    async fn the_sweep_expires_uploads_past_their_hour_and_deletes_their_parts() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path()).await;
        let upload = files
            .start_upload(
                NewUpload {
                    project_id: None,
                    end_user: None,
                    protocol: UploadProtocol::Gemini,
                    purpose: "user_data".into(),
                    filename: "big.txt".into(),
                    declared_type: "text/plain".into(),
                    bytes: 10,
                    file_ttl_ms: None,
                },
                &files.rules(None),
                1_000,
            )
            .await
            .unwrap();
        let (part, _) = files
            .add_part(&upload, Bytes::from_static(b"12345"), Some(0), 2_000)
            .await
            .unwrap();
        let hour_later = 1_000 + uploads::UPLOAD_TTL_MS;
        assert_eq!(files.sweep_uploads(hour_later - 1, 100).await.unwrap(), 0);
        assert_eq!(files.sweep_uploads(hour_later, 100).await.unwrap(), 1);
        let expired = files.upload(None, &upload.id, hour_later).await.unwrap();
        assert_eq!(expired.state, UploadState::Expired);
        assert!(files.blobs.head(&part.blob_key).await.is_err());
    }
}
