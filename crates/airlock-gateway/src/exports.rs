//! A project's data exported as JSON Lines to the object store, for the
//! operator's own pipelines (a warehouse, an archive): conversations,
//! transcripts and the request log by default, on demand (`POST
//! /admin/v1/projects/{p}/exports`) or on a schedule (`[exports]`, say
//! nightly: each scheduled export holds what changed since the one before).
//!
//! An export is a job of the one job runner (`project-export`), one item
//! per kind. A kind's rows go to `exports/projects/{project}/{stamp}/` as
//! `{kind}-00001.jsonl`, `{kind}-00002.jsonl`, … (a part every
//! [`PART_BYTES`], so a large request log never sits in memory whole; a
//! kind with no rows still gets its first, empty, part). The keys depend
//! only on the job's settings, so an item run again after a restart writes
//! the same objects.

use std::time::Duration;

use airlock_jobs::{BoxFuture, Due, ItemOutcome, JobInfo, JobKind, Schedule};
use airlock_store::{AgeWindow, Blobs, DataOwner, Store, UserDataKind};
use serde_json::{Value, json};

/// The kind's name, as jobs are stored with it.
pub const KIND: &str = "project-export";
/// The kinds exported unless asked otherwise.
pub const DEFAULT_KINDS: [UserDataKind; 3] = [
    UserDataKind::Conversations,
    UserDataKind::Transcripts,
    UserDataKind::RequestLog,
];
/// The kinds an export may hold: rows only (files, media and cached
/// answers are blobs, exported per end user).
pub const EXPORTABLE: [UserDataKind; 5] = [
    UserDataKind::Conversations,
    UserDataKind::Transcripts,
    UserDataKind::RequestLog,
    UserDataKind::Content,
    UserDataKind::Responses,
];
/// A part's size, at most (a row is never split).
pub const PART_BYTES: usize = 32 << 20;
/// Rows read per statement.
const PAGE: u32 = 1000;

/// The job settings: the project's name, where the parts go, and the ages
/// exported.
pub const PARAM_PROJECT_NAME: &str = "project_name";
pub const PARAM_PREFIX: &str = "prefix";
pub const PARAM_SINCE_MS: &str = "since_ms";
pub const PARAM_BEFORE_MS: &str = "before_ms";

/// Projects exported on a schedule (`[exports]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSchedule {
    pub every: Duration,
    /// Where periods start, from midnight UTC.
    pub offset: Duration,
    /// By name; empty: every project.
    pub projects: Vec<String>,
    pub kinds: Vec<UserDataKind>,
}

/// The settings and items of an export of `project` (`project_name`):
/// `kinds` with ages in `window`, under a prefix stamped `stamp_ms`.
pub fn job_of(
    project_name: &str,
    kinds: &[UserDataKind],
    window: AgeWindow,
    stamp_ms: i64,
) -> (Value, Vec<Value>) {
    let stamp = jiff::Timestamp::from_millisecond(stamp_ms)
        .map(|at| at.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|_| stamp_ms.to_string());
    let params = json!({
        PARAM_PROJECT_NAME: project_name,
        PARAM_PREFIX: format!("exports/projects/{project_name}/{stamp}"),
        PARAM_SINCE_MS: window.since_ms,
        PARAM_BEFORE_MS: window.before_ms,
    });
    let items = kinds
        .iter()
        .map(|kind| json!({"kind": kind.name()}))
        .collect();
    (params, items)
}

/// A part's key.
fn part_key(prefix: &str, kind: UserDataKind, number: usize) -> String {
    format!("{prefix}/{}-{number:05}.jsonl", kind.name())
}

/// Runs export jobs' items.
pub struct ProjectExport {
    store: Store,
    blobs: Blobs,
}

impl ProjectExport {
    pub fn new(store: Store, blobs: Blobs) -> ProjectExport {
        ProjectExport { store, blobs }
    }

    async fn run_item(&self, job: &JobInfo, item: &Value) -> Result<Value, String> {
        let project_id = job
            .project_id
            .as_deref()
            .ok_or("the job names no project")?;
        let name = item.get("kind").and_then(Value::as_str).unwrap_or_default();
        let kind = UserDataKind::parse(name)
            .filter(|kind| EXPORTABLE.contains(kind))
            .ok_or_else(|| format!("{name:?} cannot be exported"))?;
        let prefix = job
            .params
            .get(PARAM_PREFIX)
            .and_then(Value::as_str)
            .ok_or("the job names no prefix")?;
        let window = AgeWindow {
            since_ms: job.params.get(PARAM_SINCE_MS).and_then(Value::as_i64),
            before_ms: job.params.get(PARAM_BEFORE_MS).and_then(Value::as_i64),
        };
        let owner = DataOwner {
            project_id,
            end_user: None,
        };
        let mut parts = Vec::new();
        let mut part = Vec::new();
        let (mut rows, mut bytes) = (0u64, 0u64);
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .user_data_window(kind, owner, window, after.as_deref(), PAGE)
                .await
                .map_err(|e| e.to_string())?;
            for row in &page.rows {
                serde_json::to_writer(&mut part, row).unwrap_or_default();
                part.push(b'\n');
                if part.len() >= PART_BYTES {
                    bytes += part.len() as u64;
                    parts.push(self.put(prefix, kind, parts.len() + 1, &mut part).await?);
                }
            }
            rows += page.rows.len() as u64;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if !part.is_empty() || parts.is_empty() {
            bytes += part.len() as u64;
            parts.push(self.put(prefix, kind, parts.len() + 1, &mut part).await?);
        }
        Ok(json!({"rows": rows, "bytes": bytes, "parts": parts}))
    }

    /// Puts a part (emptying it); its key.
    async fn put(
        &self,
        prefix: &str,
        kind: UserDataKind,
        number: usize,
        part: &mut Vec<u8>,
    ) -> Result<String, String> {
        let key = part_key(prefix, kind, number);
        let bytes = std::mem::take(part);
        self.blobs
            .put(&key, bytes.into(), "application/jsonl")
            .await
            .map_err(|e| e.to_string())?;
        Ok(key)
    }
}

impl JobKind for ProjectExport {
    fn name(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, job: &'a JobInfo, item: &'a Value) -> BoxFuture<'a, ItemOutcome> {
        Box::pin(async move { ItemOutcome::of(self.run_item(job, item).await) })
    }
}

impl ExportSchedule {
    /// A project's schedule.
    pub fn for_project(&self, project_id: &str) -> Schedule {
        Schedule {
            kind: KIND,
            project_id: Some(project_id.to_string()),
            every: self.every,
            offset: self.offset,
        }
    }

    /// The job of a due period: what changed since the previous scheduled
    /// export (everything, for the first) until the period's start.
    pub fn job(&self, project_name: &str, due: Due) -> (Value, Vec<Value>) {
        let window = AgeWindow {
            since_ms: due.previous_ms,
            before_ms: Some(due.period_ms),
        };
        job_of(project_name, &self.kinds, window, due.period_ms)
    }

    /// Whether `project_name` is exported.
    pub fn covers(&self, project_name: &str) -> bool {
        self.projects.is_empty() || self.projects.iter().any(|name| name == project_name)
    }
}
