//! Batches: many generation requests run in the background at the
//! provider's batch price, made through OpenAI's Batch API or Gemini's
//! Batch Mode.
//!
//! Airlock runs a batch itself, against whichever provider each request
//! routes to: the batch is a job of the one job runner (`airlock-jobs`),
//! one item per request, stored and resumed after a restart, a bounded
//! number at once. Each request goes through Airlock's own API routes
//! ([`crate::self_request`]) as the key that made the batch, re-read when
//! it runs (so a revoked key stops its batch's requests), under its
//! project's limits and budget, and is priced at the batch price. An
//! answer is kept with its item, success or error, and the batch's results
//! are built from them once it ends ([`output`]): OpenAI's output and error
//! files in the Files store, Gemini's inline responses or responses file.
//!
//! A batch is seen only through the API it was made with (its job kind
//! says which) and only by its project.

pub mod input;
pub mod output;

use std::sync::Arc;

use airlock_jobs::{BoxFuture, ItemOutcome, JobInfo, JobKind, JobListing, JobProgress, JobRunner};
use airlock_store::JobState;
use bytes::Bytes;
use serde_json::{Value, json};

use self::input::Input;
use crate::auth::Principal;
use crate::context::Pricing;
use crate::error::ApiError;
use crate::self_request::{SelfRequest, SelfRequests};
use crate::state::AppState;
use crate::tenancy::KeyGrant;

/// The job settings' key naming the key that made the batch (`None` for
/// the master key).
const PARAM_KEY: &str = "api_key_id";

/// Which API a batch was made through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchApi {
    OpenAi,
    Gemini,
}

impl BatchApi {
    /// The job kind its batches are stored as.
    pub fn kind(self) -> &'static str {
        match self {
            BatchApi::OpenAi => "openai-batch",
            BatchApi::Gemini => "gemini-batch",
        }
    }
}

/// Where a batch is, as both APIs describe it (each names it its way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    /// Stored, not started.
    Queued,
    Running,
    /// Cancelled, with requests still finishing.
    Cancelling,
    Cancelled,
    Completed,
    /// Ended early (its job stopped).
    Failed,
}

/// A batch's requests by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    /// Lines in the input, rejected ones included.
    pub total: u64,
    /// Requests answered with a success.
    pub succeeded: u64,
    /// Requests answered with an error, or that could not run, rejected
    /// lines included.
    pub failed: u64,
    /// Requests not run yet.
    pub pending: u64,
}

/// A batch's job, as its API sees it.
pub struct Batch {
    pub progress: JobProgress,
}

impl Batch {
    /// The job's settings: what the batch was made with.
    pub fn params(&self) -> &Value {
        &self.progress.job.params
    }

    /// The part of its job's id both APIs name it by.
    pub fn key(&self) -> &str {
        self.progress
            .job
            .id
            .strip_prefix("job_")
            .unwrap_or(&self.progress.job.id)
    }

    pub fn status(&self) -> BatchStatus {
        match self.progress.job.state {
            JobState::Queued => BatchStatus::Queued,
            JobState::Running => BatchStatus::Running,
            JobState::Cancelled if self.progress.items.running > 0 => BatchStatus::Cancelling,
            // A cancel that came after every request had started cancelled
            // nothing: every request ran, and the batch completed.
            JobState::Cancelled if self.progress.items.pending == 0 => BatchStatus::Completed,
            JobState::Cancelled => BatchStatus::Cancelled,
            JobState::Completed => BatchStatus::Completed,
            JobState::Stopped => BatchStatus::Failed,
        }
    }

    /// Whether its results are final: it ended, and nothing is in flight.
    pub fn ended(&self) -> bool {
        matches!(
            self.status(),
            BatchStatus::Cancelled | BatchStatus::Completed | BatchStatus::Failed
        )
    }

    pub fn counts(&self) -> BatchCounts {
        let rejected = self.params()["rejected"]
            .as_array()
            .map_or(0, |rejected| rejected.len() as u64);
        let items = &self.progress.items;
        BatchCounts {
            total: self.progress.job.total + rejected,
            succeeded: items.done,
            failed: items.failed + rejected,
            pending: items.pending + items.running,
        }
    }
}

/// Who made a batch: its key's id (`None`: the master key) and project.
pub struct Maker<'a> {
    pub key_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
}

impl<'a> Maker<'a> {
    pub fn of(principal: &'a Principal) -> Maker<'a> {
        let grant = principal.grant();
        Maker {
            key_id: grant.map(|grant| grant.key.id.as_str()),
            project_id: grant.map(|grant| grant.project.id.as_str()),
        }
    }
}

/// The job runner that runs batches.
fn runner(state: &AppState) -> Result<Arc<JobRunner>, ApiError> {
    state.jobs().ok_or(ApiError::BatchesUnavailable)
}

fn unavailable(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "batches: the job store failed");
    ApiError::BatchesUnavailable
}

/// Stores a batch of `input`'s requests made by `maker` through `api`
/// (its rejected lines kept with it); `params` are what the batch was made
/// with, for its API to describe it by.
pub async fn submit(
    state: &AppState,
    api: BatchApi,
    maker: &Maker<'_>,
    mut params: serde_json::Map<String, Value>,
    input: Input,
) -> Result<Batch, ApiError> {
    params.insert(PARAM_KEY.into(), json!(maker.key_id));
    params.insert("rejected".into(), json!(input.rejected));
    let progress = runner(state)?
        .submit(
            api.kind(),
            maker.project_id,
            Value::Object(params),
            &input.items,
        )
        .await
        .map_err(unavailable)?;
    Ok(Batch { progress })
}

