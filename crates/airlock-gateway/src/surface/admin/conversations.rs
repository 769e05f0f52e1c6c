//! A project's conversations: listed most recently active first, and one
//! with its items and turns (what its users said and were answered).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::AdminError;
use super::reports::project_id;
use crate::conversations::export;
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

/// The most conversations one page lists.
const MAX_LIMIT: u32 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationsQuery {
    limit: Option<u32>,
    /// Page: the `next_after` of the page before.
    after: Option<String>,
}

/// `GET /admin/v1/projects/{name}/conversations`.
pub async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<ConversationsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let after = match query.after.as_deref() {
        None => None,
        Some(cursor) => Some(
            export::parse_cursor(cursor)
                .ok_or_else(|| AdminError::bad_request("after must be a next_after cursor"))?,
        ),
    };
    let project = project_id(&state, Some(&name)).await?;
    let listed = state
        .config()
        .store
        .project_conversations(project.as_deref(), i64::from(limit), after)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    let next = (listed.len() == limit as usize)
        .then(|| listed.last().map(export::cursor))
        .flatten();
    let data: Vec<_> = listed.iter().map(export::summary).collect();
    Ok(Json(json!({"data": data, "next_after": next})).into_response())
}

/// `GET /admin/v1/conversations/{id}`: one conversation with its items and
/// turns.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let store = &state.config().store;
    let conversation = store
        .conversation(&id)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    match conversation {
        Some(conversation) => {
            let view = export::full(store, &conversation)
                .await
                .map_err(|e| AdminError::from(ManageError::Store(e)))?;
            Ok(Json(view).into_response())
        }
        None => Ok((
            StatusCode::NOT_FOUND,
            Json(
                json!({"error": {"message": format!("no conversation {id}"), "code": "not_found"}}),
            ),
        )
            .into_response()),
    }
}
