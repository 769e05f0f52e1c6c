//! Projects and their keys.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use airlock_store::{Actor, HistoryPolicy, KeyKind, KeySettings, Limits, ProjectSettings};

use super::{AdminError, Body};
use crate::clock::now_ms;
use crate::state::AppState;
use crate::tenancy::manage::{self, ManageError, NewKey};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    name: String,
    #[serde(flatten)]
    settings: ProjectSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    #[serde(flatten)]
    settings: ProjectSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// `secret` (default) or `publishable`.
    #[serde(default)]
    kind: Option<KeyKind>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    operations: Vec<String>,
    /// Conversation bounds in place of the project's.
    #[serde(default)]
    conversations: Option<HistoryPolicy>,
    /// Lifetime in seconds from now.
    #[serde(default)]
    expires_in_secs: Option<u64>,
}

/// After a change, this instance reloads at once; others when they hear of
/// it (cluster mode) or within their poll.
async fn reload(state: &AppState) {
    state.config().auth.tenancy().changed().await;
}

fn store_error(error: airlock_store::StoreError) -> AdminError {
    ManageError::Store(error).into()
}

pub async fn list(State(state): State<AppState>) -> Result<Response, AdminError> {
    let projects = state.config().store.projects().await.map_err(store_error)?;
    Ok(Json(json!({"data": projects})).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(body): Body<CreateProject>,
) -> Result<Response, AdminError> {
    let project =
        manage::create_project(&state.config().store, &body.name, body.settings, &actor).await?;
    reload(&state).await;
    Ok((StatusCode::CREATED, Json(project)).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let project = state
        .config()
        .store
        .project_by_name(&name)
        .await
        .map_err(store_error)?;
    let project = project
        .ok_or_else(|| AdminError::from(ManageError::NotFound(format!("project {name}"))))?;
    Ok(Json(project).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    Body(body): Body<UpdateProject>,
) -> Result<Response, AdminError> {
    let project =
        manage::update_project_settings(&state.config().store, &name, body.settings, &actor)
            .await?;
    reload(&state).await;
    Ok(Json(project).into_response())
}

pub async fn list_keys(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let store = &state.config().store;
    let project = store.project_by_name(&name).await.map_err(store_error)?;
    let project = project
        .ok_or_else(|| AdminError::from(ManageError::NotFound(format!("project {name}"))))?;
    let keys = store.keys(Some(&project.id)).await.map_err(store_error)?;
    Ok(Json(json!({"data": keys})).into_response())
}

pub async fn create_key(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    Body(body): Body<CreateKey>,
) -> Result<Response, AdminError> {
    let expires_at_ms = match body.expires_in_secs {
        Some(0) => {
            return Err(AdminError::bad_request(
                "expires_in_secs must be greater than zero",
            ));
        }
        Some(secs) => Some(
            now_ms().saturating_add(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)),
        ),
        None => None,
    };
    let new = NewKey {
        kind: body.kind,
        name: body.name,
        limits: body.limits,
        models: body.models,
        operations: body.operations,
        conversations: body.conversations,
        expires_at_ms,
    };
    let (key, secret) = manage::create_key(&state.config().store, &name, new, &actor).await?;
    reload(&state).await;
    Ok((
        StatusCode::CREATED,
        Json(json!({"key": key, "secret": secret})),
    )
        .into_response())
}

pub async fn revoke_key(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let key = manage::revoke_key(&state.config().store, &id, &actor).await?;
    reload(&state).await;
    Ok(Json(key).into_response())
}

/// `PATCH /admin/v1/keys/{id}`: replaces the key's limits, model and
/// operation scopes and conversation bounds (the body is all of them, as
/// `GET` shows them under `settings`).
pub async fn update_key(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    Body(settings): Body<KeySettings>,
) -> Result<Response, AdminError> {
    let key = manage::update_key_settings(&state.config().store, &id, settings, &actor).await?;
    reload(&state).await;
    Ok(Json(key).into_response())
}