/// A batch of `project`'s made through `api`, by the key its API names it
/// by; anyone else's is not found.
pub async fn find(
    state: &AppState,
    api: BatchApi,
    project_id: Option<&str>,
    key: &str,
) -> Result<Batch, ApiError> {
    let not_found = || ApiError::BatchNotFound {
        id: key.to_string(),
    };
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let progress = runner(state)?
        .get(&format!("job_{key}"))
        .await
        .map_err(unavailable)?
        .filter(|progress| {
            progress.job.kind == api.kind() && progress.job.project_id.as_deref() == project_id
        })
        .ok_or_else(not_found)?;
    Ok(Batch { progress })
}

/// `project`'s batches made through `api`, newest first, after the one
/// named `before` (by its key).
pub async fn list(
    state: &AppState,
    api: BatchApi,
    project_id: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Batch>, ApiError> {
    let before = before.map(|key| format!("job_{key}"));
    let listing = JobListing {
        kind: Some(api.kind()),
        owner: Some(project_id),
        before: before.as_deref(),
        limit,
    };
    let jobs = runner(state)?.list(&listing).await.map_err(unavailable)?;
    Ok(jobs
        .into_iter()
        .map(|progress| Batch { progress })
        .collect())
}

/// Cancels a batch: no request of it starts any more; those running
/// finish. A batch that has ended is left as it is.
pub async fn cancel(state: &AppState, batch: Batch) -> Result<Batch, ApiError> {
    let progress = runner(state)?
        .cancel(&batch.progress.job.id)
        .await
        .map_err(unavailable)?
        .unwrap_or(batch.progress);
    Ok(Batch { progress })
}

/// Cancels a batch and forgets it.
pub async fn delete(state: &AppState, batch: Batch) -> Result<(), ApiError> {
    runner(state)?
        .delete(&batch.progress.job.id)
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Starts the batch kinds, one per API.
pub(crate) fn kinds(state: &AppState) -> Vec<Arc<dyn JobKind>> {
    [BatchApi::OpenAi, BatchApi::Gemini]
        .into_iter()
        .map(|api| {
            Arc::new(BatchRequests {
                api,
                requests: SelfRequests::new(state.clone()),
            }) as Arc<dyn JobKind>
        })
        .collect()
}

/// Runs one request of a batch.
struct BatchRequests {
    api: BatchApi,
    requests: SelfRequests,
}

impl JobKind for BatchRequests {
    fn name(&self) -> &'static str {
        self.api.kind()
    }

    fn run<'a>(&'a self, job: &'a JobInfo, item: &'a Value) -> BoxFuture<'a, ItemOutcome> {
        Box::pin(self.run_item(job, item))
    }
}

impl BatchRequests {
    async fn run_item(&self, job: &JobInfo, item: &Value) -> ItemOutcome {
        let Some((path, body)) = crate::pregen::items::request_of(item) else {
            return failed("the stored item is not a request", None, 0.0);
        };
        let principal = match self.maker(job).await {
            Ok(principal) => principal,
            Err(reason) => return failed(reason, None, 0.0),
        };
        let request = SelfRequest {
            path,
            body: Bytes::from(Value::Object(body.clone()).to_string()),
            principal: &principal,
            headers: Vec::new(),
            pricing: Pricing::Batch,
        };
        let answer = match self.requests.send(request).await {
            Ok(answer) => answer,
            Err(reason) => return failed(reason, None, 0.0),
        };
        let body = serde_json::from_slice::<Value>(&answer.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into_owned()));
        let result = json!({
            "status_code": answer.status.as_u16(),
            "request_id": answer.request_id,
            "body": body,
        });
        if answer.status.is_success() {
            ItemOutcome::Done {
                result: Some(result),
                spend_usd: answer.spent,
            }
        } else {
            let reason = format!("{}: {}", answer.status.as_u16(), answer.message());
            failed(reason, Some(result), answer.spent)
        }
    }

    /// Who the batch's requests run as: the key that made it, as it is
    /// now (a revoked or expired key runs nothing more).
    async fn maker(&self, job: &JobInfo) -> Result<Principal, String> {
        let Some(key_id) = job.params[PARAM_KEY].as_str() else {
            return Ok(Principal::Master);
        };
        let store = &self.requests.state().config().store;
        let read = |error| format!("the batch's key could not be read: {error}");
        let key = store
            .key_by_id(key_id)
            .await
            .map_err(read)?
            .ok_or("the key that made the batch no longer exists")?;
        if key.revoked_at_ms.is_some() {
            return Err("the key that made the batch was revoked".into());
        }
        if key
            .expires_at_ms
            .is_some_and(|at| at <= crate::clock::now_ms())
        {
            return Err("the key that made the batch has expired".into());
        }
        let project = store
            .project_by_id(&key.project_id)
            .await
            .map_err(read)?
            .ok_or("the batch's project no longer exists")?;
        Ok(Principal::Key(Arc::new(KeyGrant::new(
            key,
            Arc::new(project),
        ))))
    }
}

fn failed(reason: impl Into<String>, result: Option<Value>, spend_usd: f64) -> ItemOutcome {
    ItemOutcome::Failed {
        reason: reason.into(),
        result,
        spend_usd,
    }
}
