//! Every background job of the one runner, whatever its kind, for
//! operators: `GET /admin/v1/jobs` (newest first, `kind` and `limit`) and
//! `GET /admin/v1/jobs/{id}` (with its failed items' reasons), so the jobs
//! nothing else shows (a data key's `reseal`, scheduled `backup`s) can be
//! followed. Kinds with their own API (pre-generation, batches, exports)
//! describe their jobs in more detail there.

use airlock_jobs::{JobItemState, JobListing, JobProgress};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminError;
use super::pregenerate::{listed, project_names, summary};
use super::users::{runner, store_error};
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

/// Failed items listed with a job.
const FAILURES_SHOWN: u32 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    kind: Option<String>,
    limit: Option<u32>,
}

type Queried<Q> = Result<Query<Q>, axum::extract::rejection::QueryRejection>;

/// A job as listed: its kind, and the counts every job has.
fn shown(names: &std::collections::HashMap<String, String>, progress: &JobProgress) -> Value {
    let mut shown = summary(names, progress);
    shown["kind"] = progress.job.kind.clone().into();
    shown
}

/// `GET /admin/v1/jobs`.
pub async fn list(
    State(state): State<AppState>,
    query: Queried<ListQuery>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(AdminError::bad_request("limit must be between 1 and 1000"));
    }
    let listing = JobListing {
        kind: query.kind.as_deref(),
        owner: None,
        before: None,
        limit,
    };
    listed(&state, &listing, shown).await
}

/// `GET /admin/v1/jobs/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let runner = runner(&state)?;
    let progress = runner
        .get(&id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| AdminError::from(ManageError::NotFound(format!("job {id}"))))?;
    let failed = runner
        .items(&id, Some(JobItemState::Failed), FAILURES_SHOWN, 0)
        .await
        .map_err(store_error)?;
    let mut answer = shown(&project_names(&state).await?, &progress);
    answer["failures"] = failed
        .iter()
        .map(|item| json!({"seq": item.seq, "error": item.error}))
        .collect::<Vec<_>>()
        .into();
    Ok(Json(answer).into_response())
}
