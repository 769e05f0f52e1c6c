//! Pre-generation jobs for operators: `POST /admin/v1/pregenerate` takes a
//! project's requests (JSON Lines or a JSON array) and runs them in the
//! background to fill the response cache; `GET` shows a job's progress
//! (done, failed with reasons, spend, ETA) or lists jobs; a job can be
//! cancelled and resumed. Creating, cancelling and resuming are audited.

use airlock_jobs::{JobItemState, JobListing, JobProgress, JobRunner, PARAM_CONCURRENCY};
use airlock_store::Actor;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

use super::AdminError;
use super::reports::project_id;
use super::users::{runner, store_error};
use crate::pregen::items::{Rejected, read_items};
use crate::pregen::{KIND, PARAM_TTL_SECS};
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

/// Failed items listed with a job's progress.
const FAILURES_SHOWN: u32 = 100;
/// The most items of one job run at once.
const MAX_CONCURRENCY: u64 = 64;
/// The largest file a job is made from.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    project: Option<String>,
    concurrency: Option<u64>,
    ttl_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    project: Option<String>,
    limit: Option<u32>,
}

type Queried<Q> = Result<Query<Q>, axum::extract::rejection::QueryRejection>;

/// Project names by id, to name each job's project.
pub(super) async fn project_names(state: &AppState) -> Result<HashMap<String, String>, AdminError> {
    let projects = state.config().store.projects().await.map_err(store_error)?;
    Ok(projects.into_iter().map(|p| (p.id, p.name)).collect())
}

/// `POST /admin/v1/pregenerate?project=NAME`.
pub async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    query: Queried<CreateQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let name = query
        .project
        .ok_or_else(|| AdminError::bad_request("project is required: ?project=NAME"))?;
    let mut params = Map::new();
    if let Some(concurrency) = query.concurrency {
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            return Err(AdminError::bad_request(format!(
                "concurrency must be between 1 and {MAX_CONCURRENCY}"
            )));
        }
        params.insert(PARAM_CONCURRENCY.into(), concurrency.into());
    }
    if let Some(ttl) = query.ttl_secs {
        let max = crate::cache::policy::MAX_TTL.as_secs();
        if !(1..=max).contains(&ttl) {
            return Err(AdminError::bad_request(format!(
                "ttl_secs must be between 1 and {max} (30 days)"
            )));
        }
        params.insert(PARAM_TTL_SECS.into(), ttl.into());
    }
    let project = project_id(&state, Some(&name)).await?;
    let as_array = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    let (items, rejected) = read_items(&body, as_array).map_err(AdminError::bad_request)?;
    if items.is_empty() {
        let message = match rejected.is_empty() {
            true => "the file holds no request".to_string(),
            false => format!(
                "no line of the file is a request: {} rejected",
                rejected.len()
            ),
        };
        let body =
            json!({"error": {"message": message, "code": "invalid_request"}, "rejected": rejected});
        return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    let runner = runner(&state)?;
    let progress = runner
        .submit(KIND, project.as_deref(), Value::Object(params), &items)
        .await
        .map_err(|error| AdminError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
            code: "internal",
        })?;
    audit(
        &state,
        &actor,
        "pregenerate.create",
        &progress,
        json!({"project": name, "total": progress.job.total, "rejected": rejected.len()}),
    )
    .await?;
    let mut answer = described(&state, &runner, &progress).await?;
    answer["rejected"] = json!(rejected_lines(&rejected));
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

fn rejected_lines(rejected: &[Rejected]) -> Value {
    serde_json::to_value(rejected).unwrap_or_default()
}

/// `GET /admin/v1/pregenerate`: jobs, newest first.
pub async fn list(
    State(state): State<AppState>,
    query: Queried<ListQuery>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(AdminError::bad_request("limit must be between 1 and 1000"));
    }
    let project = project_id(&state, query.project.as_deref()).await?;
    let listing = JobListing {
        kind: Some(KIND),
        owner: project.as_deref().map(Some),
        before: None,
        limit,
    };
    listed(&state, &listing, summary).await
}

