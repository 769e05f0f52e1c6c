//! Generated media kept in object storage and handed out as signed URLs.
//!
//! An answer's images or audio are stored once, content-addressed: the
//! id is the first 128 bits of the bytes' SHA-256 in hex with an
//! extension for the type (`3f…9c.png`), under `media/{id}` in the
//! [`Blobs`] the operator chose. Clients get
//! `{public_url}/media/{id}?exp=…&sig=…` ([`signing`]), served by
//! `surface::media` with ETag, ranges and an immutable `Cache-Control`, so a CDN
//! can sit in front; or, when the store can sign and `presigned` is set,
//! the store's own pre-signed URL. Images can be asked for resized
//! ([`variants`]). [`answers`] rewrites answers' inline bytes as URLs.

pub mod answers;
pub(crate) mod hot;
pub(crate) mod range;
mod signing;
pub(crate) mod variants;

use std::time::Duration;

use airlock_store::{BlobError, Blobs, MediaKind, MediaLog, MediaRecord};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use hot::HotObjects;

pub use signing::{SignatureError, UrlSigner};
pub use variants::{Variant, VariantFormat};

/// How media is stored and handed out.
pub struct MediaSettings {
    /// How long a media URL stays valid.
    pub url_ttl: Duration,
    /// The origin URLs start with (a CDN's, say); else the request's host.
    pub public_url: Option<String>,
    /// Whether answers carry URLs unless a request asks otherwise
    /// (`x-airlock-media: inline`).
    pub urls_by_default: bool,
    /// The widths an image may be asked for resized.
    pub variant_widths: Vec<u32>,
    /// Hand out the store's own pre-signed URLs (S3, GCS, Azure).
    pub presigned: bool,
}

/// Media storage: the blobs, the URL signer, the settings, the log of
/// media records, and the objects served most, in memory.
pub struct Media {
    blobs: Blobs,
    signer: UrlSigner,
    settings: MediaSettings,
    log: MediaLog,
    hot: HotObjects,
}

/// Who made a piece of media: the request, and its project.
#[derive(Debug, Clone, Default)]
pub struct MadeBy {
    pub request_id: Option<String>,
    pub project_id: Option<String>,
    /// The end user the request named, for the inventory of user data.
    pub end_user: Option<String>,
}

/// One stored piece of media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: String,
    pub content_type: &'static str,
    pub size: u64,
    /// The bytes' SHA-256, in hex.
    pub sha256: String,
}

/// Why media could not be stored or fetched.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media of type {0} cannot be stored")]
    UnknownType(String),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// The types media is stored as, with the extension of their ids.
const TYPES: &[(&str, &str)] = &[
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/webp", "webp"),
    ("image/gif", "gif"),
    ("audio/wav", "wav"),
    ("audio/mpeg", "mp3"),
    ("audio/flac", "flac"),
    ("audio/ogg", "ogg"),
    ("audio/aac", "aac"),
];

/// The extension of a stored type, and the type of a stored extension.
fn extension_of(content_type: &str) -> Option<(&'static str, &'static str)> {
    TYPES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(content_type))
        .copied()
}

/// The content type of a media id (`{32 hex}.{extension}`); `None` for
/// anything else, which no stored object can be named by.
pub fn content_type_of_id(id: &str) -> Option<&'static str> {
    let (hash, extension) = id.split_once('.')?;
    let hex = hash.len() == 32 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hex {
        return None;
    }
    TYPES
        .iter()
        .find(|(_, known)| *known == extension)
        .map(|(content_type, _)| *content_type)
}

impl Media {
    pub fn new(blobs: Blobs, signing_key: &[u8], settings: MediaSettings, log: MediaLog) -> Media {
        Media {
            blobs,
            signer: UrlSigner::new(signing_key),
            settings,
            log,
            hot: HotObjects::new(),
        }
    }

    /// The objects `GET /media` holds in memory.
    pub(crate) fn hot(&self) -> &HotObjects {
        &self.hot
    }

