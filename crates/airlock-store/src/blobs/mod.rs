//! Blobs: media bytes in object storage, through one interface over a local
//! folder, S3-compatible storage, Google Cloud Storage or Azure Blob Storage
//! (the `object_store` crate).
//!
//! Writes are atomic: a reader sees the whole object or none of it (a local
//! folder writes a staging file, syncs it and renames it into place; a
//! cloud store's single PUT is atomic). Keys are checked before any backend
//! sees them ([`key`]), so a key can never name a file outside a local
//! root. Errors tell apart a missing object, a bad key, a range beyond the
//! object and a backend that cannot be reached; none carries a credential.

mod config;
mod key;

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::signer::Signer;
use object_store::{
    Attribute, GetOptions, GetRange, GetResult, GetResultPayload, ObjectStore, ObjectStoreExt,
    PutOptions,
};
use url::Url;

pub use config::{AzureConfig, BlobsConfig, GcsConfig, GcsCredentials, S3Config};
use key::blob_path;

/// The longest a pre-signed URL stays valid (S3's and GCS's limit).
pub const MAX_PRESIGNED_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// How much of a local file one read takes when streaming it.
/// (object_store's own stream reads 8 KiB per trip to the blocking pool.)
const FILE_CHUNK: u64 = 256 * 1024;

/// What can go wrong with a blob. Messages name the backend and may name
/// the key or the endpoint, never a credential.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key: {0}")]
    InvalidKey(&'static str),
    #[error("blob not found")]
    NotFound,
    /// The range starts at or beyond the end of the object, or is empty.
    #[error("range not satisfiable: the object has {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// The backend is unreachable or failing (including refused
    /// credentials): the request may succeed later.
    #[error("object storage ({backend}) unavailable: {message}")]
    Unavailable {
        backend: &'static str,
        message: String,
    },
    /// The configuration cannot be used (at [`Blobs::open`]).
    #[error("object storage ({backend}) configuration: {message}")]
    Config {
        backend: &'static str,
        message: String,
    },
}

/// An object's size, and its content type where the backend keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    /// `None` from a local folder, which keeps no content type (the media
    /// table has it).
    pub content_type: Option<String>,
}

/// An object as a listing names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobListing {
    pub key: String,
    pub size: u64,
    /// When it was last written, in milliseconds since the Unix epoch.
    pub modified_at_ms: i64,
}

/// An object, or a range of it, ready to be read.
pub struct BlobObject {
    /// The whole object's size.
    pub size: u64,
    /// The bytes this holds: the range asked for, its end clamped to the
    /// object's size, or the whole object.
    pub range: Range<u64>,
    /// As in [`BlobMeta`].
    pub content_type: Option<String>,
    backend: &'static str,
    result: GetResult,
}

impl std::fmt::Debug for BlobObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobObject")
            .field("size", &self.size)
            .field("range", &self.range)
            .field("content_type", &self.content_type)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl BlobObject {
    /// All its bytes at once.
    pub async fn bytes(self) -> Result<Bytes, BlobError> {
        let backend = self.backend;
        self.result
            .bytes()
            .await
            .map_err(|error| store_error(backend, error))
    }

    /// The open file these bytes are read from, for a local store (a second
    /// descriptor of it: reading the bytes does not close it).
    pub fn local_file(&self) -> Option<std::fs::File> {
        match &self.result.payload {
            GetResultPayload::File(file, _) => file.try_clone().ok(),
            GetResultPayload::Stream(_) => None,
        }
    }

    /// Its bytes in chunks, as they are read.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, BlobError>> {
        let backend = self.backend;
        match self.result.payload {
            GetResultPayload::File(file, _) => file_chunks(file, self.result.range, backend),
            GetResultPayload::Stream(chunks) => chunks
                .map_err(move |error| store_error(backend, error))
                .boxed(),
        }
    }
}

/// Object storage for media. Cheap to clone.
#[derive(Clone)]
pub struct Blobs {
    name: &'static str,
    store: Arc<dyn ObjectStore>,
    signer: Option<Arc<dyn Signer>>,
    keeps_content_type: bool,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs")
            .field("backend", &self.name)
            .finish_non_exhaustive()
    }
}

impl Blobs {
    /// Opens the storage a configuration names: creates a local folder if
    /// missing; builds a cloud store's client (which reaches nothing yet).
    pub fn open(config: &BlobsConfig) -> Result<Blobs, BlobError> {
        let backend = config.open()?;
        Ok(Blobs {
            name: backend.name,
            store: backend.store,
            signer: backend.signer,
            keeps_content_type: backend.keeps_content_type,
        })
    }

