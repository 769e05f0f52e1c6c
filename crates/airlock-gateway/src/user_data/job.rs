//! The export as a job of the one job runner (`user-export`): one item per
//! kind of the inventory, then one that makes the archive, run in order
//! (the job's concurrency is 1), so its progress says how far it is and a
//! restart resumes it. Each kind's item keeps its rows and the blobs they
//! name under `exports/{job}/` in the object store; the last item puts
//! them into `exports/{job}.zip` and deletes them. The archive is handed
//! out as a signed URL until the job's `expires_at_ms`; the retention sweep
//! deletes it then ([`sweep_expired`]).

use airlock_jobs::{BoxFuture, ItemOutcome, JobInfo, JobKind, JobListing, PARAM_CONCURRENCY};
use airlock_store::{BlobError, Blobs, DataOwner, Store, StoreError, UserDataKind};
use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Holdings;
use super::export::{ExportZip, KindPart, about, collect};

/// The kind's name, as jobs are stored with it.
pub const KIND: &str = "user-export";
/// The job settings naming whose data is exported, the project's name (as
/// the manifest says it) and when the download expires.
pub const PARAM_END_USER: &str = "end_user";
pub const PARAM_PROJECT_NAME: &str = "project_name";
pub const PARAM_EXPIRES_AT_MS: &str = "expires_at_ms";
/// The last item's marker.
const ARCHIVE_ITEM: &str = "archive";

/// Where a job's archive is kept.
pub fn archive_key(job_id: &str) -> String {
    format!("exports/{job_id}.zip")
}

fn part_key(job_id: &str, kind: UserDataKind, what: &str) -> String {
    format!("exports/{job_id}/{}.{what}", kind.name())
}

/// The settings and items of an export job of `owner`'s data.
pub fn job_of(owner: DataOwner<'_>, project_name: &str, expires_at_ms: i64) -> (Value, Vec<Value>) {
    let params = json!({
        PARAM_CONCURRENCY: 1,
        PARAM_END_USER: owner.end_user,
        PARAM_PROJECT_NAME: project_name,
        PARAM_EXPIRES_AT_MS: expires_at_ms,
    });
    let mut items: Vec<Value> = UserDataKind::ALL
        .iter()
        .map(|kind| json!({"kind": kind.name()}))
        .collect();
    items.push(json!({"kind": ARCHIVE_ITEM}));
    (params, items)
}

/// Runs export jobs' items.
pub struct UserExport {
    store: Store,
    blobs: Blobs,
}

impl UserExport {
    pub fn new(store: Store, blobs: Blobs) -> UserExport {
        UserExport { store, blobs }
    }

    async fn run_item(&self, job: &JobInfo, item: &Value) -> Result<Value, String> {
        let project_id = job
            .project_id
            .as_deref()
            .ok_or("the job names no project")?;
        let end_user = job.params.get(PARAM_END_USER).and_then(Value::as_str);
        let holdings = Holdings {
            store: &self.store,
            blobs: Some(&self.blobs),
            owner: DataOwner {
                project_id,
                end_user,
            },
        };
        let name = item.get("kind").and_then(Value::as_str).unwrap_or_default();
        if name == ARCHIVE_ITEM {
            return self.make_archive(job, holdings).await;
        }
        let kind = UserDataKind::parse(name).ok_or_else(|| format!("no kind of data {name:?}"))?;
        let part = collect(holdings, kind).await.map_err(|e| e.to_string())?;
        let blob_list = serde_json::to_vec(&part.blobs).unwrap_or_default();
        let (rows, blobs) = (part.rows, part.blobs.len());
        self.put(
            &part_key(&job.id, kind, "jsonl"),
            part.jsonl.into(),
            "application/jsonl",
        )
        .await?;
        self.put(
            &part_key(&job.id, kind, "blobs"),
            blob_list.into(),
            "application/json",
        )
        .await?;
        Ok(json!({"rows": rows, "blobs": blobs}))
    }