    pub fn settings(&self) -> &MediaSettings {
        &self.settings
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    pub(crate) fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// Stores `bytes` of `content_type` (once: the same bytes are the same
    /// object), records who made them, and says under which id.
    pub async fn keep(
        &self,
        bytes: Bytes,
        content_type: &str,
        made_by: &MadeBy,
    ) -> Result<Stored, MediaError> {
        let (content_type, extension) = extension_of(content_type)
            .ok_or_else(|| MediaError::UnknownType(content_type.to_string()))?;
        let digest = Sha256::digest(&bytes);
        let sha256 = hex::encode(digest);
        let id = format!("{}.{extension}", &sha256[..32]);
        let key = object_key(&id);
        let size = bytes.len() as u64;
        match self.blobs.head(&key).await {
            Ok(meta) if meta.size == size => {}
            _ => self.blobs.put(&key, bytes, content_type).await?,
        }
        let kind = match content_type.starts_with("audio/") {
            true => MediaKind::Audio,
            false => MediaKind::Image,
        };
        // The first request to make these bytes is the one on record; a
        // durable log has the record synced before the answer names it.
        self.log
            .record(MediaRecord {
                id: id.clone(),
                project_id: made_by.project_id.clone(),
                end_user: made_by.end_user.clone(),
                request_id: made_by.request_id.clone(),
                kind,
                content_type: content_type.to_string(),
                size,
                sha256: sha256.clone(),
                source_id: None,
                created_at_ms: now_ms(),
            })
            .await;
        Ok(Stored {
            id,
            content_type,
            size,
            sha256,
        })
    }

    /// Makes the `variant` of the picture `id` and keeps it (under
    /// [`variant_key`], recorded with `id` as its source) unless it is
    /// kept already.
    pub(crate) async fn make_variant(
        &self,
        id: &str,
        variant: Variant,
    ) -> Result<(), VariantFailure> {
        let key = variant_key(id, &variant);
        match self.blobs.head(&key).await {
            Ok(_) => return Ok(()),
            Err(BlobError::NotFound) => {}
            Err(error) => return Err(VariantFailure::Blob(error)),
        }
        let original = self.blobs.get(&object_key(id), None).await?.bytes().await?;
        let rendered = tokio::task::spawn_blocking(move || variants::render(&original, variant))
            .await
            .map_err(|_| VariantFailure::Interrupted)??;
        let sha256 = hex::encode(Sha256::digest(&rendered));
        let size = rendered.len() as u64;
        let content_type = variant.format.content_type();
        self.blobs.put(&key, rendered.into(), content_type).await?;
        let record_id = key.strip_prefix("variants/").unwrap_or(&key).to_string();
        self.log
            .record(MediaRecord {
                id: record_id,
                kind: MediaKind::Image,
                content_type: content_type.to_string(),
                size,
                sha256,
                source_id: Some(id.to_string()),
                created_at_ms: now_ms(),
                ..MediaRecord::default()
            })
            .await;
        Ok(())
    }

    /// The URL a client fetches `id` at until the URL's time runs out,
    /// `now` being Unix seconds; `origin` is this gateway's, as the
    /// request reached it, unless a public URL is configured.
    pub async fn url(&self, id: &str, origin: &str, now: u64) -> Result<String, MediaError> {
        if self.settings.presigned
            && let Some(url) = self
                .blobs
                .presigned_get(&object_key(id), self.settings.url_ttl)
                .await?
        {
            return Ok(url.to_string());
        }
        let origin = self.settings.public_url.as_deref().unwrap_or(origin);
        let expires = now + self.settings.url_ttl.as_secs();
        let query = self.signer.query(id, None, expires);
        Ok(format!(
            "{}/media/{id}?{query}",
            origin.trim_end_matches('/')
        ))
    }
}

/// Why a variant could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VariantFailure {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Render(#[from] variants::VariantError),
    #[error("resizing was interrupted")]
    Interrupted,
}

/// Where an id's bytes are kept.
pub(crate) fn object_key(id: &str) -> String {
    format!("media/{id}")
}

/// Where a variant of an id is kept (beside the originals: a folder
/// store cannot hold `media/{id}` as a file and a folder at once).
pub(crate) fn variant_key(id: &str, variant: &Variant) -> String {
    format!("variants/{id}/w{}.{}", variant.width, variant.format.name())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use airlock_store::BlobsConfig;

    /// Media in a local folder, its records in a SQLite database beside.
    pub(crate) async fn media(root: &std::path::Path, public_url: Option<&str>) -> Media {
        let blobs = Blobs::open(&BlobsConfig::Local {
            root: root.join("blobs"),
            sync: false,
        })
        .unwrap();
        let store = airlock_store::Store::open_data_dir(root).await.unwrap();
        let (log, _writer) = airlock_store::MediaLogWriter::start(store, 16);
        let settings = MediaSettings {
            url_ttl: Duration::from_secs(600),
            public_url: public_url.map(String::from),
            urls_by_default: false,
            variant_widths: vec![64],
            presigned: false,
        };
        Media::new(blobs, b"key", settings, log)
    }

    #[tokio::test]
    async fn media_is_kept_once_under_its_content_address() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path(), None).await;
        let bytes = Bytes::from_static(b"\x89PNG\r\n\x1a\nnot really");
        let made_by = MadeBy::default();
        let stored = media
            .keep(bytes.clone(), "image/png", &made_by)
            .await
            .unwrap();
        assert_eq!(stored.id.len(), 36);
        assert!(stored.id.ends_with(".png"));
        assert_eq!(stored.sha256.len(), 64);
        assert!(stored.sha256.starts_with(&stored.id[..32]));
        assert_eq!(content_type_of_id(&stored.id), Some("image/png"));
        let again = media
            .keep(bytes.clone(), "IMAGE/PNG", &made_by)
            .await
            .unwrap();
        assert_eq!(again, stored);
        let read = media
            .blobs()
            .get(&object_key(&stored.id), None)
            .await
            .unwrap();
        assert_eq!(read.bytes().await.unwrap(), bytes);
        assert!(matches!(
            media.keep(bytes, "text/html", &made_by).await,
            Err(MediaError::UnknownType(_))
        ));
    }

    #[tokio::test]
    async fn a_url_is_signed_for_its_id_until_the_ttl_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path(), None).await;
        let url = media
            .url(
                "0123456789abcdef0123456789abcdef.png",
                "http://gw:8080/",
                1000,
            )
            .await
            .unwrap();
        let query = url
            .strip_prefix("http://gw:8080/media/0123456789abcdef0123456789abcdef.png?exp=1600&sig=")
            .unwrap_or_else(|| panic!("{url}"));
        assert!(!query.is_empty());
    }

    #[test]
    fn ids_are_hex_with_a_known_extension() {
        assert_eq!(
            content_type_of_id("0123456789abcdef0123456789abcdef.wav"),
            Some("audio/wav")
        );
        for bad in [
            "0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef.exe",
            "0123456789ABCDEF0123456789abcdef.png",
            "../../etc/passwd.png",
            "0123456789abcdef0123456789abcde.png",
            "0123456789abcdef0123456789abcdef.png/x",
        ] {
            assert_eq!(content_type_of_id(bad), None, "{bad}");
        }
    }
}
