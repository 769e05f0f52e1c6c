//! Archival: a project's logged content and transcripts past its
//! `archive` days leave the database for the object store, as JSON Lines
//! objects (one JSON object per row, as exports write them) under
//! `archive/{project}/{kind}/{owner}/{newest}-{first}.jsonl`, where
//! `owner` is `u-` and the first 128 bits of the end user's SHA-256 in hex
//! (or `none`), `newest` the newest row's age (milliseconds, 13 digits) and
//! `first` the batch's first id. There they stay findable by end user: an
//! export reads them ([`read`]), an erasure deletes them ([`erase`]), and
//! retention deletes those whose newest row is past its days
//! ([`expire`]).
//!
//! A batch is written before its rows are deleted; a batch cut short
//! between the two is written again under the same name (the same rows),
//! so nothing is lost and nothing is archived twice.

use std::collections::BTreeMap;

use airlock_store::{
    AgeWindow, Archive, BlobError, Blobs, DataOwner, SealedColumn, Store, StoreError, UserDataKind,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Rows moved per batch.
const BATCH: u32 = 500;

/// Why archiving stopped (what it moved so far stays moved).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the archive could not be written: {0}")]
    Blob(#[from] BlobError),
}

/// Where `end_user`'s archived rows of `kind` in a project are kept.
pub fn owner_prefix(project_id: &str, kind: UserDataKind, end_user: Option<&str>) -> String {
    let owner = match end_user {
        Some(user) => format!("u-{}", &hex::encode(Sha256::digest(user.as_bytes()))[..32]),
        None => "none".to_string(),
    };
    format!("{}/{owner}", kind_prefix(project_id, kind))
}

/// Where a project's archived rows of `kind` are kept.
pub fn kind_prefix(project_id: &str, kind: UserDataKind) -> String {
    format!("{}/{}", project_prefix(project_id), kind.name())
}

/// Where a project's archive is.
pub fn project_prefix(project_id: &str) -> String {
    format!("archive/{project_id}")
}

/// Moves `kind`'s rows of a project older than `before_ms` to the object
/// store; how many moved.
pub async fn archive(
    store: &Store,
    blobs: &Blobs,
    project_id: &str,
    kind: UserDataKind,
    before_ms: i64,
) -> Result<u64, ArchiveError> {
    let owner = DataOwner {
        project_id,
        end_user: None,
    };
    let window = AgeWindow {
        since_ms: None,
        before_ms: Some(before_ms),
    };
    let age = age_column(kind);
    let mut moved = 0;
    loop {
        let page = store
            .user_data_window(kind, owner, window, None, BATCH)
            .await?;
        if page.rows.is_empty() {
            return Ok(moved);
        }
        let mut by_user: BTreeMap<Option<String>, Vec<&Map<String, Value>>> = BTreeMap::new();
        for row in &page.rows {
            let user = row
                .get("end_user")
                .and_then(Value::as_str)
                .map(String::from);
            by_user.entry(user).or_default().push(row);
        }
        for (user, rows) in by_user {
            let newest = rows
                .iter()
                .filter_map(|row| row.get(age).and_then(Value::as_i64))
                .max()
                .unwrap_or(0);
            let first = rows
                .first()
                .and_then(|row| row.get("id"))
                .and_then(Value::as_str)
                .unwrap_or("0");
            let first: String = first
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                .collect();
            let key = format!(
                "{}/{newest:013}-{first}.jsonl",
                owner_prefix(project_id, kind, user.as_deref())
            );
            let mut lines = String::new();
            for row in rows {
                lines.push_str(&Value::Object(row.clone()).to_string());
                lines.push('\n');
            }
            // Sealed as a whole when the store seals user content.
            let stored = store.seal(SealedColumn::Archive, lines);
            blobs.put(&key, stored.into(), "application/jsonl").await?;
        }
        let ids: Vec<String> = page
            .rows
            .iter()
            .filter_map(|row| row.get("id").and_then(Value::as_str).map(String::from))
            .collect();
        moved += store.delete_user_data(kind, &ids).await?;
        tokio::task::yield_now().await;
    }
}

/// The column a kind's age is read from in its rows.
fn age_column(kind: UserDataKind) -> &'static str {
    match kind {
        UserDataKind::Transcripts | UserDataKind::RequestLog => "started_at_ms",
        _ => "created_at_ms",
    }
}

/// `end_user`'s archived rows of `kind` in a project, as JSON Lines, and
/// how many.
pub async fn read(
    store: &Store,
    blobs: &Blobs,
    project_id: &str,
    kind: UserDataKind,
    end_user: Option<&str>,
) -> Result<(Vec<u8>, u64), ArchiveError> {
    let mut lines = Vec::new();
    let mut listed = blobs
        .list(&owner_prefix(project_id, kind, end_user))
        .await?;
    listed.sort_by(|a, b| a.key.cmp(&b.key));
    for object in listed {
        let bytes = match blobs.get(&object.key, None).await {
            Ok(object) => object.bytes().await?,
            // Deleted meanwhile (an erasure, retention): nothing to read.
            Err(BlobError::NotFound) => continue,
            Err(error) => return Err(error.into()),
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let opened = store
            .unseal(SealedColumn::Archive, text)
            .map_err(ArchiveError::Store)?;
        lines.extend_from_slice(opened.as_bytes());
    }
    let rows = lines.iter().filter(|b| **b == b'\n').count() as u64;
    Ok((lines, rows))
}

/// Deletes `owner`'s archived rows (every kind; a whole project's when it
/// names no end user); how many objects went.
pub async fn erase(blobs: &Blobs, owner: DataOwner<'_>) -> Result<u64, BlobError> {
    let prefixes: Vec<String> = match owner.end_user {
        Some(user) => Archive::KINDS
            .iter()
            .map(|kind| owner_prefix(owner.project_id, *kind, Some(user)))
            .collect(),
        None => vec![project_prefix(owner.project_id)],
    };
    let mut erased = 0;
    for prefix in prefixes {
        for object in blobs.list(&prefix).await? {
            blobs.delete(&object.key).await?;
            erased += 1;
        }
    }
    Ok(erased)
}

/// Deletes a project's archived objects of `kind` whose newest row is
/// older than `before_ms`; how many went.
pub async fn expire(
    blobs: &Blobs,
    project_id: &str,
    kind: UserDataKind,
    before_ms: i64,
) -> Result<u64, BlobError> {
    let mut expired = 0;
    for object in blobs.list(&kind_prefix(project_id, kind)).await? {
        let newest = object
            .key
            .rsplit('/')
            .next()
            .and_then(|name| name.split('-').next())
            .and_then(|newest| newest.parse::<i64>().ok());
        if newest.is_some_and(|newest| newest < before_ms) {
            blobs.delete(&object.key).await?;
            expired += 1;
        }
    }
    Ok(expired)
}
