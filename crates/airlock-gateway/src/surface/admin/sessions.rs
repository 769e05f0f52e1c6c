//! Realtime session records: listing (newest first) and one session with
//! its transcript.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use airlock_store::SessionFilter;

use super::AdminError;
use super::reports::project_id;
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    project: Option<String>,
    key: Option<String>,
    /// Sessions started at or after this time (Unix milliseconds).
    since_ms: Option<i64>,
    /// Page: sessions older than this id.
    before: Option<String>,
    limit: Option<u32>,
}

/// `GET /admin/v1/realtime/sessions`: newest first, without transcripts.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<SessionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    if query.since_ms.is_some_and(|since| since < 0) {
        return Err(AdminError::bad_request(
            "since_ms must be a time, 0 or more",
        ));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=SessionFilter::MAX_LIMIT).contains(&limit) {
        return Err(AdminError::bad_request(format!(
            "limit must be between 1 and {}",
            SessionFilter::MAX_LIMIT
        )));
    }
    let filter = SessionFilter {
        project_id: project_id(&state, query.project.as_deref()).await?,
        api_key_id: query.key,
        since_ms: query.since_ms,
        limit,
        before_id: query.before,
    };
    let sessions = state
        .config()
        .store
        .sessions(&filter)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    let next = (sessions.len() == limit as usize)
        .then(|| sessions.last().map(|s| s.id.clone()))
        .flatten();
    Ok(Json(json!({"data": sessions, "next_before": next})).into_response())
}

/// `GET /admin/v1/realtime/sessions/{id}`: one session with its transcript.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let session = state
        .config()
        .store
        .session(&id)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    match session {
        Some(session) => Ok(Json(session).into_response()),
        None => Ok((
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"message": format!("no session {id}"), "code": "not_found"}})),
        )
            .into_response()),
    }
}
