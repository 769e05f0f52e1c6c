//! One end user's data for operators (GDPR): `POST
//! /admin/v1/projects/{p}/users/{u}/export` starts an export job, `GET
//! /admin/v1/exports/{id}` shows its progress and, once done, a signed,
//! expiring download URL (`/exports/{id}.zip`, served by
//! `surface::exports`); `DELETE /admin/v1/projects/{p}/users/{u}` erases
//! the user's data everywhere, after closing their open realtime sessions;
//! `DELETE /admin/v1/projects/{p}/data` erases all a project holds (the
//! project and its keys stay). Erasures are audited: that one happened, and
//! to whom (the end user's SHA-256, not their id), never what was deleted.

use std::time::Duration;

use airlock_jobs::{JobItemState, JobProgress, JobRunner};
use airlock_store::{Actor, DataOwner, Project};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminError;
use crate::state::AppState;
use crate::tenancy::manage::ManageError;
use crate::user_data::job::{self, KIND, PARAM_END_USER, PARAM_EXPIRES_AT_MS, PARAM_PROJECT_NAME};
use crate::user_data::{Holdings, audit_target, erase};

/// How long a download stays valid unless asked otherwise: 7 days.
const DEFAULT_EXPIRY_SECS: u64 = 7 * 24 * 3600;
/// The longest a download may stay valid: 30 days.
const MAX_EXPIRY_SECS: u64 = 30 * 24 * 3600;
/// How long an erasure waits for the user's sessions to close.
const SESSIONS_CLOSE_WAIT: Duration = Duration::from_secs(10);
/// The longest end-user id.
const MAX_USER_BYTES: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    expires_in_secs: Option<u64>,
}

type Queried<Q> = Result<Query<Q>, axum::extract::rejection::QueryRejection>;

pub(super) fn store_error(error: airlock_store::StoreError) -> AdminError {
    AdminError::from(ManageError::Store(error))
}

fn unavailable(message: &str) -> AdminError {
    AdminError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "unavailable",
        message: message.into(),
    }
}

pub(super) async fn project(state: &AppState, name: &str) -> Result<Project, AdminError> {
    let project = state
        .config()
        .store
        .project_by_name(name)
        .await
        .map_err(store_error)?;
    project.ok_or_else(|| AdminError::from(ManageError::NotFound(format!("project {name}"))))
}

fn checked_user(user: &str) -> Result<&str, AdminError> {
    if user.is_empty() || user.len() > MAX_USER_BYTES {
        return Err(AdminError::bad_request(format!(
            "an end user's id is 1 to {MAX_USER_BYTES} bytes"
        )));
    }
    Ok(user)
}

/// `POST /admin/v1/projects/{name}/users/{user}/export[?expires_in_secs=N]`.
pub async fn export(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((name, user)): Path<(String, String)>,
    query: Queried<ExportQuery>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let expires_in = query.expires_in_secs.unwrap_or(DEFAULT_EXPIRY_SECS);
    if !(60..=MAX_EXPIRY_SECS).contains(&expires_in) {
        return Err(AdminError::bad_request(format!(
            "expires_in_secs must be between 60 and {MAX_EXPIRY_SECS} (30 days)"
        )));
    }
    let user = checked_user(&user)?;
    let project = project(&state, &name).await?;
    let runner = runner(&state)?;
    let expires_at_ms =
        crate::clock::now_ms() + i64::try_from(expires_in * 1000).unwrap_or(i64::MAX);
    let owner = DataOwner {
        project_id: &project.id,
        end_user: Some(user),
    };
    let (params, items) = job::job_of(owner, &project.name, expires_at_ms);
    let progress = runner
        .submit(KIND, Some(&project.id), params, &items)
        .await
        .map_err(|error| AdminError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
            code: "internal",
        })?;
    let target = audit_target(&project.name, Some(user));
    state
        .config()
        .store
        .record_audit(
            &actor,
            "user_data.export",
            &target,
            json!({"job": progress.job.id}),
        )
        .await
        .map_err(store_error)?;
    let answer = described(&state, &runner, &progress, &headers).await?;
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// `GET /admin/v1/exports/{id}`: an end user's export, or a project's.
pub async fn get_export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    let runner = runner(&state)?;
    let progress = runner.get(&id).await.map_err(store_error)?;
    let answer = match progress {
        Some(progress) if progress.job.kind == KIND => {
            described(&state, &runner, &progress, &headers).await?
        }
        Some(progress) if progress.job.kind == crate::exports::KIND => {
            super::project_exports::described(&runner, &progress).await?
        }
        _ => return Err(ManageError::NotFound(format!("export {id}")).into()),
    };
    Ok(Json(answer).into_response())
}

