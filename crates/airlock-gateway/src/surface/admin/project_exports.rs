//! A project's data exported to the object store on demand: `POST
//! /admin/v1/projects/{name}/exports` (`{"kinds": [...], "since": …,
//! "until": …}`, all optional) starts a `project-export` job
//! ([`crate::exports`]); `GET /admin/v1/exports/{id}` shows it, with the
//! keys of the parts written. Audited.

use airlock_jobs::{JobItemState, JobProgress, JobRunner};
use airlock_store::{Actor, AgeWindow, UserDataKind};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminError;
use super::users::{project, runner, store_error};
use crate::exports::{DEFAULT_KINDS, EXPORTABLE, KIND, PARAM_PREFIX, PARAM_PROJECT_NAME, job_of};
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewExport {
    /// The kinds exported (default: conversations, transcripts, request_log).
    kinds: Option<Vec<String>>,
    /// Only rows from this time on (Unix seconds).
    since: Option<i64>,
    /// Only rows before this time (Unix seconds).
    until: Option<i64>,
}

/// `POST /admin/v1/projects/{name}/exports`.
pub async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, AdminError> {
    // No body asks for the defaults.
    let asked: NewExport = match body.is_empty() {
        true => NewExport::default(),
        false => serde_json::from_slice(&body).map_err(|error| {
            AdminError::bad_request(format!("the request body is not valid: {error}"))
        })?,
    };
    let kinds = match &asked.kinds {
        None => DEFAULT_KINDS.to_vec(),
        Some(names) if names.is_empty() => {
            return Err(AdminError::bad_request("kinds must name at least one kind"));
        }
        Some(names) => names
            .iter()
            .map(|name| {
                UserDataKind::parse(name)
                    .filter(|kind| EXPORTABLE.contains(kind))
                    .ok_or_else(|| {
                        AdminError::bad_request(format!(
                            "{name:?} cannot be exported: kinds are conversations, transcripts, request_log, content and responses"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let millis = |secs: Option<i64>| secs.map(|secs| secs.saturating_mul(1000));
    let window = AgeWindow {
        since_ms: millis(asked.since),
        before_ms: millis(asked.until),
    };
    if let (Some(since), Some(until)) = (asked.since, asked.until)
        && since >= until
    {
        return Err(AdminError::bad_request("since must be before until"));
    }
    let project = project(&state, &name).await?;
    let runner = runner(&state)?;
    let (params, items) = job_of(&project.name, &kinds, window, crate::clock::now_ms());
    let progress = runner
        .submit(KIND, Some(&project.id), params, &items)
        .await
        .map_err(|error| AdminError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
            code: "internal",
        })?;
    state
        .config()
        .store
        .record_audit(
            &actor,
            "project_data.export",
            &format!("projects/{}", project.name),
            json!({"job": progress.job.id}),
        )
        .await
        .map_err(store_error)?;
    let answer = described(&runner, &progress).await?;
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// A project export as the API shows it.
pub async fn described(runner: &JobRunner, progress: &JobProgress) -> Result<Value, AdminError> {
    let job = &progress.job;
    let items = runner
        .items(&job.id, None, 100, 0)
        .await
        .map_err(store_error)?;
    let mut kinds = serde_json::Map::new();
    for item in &items {
        let Some(kind) = item.payload.get("kind").and_then(Value::as_str) else {
            continue;
        };
        let shown = match (item.state, &item.result) {
            (JobItemState::Done, Some(result)) => json!({"status": "done", "rows": result["rows"],
                "bytes": result["bytes"], "parts": result["parts"]}),
            (JobItemState::Failed, _) => json!({"status": "failed", "message": item.error}),
            (state, _) => json!({"status": state.as_str()}),
        };
        kinds.insert(kind.to_string(), shown);
    }
    Ok(json!({
        "id": job.id,
        "object": "project_export",
        "project": job.params.get(PARAM_PROJECT_NAME),
        "status": job.state.as_str(),
        "progress": {"done": job.done, "failed": job.failed, "total": job.total},
        "created_at": job.created_at_ms / 1000,
        "prefix": job.params.get(PARAM_PREFIX),
        "kinds": kinds,
    }))
}