/// The jobs `listing` names, each shown by `show` with its project's name:
/// `{"data": [...]}`.
pub(super) async fn listed(
    state: &AppState,
    listing: &JobListing<'_>,
    show: fn(&HashMap<String, String>, &JobProgress) -> Value,
) -> Result<Response, AdminError> {
    let jobs = runner(state)?.list(listing).await.map_err(store_error)?;
    let names = project_names(state).await?;
    let data: Vec<Value> = jobs.iter().map(|progress| show(&names, progress)).collect();
    Ok(Json(json!({"data": data})).into_response())
}

/// `GET /admin/v1/pregenerate/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let runner = runner(&state)?;
    let progress = found(runner.get(&id).await.map_err(store_error)?, &id)?;
    Ok(Json(described(&state, &runner, &progress).await?).into_response())
}

/// `POST /admin/v1/pregenerate/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    change(&state, &actor, &id, Change::Cancel).await
}

/// `POST /admin/v1/pregenerate/{id}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    change(&state, &actor, &id, Change::Resume).await
}

/// What an operator does to a job.
#[derive(Clone, Copy)]
enum Change {
    Cancel,
    Resume,
}

/// Cancels or resumes a pre-generation job (another kind's job is not
/// found, and left alone), audited, and describes it after.
async fn change(
    state: &AppState,
    actor: &Actor,
    id: &str,
    change: Change,
) -> Result<Response, AdminError> {
    let runner = runner(state)?;
    found(runner.get(id).await.map_err(store_error)?, id)?;
    let (changed, action) = match change {
        Change::Cancel => (runner.cancel(id).await, "pregenerate.cancel"),
        Change::Resume => (runner.resume(id).await, "pregenerate.resume"),
    };
    let progress = found(changed.map_err(store_error)?, id)?;
    audit(
        state,
        actor,
        action,
        &progress,
        json!({"state": progress.job.state.as_str()}),
    )
    .await?;
    Ok(Json(described(state, &runner, &progress).await?).into_response())
}

/// A pre-generation job by id (another kind's job is not one).
fn found(progress: Option<JobProgress>, id: &str) -> Result<JobProgress, AdminError> {
    progress
        .filter(|progress| progress.job.kind == KIND)
        .ok_or_else(|| AdminError::from(ManageError::NotFound(format!("pre-generation job {id}"))))
}

async fn audit(
    state: &AppState,
    actor: &Actor,
    action: &str,
    progress: &JobProgress,
    after: Value,
) -> Result<(), AdminError> {
    state
        .config()
        .store
        .record_audit(actor, action, &progress.job.id, after)
        .await
        .map_err(store_error)
}

/// A job's progress as JSON, without its failures.
pub(super) fn summary(names: &HashMap<String, String>, progress: &JobProgress) -> Value {
    let job = &progress.job;
    let project = job.project_id.as_ref().and_then(|id| names.get(id));
    json!({
        "id": job.id,
        "project": project,
        "state": job.state.as_str(),
        "stop_reason": job.stop_reason,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "pending": progress.items.pending,
        "running": progress.items.running,
        "spend_usd": job.spend_usd,
        "eta_secs": progress.eta_secs,
        "created_at_ms": job.created_at_ms,
        "started_at_ms": job.started_at_ms,
        "finished_at_ms": job.finished_at_ms,
    })
}

/// A job's progress with its first failed items and their reasons.
async fn described(
    state: &AppState,
    runner: &JobRunner,
    progress: &JobProgress,
) -> Result<Value, AdminError> {
    let failed = runner
        .items(
            &progress.job.id,
            Some(JobItemState::Failed),
            FAILURES_SHOWN,
            0,
        )
        .await
        .map_err(store_error)?;
    let failures: Vec<Value> = failed
        .iter()
        .map(|item| {
            json!({
                "line": item.payload.get("line"),
                "custom_id": item.payload.get("custom_id"),
                "error": item.error,
            })
        })
        .collect();
    let mut answer = summary(&project_names(state).await?, progress);
    answer["failures"] = Value::Array(failures);
    Ok(answer)
}
