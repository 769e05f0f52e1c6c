//! Backups on a schedule (`[backups]`): a kind of job of the one runner
//! (`backup`), submitted once per period by the gateway's recurring loop,
//! that writes `airlock backup`'s folder as `{dir}/airlock-backup-{time}`
//! and then deletes the oldest such folders beyond `keep`. A run cut short
//! (a restart) starts its folder over; a folder already complete (its
//! manifest written last) is left as it is.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_gateway::jobs::Recurring;
use airlock_jobs::{BoxFuture, ItemOutcome, JobInfo, JobKind, PARAM_PERIOD_MS, Schedule};
use serde_json::{Value, json};

use crate::config::{BackupSchedule, Settings};

/// The kind's name, as jobs are stored with it.
pub const KIND: &str = "backup";
/// What every scheduled backup's folder is named from.
const FOLDER_PREFIX: &str = "airlock-backup-";

/// Runs scheduled backups.
pub struct ScheduledBackups {
    settings: Arc<Settings>,
    schedule: BackupSchedule,
}

impl ScheduledBackups {
    pub fn new(settings: Arc<Settings>, schedule: BackupSchedule) -> ScheduledBackups {
        ScheduledBackups { settings, schedule }
    }

    /// The recurring job the gateway's loop submits.
    pub fn recurring(&self) -> Recurring {
        Recurring {
            schedule: Schedule {
                kind: KIND,
                project_id: None,
                every: self.schedule.every,
                offset: self.schedule.offset,
            },
            make: Box::new(|_| (json!({}), vec![json!({})])),
        }
    }

    async fn run_item(&self, job: &JobInfo) -> Result<Value, String> {
        let period = job.params.get(PARAM_PERIOD_MS).and_then(Value::as_i64);
        let stamp = jiff::Timestamp::from_millisecond(
            period.unwrap_or_else(airlock_gateway::clock::now_ms),
        )
        .map(|at| at.strftime("%Y%m%dT%H%M%SZ").to_string())
        .map_err(|e| e.to_string())?;
        let folder = self.schedule.dir.join(format!("{FOLDER_PREFIX}{stamp}"));
        let summary = if folder.join(crate::backup::MANIFEST).is_file() {
            "already written".to_string()
        } else {
            if folder.exists() {
                std::fs::remove_dir_all(&folder)
                    .map_err(|error| format!("cannot start {} over: {error}", folder.display()))?;
            }
            std::fs::create_dir_all(&self.schedule.dir).map_err(|error| {
                format!("cannot create {}: {error}", self.schedule.dir.display())
            })?;
            crate::backup::backup_to(&self.settings, &folder).await?
        };
        let removed = prune(&self.schedule.dir, self.schedule.keep)?;
        Ok(json!({"folder": folder.display().to_string(), "summary": summary, "removed": removed}))
    }
}

impl JobKind for ScheduledBackups {
    fn name(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, job: &'a JobInfo, _item: &'a Value) -> BoxFuture<'a, ItemOutcome> {
        Box::pin(async move {
            let run = self.run_item(job).await;
            if let Err(reason) = &run {
                tracing::error!(%reason, "a scheduled backup failed");
            }
            ItemOutcome::of(run)
        })
    }
}

/// Deletes the oldest scheduled backups under `dir` beyond the newest
/// `keep` (their names sort by time); the folders deleted.
fn prune(dir: &Path, keep: usize) -> Result<Vec<String>, String> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot list {}: {error}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_dir()
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with(FOLDER_PREFIX))
        })
        .collect();
    folders.sort();
    let excess = folders.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for folder in &folders[..excess] {
        std::fs::remove_dir_all(folder)
            .map_err(|error| format!("cannot delete {}: {error}", folder.display()))?;
        removed.push(folder.display().to_string());
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_scheduled_backups_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        for stamp in ["20261201T030000Z", "20261202T030000Z", "20261203T030000Z"] {
            std::fs::create_dir(dir.path().join(format!("{FOLDER_PREFIX}{stamp}"))).unwrap();
        }
        std::fs::create_dir(dir.path().join("manual-backup")).unwrap();
        let removed = prune(dir.path(), 2).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(removed[0].ends_with("airlock-backup-20261201T030000Z"));
        assert!(dir.path().join("airlock-backup-20261203T030000Z").is_dir());
        assert!(dir.path().join("manual-backup").is_dir());
        assert!(prune(dir.path(), 2).unwrap().is_empty());
    }
}
