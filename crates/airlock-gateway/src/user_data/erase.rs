//! Erasure: every row of an end user's (or a whole project's) data in the
//! inventory deleted, a batch at a time, each batch's blobs before its
//! rows, so an erasure cut short (a crash, a failing object store) leaves
//! only rows the next erasure finds and deletes, never a blob nobody can
//! find. Running it again is harmless.

use std::collections::BTreeMap;

use airlock_store::{BlobError, StoreError, UserDataKind};

use super::Holdings;

/// Rows erased per statement.
const BATCH: u32 = 500;

/// What an erasure removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    /// Rows per kind (every kind named, zero included).
    pub rows: BTreeMap<&'static str, u64>,
    /// Blobs deleted, or found gone already (files, their text, media and
    /// its variants, cached answers' bodies).
    pub blobs: u64,
    /// What caches in memory must forget.
    #[serde(skip)]
    pub deleted: Deleted,
}

/// The ids of deleted rows that a running gateway may hold in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Cached answers' keys.
    pub cache_keys: Vec<String>,
    /// Stored Responses turns.
    pub turns: Vec<String>,
    /// Conversation objects.
    pub conversations: Vec<String>,
}

impl Deleted {
    /// Notes a batch of `kind` deleted.
    pub fn add(&mut self, kind: UserDataKind, ids: Vec<String>) {
        match kind {
            UserDataKind::Cache => self.cache_keys.extend(ids),
            UserDataKind::Responses => self.turns.extend(ids),
            UserDataKind::Conversations => self.conversations.extend(ids),
            _ => {}
        }
    }
}

/// Why an erasure stopped before the end (what it did so far stays done).
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blob could not be deleted: {0}")]
    Blob(#[from] BlobError),
}

/// Erases everything `holdings` names of every kind.
pub async fn erase(holdings: Holdings<'_>) -> Result<Erased, EraseError> {
    let mut erased = Erased::default();
    for kind in UserDataKind::ALL {
        let mut rows = 0;
        loop {
            let batch = holdings
                .store
                .user_data_batch(kind, holdings.owner, BATCH)
                .await?;
            if batch.ids.is_empty() {
                break;
            }
            if let Some(blobs) = holdings.blobs {
                for key in &batch.blobs {
                    blobs.delete(key).await?;
                    erased.blobs += 1;
                }
            }
            rows += holdings.store.delete_user_data(kind, &batch.ids).await?;
            erased.deleted.add(kind, batch.ids);
            tokio::task::yield_now().await;
        }
        erased.rows.insert(kind.name(), rows);
    }
    if let Some(blobs) = holdings.blobs {
        erased.blobs += super::archive::erase(blobs, holdings.owner).await?;
    }
    Ok(erased)
}
