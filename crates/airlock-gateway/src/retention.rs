//! Retention: each project's policy (`retention`: days per kind of user
//! data in the inventory) applied by a sweep that deletes what is past its
//! time, a bounded batch at a time with a yield between batches, so it
//! never holds the database or the workers long; each batch's blobs
//! (files, their text, media and its variants) go before its rows. What it
//! deleted is counted on `/metrics` (`airlock_retention_deleted_total{kind}`).
//! A sweep is idempotent (the ages are in the rows), so one interrupted by
//! a kill simply runs again; rows go a batch per statement, so nothing is
//! ever half-deleted. Before it, a project's `archive` policy moves its
//! content and transcripts past their days to the object store
//! ([`crate::user_data::archive`]; counted in `airlock_archived_total`),
//! where retention deletes them in turn. What the gateway holds in memory of deleted rows
//! (stored turns, conversation objects) is forgotten with them. The same
//! sweep deletes GDPR exports whose download has expired.

use std::collections::BTreeMap;
use std::time::Duration;

use airlock_store::{BlobError, StoreError, UserDataKind};

use crate::state::AppState;
use crate::user_data::archive::{self, ArchiveError};
use crate::user_data::erase::Deleted;

/// Rows deleted per statement.
const BATCH: u32 = 500;
/// How often the running gateway sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What one sweep deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    rows: BTreeMap<&'static str, u64>,
    archived: BTreeMap<&'static str, u64>,
    /// Expired exports deleted, with their archives.
    pub exports: u64,
}

impl Swept {
    /// Rows of `kind` deleted (archived objects count as one each).
    pub fn rows(&self, kind: UserDataKind) -> u64 {
        self.rows.get(kind.name()).copied().unwrap_or(0)
    }

    /// Rows of `kind` moved to the archive.
    pub fn archived(&self, kind: UserDataKind) -> u64 {
        self.archived.get(kind.name()).copied().unwrap_or(0)
    }
}

/// Why a sweep stopped (what it deleted so far stays deleted).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blob could not be deleted: {0}")]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Deletes every project's user data older than its policy allows at
/// `now_ms`, blobs included, and exports past their download.
pub async fn sweep(state: &AppState, now_ms: i64) -> Result<Swept, SweepError> {
    let store = &state.config().store;
    let blobs = state.media().map(|media| media.blobs());
    let mut swept = Swept::default();
    for project in store.projects().await? {
        if let (Some(policy), Some(blobs)) = (project.settings.archive, blobs) {
            for kind in airlock_store::Archive::KINDS {
                let Some(days) = policy.days(kind) else {
                    continue;
                };
                let before_ms = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
                let moved = archive::archive(store, blobs, &project.id, kind, before_ms).await?;
                *swept.archived.entry(kind.name()).or_default() += moved;
                crate::metrics::record_archived(kind.name(), moved);
            }
        }
        let Some(retention) = project.settings.retention else {
            continue;
        };
        for kind in UserDataKind::ALL {
            let Some(days) = retention.days(kind) else {
                continue;
            };
            let before_ms = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
            if let Some(blobs) = blobs
                && airlock_store::Archive::KINDS.contains(&kind)
            {
                let expired = archive::expire(blobs, &project.id, kind, before_ms).await?;
                *swept.rows.entry(kind.name()).or_default() += expired;
                crate::metrics::record_retention_deleted(kind.name(), expired);
            }
            loop {
                let batch = store
                    .user_data_expired(kind, &project.id, before_ms, BATCH)
                    .await?;
                if let Some(blobs) = blobs {
                    for key in &batch.blobs {
                        blobs.delete(key).await?;
                    }
                }
                let deleted = store.delete_user_data(kind, &batch.ids).await?;
                *swept.rows.entry(kind.name()).or_default() += deleted;
                crate::metrics::record_retention_deleted(kind.name(), deleted);
                let full = batch.ids.len() >= BATCH as usize;
                let mut forgotten = Deleted::default();
                forgotten.add(kind, batch.ids);
                crate::user_data::forget(state, &forgotten);
                if !full {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
    }
    if let Some(blobs) = blobs {
        swept.exports = crate::user_data::job::sweep_expired(store, blobs, now_ms).await?;
        crate::metrics::record_retention_deleted("exports", swept.exports);
    }
    Ok(swept)
}

/// Sweeps every [`SWEEP_EVERY`] while the task runs (the caller aborts
/// it at shutdown); a failed sweep is logged and tried at the next.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(error) = sweep(&state, crate::clock::now_ms()).await {
                tracing::warn!(%error, "retention: a sweep failed; the next one tries again");
            }
        }
    })
}
