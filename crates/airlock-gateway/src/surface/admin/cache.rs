//! The response cache for operators: what it holds and what it saved
//! (`GET /admin/v1/cache`, for one project with `?project=NAME`), and
//! clearing it (`DELETE`, recorded in the audit log).

use airlock_store::Actor;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::AdminError;
use super::reports::project_id;
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheQuery {
    project: Option<String>,
}

type QueryResult = Result<Query<CacheQuery>, axum::extract::rejection::QueryRejection>;

/// `GET /admin/v1/cache`: entries stored, their bytes, hits and the cost
/// they saved (across projects, or one); the bytes held in memory.
pub async fn stats(
    State(state): State<AppState>,
    query: QueryResult,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let project = project_id(&state, query.project.as_deref()).await?;
    let stats = state
        .config()
        .store
        .cache_stats(project.as_deref())
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    let memory_bytes = state.cache().map_or(0, |cache| cache.sizes().0);
    Ok(Json(json!({
        "project": query.project,
        "entries": stats.entries,
        "bytes": stats.bytes,
        "hits": stats.hits,
        "saved_usd": stats.saved_usd,
        "memory_bytes": memory_bytes,
    }))
    .into_response())
}

/// `DELETE /admin/v1/cache`: forgets a project's entries (or every
/// entry), says how many went.
pub async fn clear(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    query: QueryResult,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let project = project_id(&state, query.project.as_deref()).await?;
    let Some(cache) = state.cache() else {
        return Ok(Json(json!({"deleted": 0})).into_response());
    };
    let deleted = cache
        .clear(project.as_deref())
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    let target = query.project.as_deref().unwrap_or("*");
    state
        .config()
        .store
        .record_audit(&actor, "cache.clear", target, json!({"deleted": deleted}))
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    Ok(Json(json!({"deleted": deleted})).into_response())
}