/// `DELETE /admin/v1/projects/{name}/users/{user}`.
pub async fn erase_user(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((name, user)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let user = checked_user(&user)?;
    let project = project(&state, &name).await?;
    let target = audit_target(&project.name, Some(user));
    erased(&state, &actor, &project, Some(user), &target).await
}

/// `DELETE /admin/v1/projects/{name}/data`.
pub async fn erase_project(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let project = project(&state, &name).await?;
    let target = audit_target(&project.name, None);
    erased(&state, &actor, &project, None, &target).await
}

/// Erases `end_user`'s data in `project` (all of it when `None`): their
/// realtime sessions are closed first, a whole project's jobs cancelled,
/// then every kind of the inventory goes with its blobs, the cache
/// forgets what it held of it, and the audit log says it happened.
async fn erased(
    state: &AppState,
    actor: &Actor,
    project: &Project,
    end_user: Option<&str>,
    target: &str,
) -> Result<Response, AdminError> {
    let config = state.config();
    let owner = DataOwner {
        project_id: &project.id,
        end_user,
    };
    let sessions = config
        .realtime
        .sessions
        .close_for_erasure(&project.id, end_user, SESSIONS_CLOSE_WAIT)
        .await;
    let blobs = state.media().map(|media| media.blobs());
    let mut jobs = 0;
    if let Some(blobs) = blobs {
        jobs += job::remove_exports_of(&config.store, blobs, owner)
            .await
            .map_err(store_error)?;
    }
    if end_user.is_none() {
        jobs += remove_project_jobs(state, &project.id).await?;
    }
    let holdings = Holdings {
        store: &config.store,
        blobs,
        owner,
    };
    let erased = erase::erase(holdings).await.map_err(|error| {
        tracing::error!(%error, "an erasure stopped before the end; running it again goes on");
        AdminError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "the erasure stopped before the end; run it again (see the server log)".into(),
        }
    })?;
    crate::user_data::forget(state, &erased.deleted);
    config
        .store
        .record_audit(actor, "user_data.erase", target, Value::Null)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({
        "erased": true,
        "rows": erased.rows,
        "blobs": erased.blobs,
        "jobs": jobs,
        "realtime_sessions_closed": sessions,
    }))
    .into_response())
}

/// Deletes every job of a project (batches and pre-generation hold its
/// requests), cancelling those that run.
async fn remove_project_jobs(state: &AppState, project_id: &str) -> Result<u64, AdminError> {
    let Some(runner) = state.jobs() else {
        return Ok(0);
    };
    let mut ids = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let listing = airlock_jobs::JobListing {
            kind: None,
            owner: Some(Some(project_id)),
            before: before.as_deref(),
            limit: 500,
        };
        let page = state
            .config()
            .store
            .job_list(&listing)
            .await
            .map_err(store_error)?;
        let Some(last) = page.last() else {
            break;
        };
        before = Some(last.id.clone());
        ids.extend(page.into_iter().map(|job| job.id));
    }
    let mut removed = 0;
    for id in ids {
        if runner.delete(&id).await.map_err(store_error)? {
            removed += 1;
        }
    }
    Ok(removed)
}

pub(super) fn runner(state: &AppState) -> Result<std::sync::Arc<JobRunner>, AdminError> {
    state
        .jobs()
        .ok_or_else(|| unavailable("the job runner is not running"))
}

/// An export job as the API shows it.
async fn described(
    state: &AppState,
    runner: &JobRunner,
    progress: &JobProgress,
    headers: &HeaderMap,
) -> Result<Value, AdminError> {
    let job = &progress.job;
    let params = &job.params;
    let expires_at_ms = params.get(PARAM_EXPIRES_AT_MS).and_then(Value::as_i64);
    let failures = runner
        .items(&job.id, Some(JobItemState::Failed), 20, 0)
        .await
        .map_err(store_error)?;
    let mut answer = json!({
        "id": job.id,
        "object": "user_export",
        "project": params.get(PARAM_PROJECT_NAME),
        "end_user": params.get(PARAM_END_USER),
        "status": job.state.as_str(),
        "progress": {"done": job.done, "failed": job.failed, "total": job.total},
        "created_at": job.created_at_ms / 1000,
        "expires_at": expires_at_ms.map(|at| at / 1000),
        "errors": failures.iter().map(|item| json!({
            "kind": item.payload.get("kind"),
            "message": item.error,
        })).collect::<Vec<_>>(),
    });
    let archive = runner
        .items(
            &job.id,
            Some(JobItemState::Done),
            1,
            job.total.saturating_sub(1),
        )
        .await
        .map_err(store_error)?;
    let made = archive
        .iter()
        .find(|item| item.seq + 1 == job.total)
        .and_then(|item| item.result.clone());
    if let (Some(made), Some(expires_at_ms), Some(media)) = (made, expires_at_ms, state.media()) {
        let expires = u64::try_from(expires_at_ms / 1000).unwrap_or(0);
        let path = format!("/exports/{}.zip", job.id);
        let query = media.signer().path_query(&path, expires);
        let origin = media
            .settings()
            .public_url
            .clone()
            .unwrap_or_else(|| crate::surface::origin(headers));
        answer["download_url"] = format!("{}{path}?{query}", origin.trim_end_matches('/')).into();
        answer["bytes"] = made.get("bytes").cloned().unwrap_or(Value::Null);
        answer["sha256"] = made.get("sha256").cloned().unwrap_or(Value::Null);
        answer["rows"] = made.get("rows").cloned().unwrap_or(Value::Null);
    }
    Ok(answer)
}
