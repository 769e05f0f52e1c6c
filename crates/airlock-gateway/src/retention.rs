//! Retention: each project's policy (`retention`: days per kind of user
//! data) applied by a sweep that deletes what is past its time, a bounded
//! batch at a time with a yield between batches, so it never holds the
//! database or the workers long. What it deleted is counted on `/metrics`
//! (`airlock_retention_deleted_total{kind}`). A sweep is idempotent (the
//! ages are in the rows), so one interrupted by a kill simply runs again;
//! each batch is one statement, so nothing is ever half-deleted.

use std::time::Duration;

use airlock_store::{RetainedKind, Store, StoreError};

/// Rows deleted per statement.
const BATCH: u32 = 500;
/// How often the running gateway sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Rows deleted by one sweep, per kind (in `RetainedKind::ALL`'s order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub content: u64,
    pub request_log: u64,
    pub transcripts: u64,
}

impl Swept {
    fn add(&mut self, kind: RetainedKind, rows: u64) {
        match kind {
            RetainedKind::Content => self.content += rows,
            RetainedKind::RequestLog => self.request_log += rows,
            RetainedKind::Transcripts => self.transcripts += rows,
        }
    }
}

/// Deletes every project's user data older than its policy allows at
/// `now_ms`.
pub async fn sweep(store: &Store, now_ms: i64) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    for project in store.projects().await? {
        let Some(retention) = project.settings.retention else {
            continue;
        };
        for kind in RetainedKind::ALL {
            let Some(days) = retention.days(kind) else {
                continue;
            };
            let before_ms = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
            loop {
                let deleted = store
                    .delete_expired(kind, &project.id, before_ms, BATCH)
                    .await?;
                swept.add(kind, deleted);
                crate::metrics::record_retention_deleted(kind.name(), deleted);
                if deleted < u64::from(BATCH) {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
    }
    Ok(swept)
}

/// Sweeps every [`SWEEP_EVERY`] while the task runs (the caller aborts
/// it at shutdown); a failed sweep is logged and tried at the next.
pub fn spawn(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(error) = sweep(&store, crate::clock::now_ms()).await {
                tracing::warn!(%error, "retention: a sweep failed; the next one tries again");
            }
        }
    })
}