    /// `local`, `s3`, `gcs` or `azure`.
    pub fn backend(&self) -> &'static str {
        self.name
    }

    /// Stores an object, replacing any at `key`. Atomic: a reader sees the
    /// old object or the new one, never part of one.
    pub async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        let path = blob_path(key)?;
        let mut options = PutOptions::default();
        if self.keeps_content_type {
            options
                .attributes
                .insert(Attribute::ContentType, content_type.to_string().into());
        }
        self.store
            .put_opts(&path, bytes.into(), options)
            .await
            .map(drop)
            .map_err(|error| self.error(error))
    }

    /// An object, or the bytes of `range` in it (an end beyond the object
    /// is clamped to its size, as HTTP ranges are).
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<BlobObject, BlobError> {
        let path = blob_path(key)?;
        let options = GetOptions::new().with_range(range.clone().map(GetRange::Bounded));
        match self.store.get_opts(&path, options).await {
            Ok(result) => Ok(self.object(result)),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound),
            Err(error) => match range {
                // Backends report a range beyond the object each their own
                // way: its size tells.
                Some(range) => match self.head(key).await {
                    Ok(meta) if range.start >= meta.size || range.is_empty() => {
                        Err(BlobError::RangeNotSatisfiable { size: meta.size })
                    }
                    Ok(_) => Err(self.error(error)),
                    Err(head_error) => Err(head_error),
                },
                None => Err(self.error(error)),
            },
        }
    }

    /// An object's size and content type.
    pub async fn head(&self, key: &str) -> Result<BlobMeta, BlobError> {
        let path = blob_path(key)?;
        let options = GetOptions::new().with_head(true);
        let result = self
            .store
            .get_opts(&path, options)
            .await
            .map_err(|error| self.error(error))?;
        let object = self.object(result);
        Ok(BlobMeta {
            size: object.size,
            content_type: object.content_type,
        })
    }

    /// Deletes an object; one already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = blob_path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(self.error(error)),
        }
    }

    /// Every object whose key starts with `prefix/` (a whole segment:
    /// `cache` lists `cache/a`, not `cached/a`).
    pub async fn list(&self, prefix: &str) -> Result<Vec<BlobListing>, BlobError> {
        self.list_under(Some(&blob_path(prefix)?)).await
    }

    /// Every object in the store (a backup's manifest).
    pub async fn list_all(&self) -> Result<Vec<BlobListing>, BlobError> {
        self.list_under(None).await
    }

    async fn list_under(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> Result<Vec<BlobListing>, BlobError> {
        self.store
            .list(prefix)
            .map_ok(|meta| BlobListing {
                key: meta.location.to_string(),
                size: meta.size,
                modified_at_ms: meta.last_modified.timestamp_millis(),
            })
            .try_collect()
            .await
            .map_err(|error| self.error(error))
    }

    /// A URL anyone may GET the object at until `expires_in` has passed
    /// (at most [`MAX_PRESIGNED_EXPIRY`]; longer is shortened), signed by
    /// the backend: S3, GCS and Azure. `None` for a local folder. Signing
    /// does not look at the object: a missing one gives a URL that answers
    /// 404.
    pub async fn presigned_get(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> Result<Option<Url>, BlobError> {
        let path = blob_path(key)?;
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        signer
            .signed_url(
                http::Method::GET,
                &path,
                expires_in.min(MAX_PRESIGNED_EXPIRY),
            )
            .await
            .map(Some)
            .map_err(|error| self.error(error))
    }

    fn object(&self, result: GetResult) -> BlobObject {
        let content_type = result
            .attributes
            .get(&Attribute::ContentType)
            .map(|value| value.as_ref().to_string());
        BlobObject {
            size: result.meta.size,
            range: result.range.clone(),
            content_type,
            backend: self.name,
            result,
        }
    }

    fn error(&self, error: object_store::Error) -> BlobError {
        store_error(self.name, error)
    }
}

fn store_error(backend: &'static str, error: object_store::Error) -> BlobError {
    match error {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        object_store::Error::InvalidPath { .. } => BlobError::InvalidKey("not a valid object path"),
        error => BlobError::Unavailable {
            backend,
            message: error.to_string(),
        },
    }
}

/// A local file's range, read [`FILE_CHUNK`] bytes at a time on the
/// blocking pool.
fn file_chunks(
    file: std::fs::File,
    range: Range<u64>,
    backend: &'static str,
) -> BoxStream<'static, Result<Bytes, BlobError>> {
    let unavailable = move |message: String| BlobError::Unavailable { backend, message };
    stream::try_unfold((file, range), move |(mut file, range)| async move {
        if range.is_empty() {
            return Ok(None);
        }
        let read = tokio::task::spawn_blocking(move || {
            // At most FILE_CHUNK, which fits any usize.
            let len = (range.end - range.start).min(FILE_CHUNK) as usize;
            let mut chunk = vec![0; len];
            file.seek(SeekFrom::Start(range.start))?;
            file.read_exact(&mut chunk)?;
            Ok::<_, std::io::Error>((file, range.start + len as u64..range.end, chunk))
        })
        .await
        .map_err(|error| unavailable(error.to_string()))?;
        let (file, rest, chunk) = read.map_err(|error| unavailable(error.to_string()))?;
        Ok(Some((Bytes::from(chunk), (file, rest))))
    })
    .boxed()
}