    async fn make_archive(&self, job: &JobInfo, holdings: Holdings<'_>) -> Result<Value, String> {
        let mut archive = ExportZip::default();
        for kind in UserDataKind::ALL {
            let jsonl = self.part(&job.id, kind, "jsonl").await?;
            let blobs: Vec<String> =
                serde_json::from_slice(&self.part(&job.id, kind, "blobs").await?)
                    .map_err(|_| format!("the {} part is damaged: export again", kind.name()))?;
            let part = KindPart {
                kind,
                rows: jsonl.iter().filter(|b| **b == b'\n').count() as u64,
                jsonl: jsonl.to_vec(),
                blobs,
            };
            archive
                .add(&part, holdings)
                .await
                .map_err(|e| e.to_string())?;
        }
        let project_name = job.params.get(PARAM_PROJECT_NAME).and_then(Value::as_str);
        let about = about(
            project_name.unwrap_or_default(),
            holdings,
            crate::clock::now_ms(),
        );
        let rows = json!(archive.rows());
        let bytes = archive.finish(about).map_err(|e| e.to_string())?;
        let size = bytes.len();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.put(&archive_key(&job.id), bytes.into(), "application/zip")
            .await?;
        for kind in UserDataKind::ALL {
            for what in ["jsonl", "blobs"] {
                // Left behind, a part is only bytes under the job's folder,
                // deleted with the archive.
                let _ = self.blobs.delete(&part_key(&job.id, kind, what)).await;
            }
        }
        Ok(json!({"bytes": size, "sha256": sha256, "rows": rows}))
    }

    async fn part(&self, job_id: &str, kind: UserDataKind, what: &str) -> Result<Bytes, String> {
        let missing = || format!("the {} part is missing: export again", kind.name());
        match self.blobs.get(&part_key(job_id, kind, what), None).await {
            Ok(object) => object.bytes().await.map_err(|e| e.to_string()),
            Err(BlobError::NotFound) => Err(missing()),
            Err(error) => Err(error.to_string()),
        }
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), String> {
        self.blobs
            .put(key, bytes, content_type)
            .await
            .map_err(|e| e.to_string())
    }
}

impl JobKind for UserExport {
    fn name(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, job: &'a JobInfo, item: &'a Value) -> BoxFuture<'a, ItemOutcome> {
        Box::pin(async move { ItemOutcome::of(self.run_item(job, item).await) })
    }
}

/// Deletes export jobs whose download expired by `now_ms`, and their
/// archives (and parts); says how many went.
pub async fn sweep_expired(store: &Store, blobs: &Blobs, now_ms: i64) -> Result<u64, StoreError> {
    remove_where(store, blobs, None, |params| {
        let expires = params.get(PARAM_EXPIRES_AT_MS).and_then(Value::as_i64);
        expires.is_some_and(|at| at <= now_ms)
    })
    .await
}

/// Deletes the export jobs of `owner`'s data (all of a project's when it
/// names no end user), and their archives: an export holds the data, and
/// its job names the end user.
pub async fn remove_exports_of(
    store: &Store,
    blobs: &Blobs,
    owner: DataOwner<'_>,
) -> Result<u64, StoreError> {
    remove_where(store, blobs, Some(owner.project_id), |params| {
        let end_user = params.get(PARAM_END_USER).and_then(Value::as_str);
        owner.end_user.is_none_or(|user| end_user == Some(user))
    })
    .await
}

/// Deletes the export jobs (of a project, or everyone's) whose settings
/// `chosen` picks, with their blobs; a job whose blobs could not all be
/// deleted stays, for the next try.
async fn remove_where(
    store: &Store,
    blobs: &Blobs,
    project_id: Option<&str>,
    chosen: impl Fn(&Value) -> bool,
) -> Result<u64, StoreError> {
    // Listed first, then deleted: a page goes on from its last job, which
    // must still exist.
    let mut chosen_ids = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let listing = JobListing {
            kind: Some(KIND),
            owner: project_id.map(Some),
            before: before.as_deref(),
            limit: 500,
        };
        let jobs = store.job_list(&listing).await?;
        let Some(last) = jobs.last() else {
            break;
        };
        before = Some(last.id.clone());
        chosen_ids.extend(
            jobs.iter()
                .filter(|job| chosen(&job.params))
                .map(|job| job.id.clone()),
        );
    }
    let mut removed = 0;
    for id in &chosen_ids {
        let mut keys = vec![archive_key(id)];
        for kind in UserDataKind::ALL {
            keys.push(part_key(id, kind, "jsonl"));
            keys.push(part_key(id, kind, "blobs"));
        }
        let mut gone = true;
        for key in &keys {
            if let Err(error) = blobs.delete(key).await {
                tracing::warn!(%error, job = %id, "an export's archive could not be deleted");
                gone = false;
            }
        }
        if gone && store.job_delete(id).await? {
            removed += 1;
        }
    }
    Ok(removed)
}
