//! A GDPR export: everything the inventory holds of one end user, as one
//! zip archive a person can open. `manifest.json` says whose data it is,
//! when it was made and how many rows of each kind it holds; each kind's
//! rows are `{kind}.jsonl` (one JSON object per row, its columns); the
//! blobs the rows name (uploaded files and their text, generated media,
//! cached answers' bodies) are under `blobs/`, by their key. A kind with no
//! rows is an empty file: an unknown end user's export is an archive that
//! says so, not an error.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};

use airlock_store::{BlobError, SealedColumn, StoreError, UserDataKind};
use serde_json::{Value, json};
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::{Holdings, archive};

/// Rows read per statement.
const PAGE: u32 = 500;
/// What `manifest.json` says the archive is.
pub const FORMAT: &str = "airlock-user-export/1";

/// One kind's rows as JSON Lines, and the blobs they name.
#[derive(Debug, Clone, PartialEq)]
pub struct KindPart {
    pub kind: UserDataKind,
    pub jsonl: Vec<u8>,
    pub rows: u64,
    pub blobs: Vec<String>,
}

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blob could not be read: {0}")]
    Blob(#[from] BlobError),
    #[error("the archive could not be written: {0}")]
    Zip(String),
}

impl From<zip::result::ZipError> for ExportError {
    fn from(error: zip::result::ZipError) -> Self {
        ExportError::Zip(error.to_string())
    }
}

impl From<archive::ArchiveError> for ExportError {
    fn from(error: archive::ArchiveError) -> Self {
        match error {
            archive::ArchiveError::Store(error) => ExportError::Store(error),
            archive::ArchiveError::Blob(error) => ExportError::Blob(error),
        }
    }
}

impl From<std::io::Error> for ExportError {
    fn from(error: std::io::Error) -> Self {
        ExportError::Zip(error.to_string())
    }
}

/// Reads all of `holdings`' rows of `kind` (and, for one end user, what
/// was archived of them).
pub async fn collect(holdings: Holdings<'_>, kind: UserDataKind) -> Result<KindPart, ExportError> {
    let mut part = KindPart {
        kind,
        jsonl: Vec::new(),
        rows: 0,
        blobs: Vec::new(),
    };
    let mut after: Option<String> = None;
    loop {
        let page = holdings
            .store
            .user_data_page(kind, holdings.owner, after.as_deref(), PAGE)
            .await?;
        for row in &page.rows {
            // A map of JSON values always serialises.
            serde_json::to_writer(&mut part.jsonl, row).unwrap_or_default();
            part.jsonl.push(b'\n');
        }
        part.rows += page.rows.len() as u64;
        for key in page.blobs {
            if !part.blobs.contains(&key) {
                part.blobs.push(key);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    // What was archived of it, for one end user.
    if let (Some(blobs), Some(user)) = (holdings.blobs, holdings.owner.end_user)
        && airlock_store::Archive::KINDS.contains(&kind)
    {
        let (lines, rows) = archive::read(
            holdings.store,
            blobs,
            holdings.owner.project_id,
            kind,
            Some(user),
        )
        .await?;
        part.jsonl.extend_from_slice(&lines);
        part.rows += rows;
    }
    Ok(part)
}

/// An archive being written, in memory.
pub struct ExportZip {
    zip: ZipWriter<Cursor<Vec<u8>>>,
    rows: BTreeMap<&'static str, u64>,
    blobs: u64,
    /// Blobs a row named that were gone when read (deleted meanwhile).
    missing: Vec<String>,
}

impl Default for ExportZip {
    fn default() -> Self {
        ExportZip {
            zip: ZipWriter::new(Cursor::new(Vec::new())),
            rows: BTreeMap::new(),
            blobs: 0,
            missing: Vec::new(),
        }
    }
}

impl ExportZip {
    /// Adds a kind's rows, and the blobs they name read from the
    /// holdings' object store (a document's sealed text opened).
    pub async fn add(
        &mut self,
        part: &KindPart,
        holdings: Holdings<'_>,
    ) -> Result<(), ExportError> {
        let deflated = SimpleFileOptions::default();
        // Media and documents are compressed already.
        let stored = deflated.compression_method(zip::CompressionMethod::Stored);
        self.zip
            .start_file(format!("{}.jsonl", part.kind.name()), deflated)?;
        self.zip.write_all(&part.jsonl)?;
        self.rows.insert(part.kind.name(), part.rows);
        let Some(blobs) = holdings.blobs else {
            self.missing.extend(part.blobs.iter().cloned());
            return Ok(());
        };
        for key in &part.blobs {
            let bytes = match blobs.get(key, None).await {
                Ok(object) => object.bytes().await?,
                Err(BlobError::NotFound) => {
                    self.missing.push(key.clone());
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let bytes = match key.starts_with("file-text/") {
                true => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let text = holdings.store.unseal(SealedColumn::ExtractedText, text)?;
                    bytes::Bytes::from(text)
                }
                false => bytes,
            };
            self.zip.start_file(format!("blobs/{key}"), stored)?;
            self.zip.write_all(&bytes)?;
            self.blobs += 1;
        }
        Ok(())
    }

    /// Writes `manifest.json` (`about` and the counts) and gives the bytes.
    pub fn finish(
        mut self,
        mut about: serde_json::Map<String, Value>,
    ) -> Result<Vec<u8>, ExportError> {
        about.insert("format".into(), FORMAT.into());
        about.insert("rows".into(), json!(self.rows));
        about.insert("blobs".into(), self.blobs.into());
        about.insert("missing_blobs".into(), json!(self.missing));
        self.zip
            .start_file("manifest.json", SimpleFileOptions::default())?;
        let manifest = serde_json::to_vec_pretty(&Value::Object(about)).unwrap_or_default();
        self.zip.write_all(&manifest)?;
        Ok(self.zip.finish()?.into_inner())
    }

    /// Rows added per kind.
    pub fn rows(&self) -> &BTreeMap<&'static str, u64> {
        &self.rows
    }
}

/// What `manifest.json` says of whose data it is.
pub fn about(
    project_name: &str,
    holdings: Holdings<'_>,
    now_ms: i64,
) -> serde_json::Map<String, Value> {
    let exported_at = jiff::Timestamp::from_millisecond(now_ms)
        .map(|at| at.to_string())
        .unwrap_or_default();
    let mut about = serde_json::Map::new();
    about.insert("project".into(), project_name.into());
    about.insert("project_id".into(), holdings.owner.project_id.into());
    about.insert("end_user".into(), json!(holdings.owner.end_user));
    about.insert("exported_at".into(), exported_at.into());
    about
}

/// The whole export at once (the command line's; the admin API runs the
/// same steps as a job).
pub async fn archive(
    holdings: Holdings<'_>,
    about: serde_json::Map<String, Value>,
) -> Result<Vec<u8>, ExportError> {
    let mut archive = ExportZip::default();
    for kind in UserDataKind::ALL {
        let part = collect(holdings, kind).await?;
        archive.add(&part, holdings).await?;
    }
    archive.finish(about)
}
