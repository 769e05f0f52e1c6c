//! A project's stored media for operators: listed newest first, and one
//! record by id, each with a fresh signed URL to look at it.

use airlock_store::MediaRecord;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminError;
use super::reports::project_id;
use crate::clock::unix_secs;
use crate::media::answers::origin;
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaQuery {
    limit: Option<u32>,
}

/// `GET /admin/v1/projects/{name}/media`.
pub async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Result<Query<MediaQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MediaRecord::MAX_LIMIT).contains(&limit) {
        return Err(AdminError::bad_request(format!(
            "limit must be between 1 and {}",
            MediaRecord::MAX_LIMIT
        )));
    }
    let project = project_id(&state, Some(&name)).await?.unwrap_or_default();
    let records = state
        .config()
        .store
        .media_of_project(&project, limit)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    let mut data = Vec::with_capacity(records.len());
    for record in &records {
        data.push(described(&state, &headers, record).await);
    }
    Ok(Json(json!({"data": data})).into_response())
}

/// `GET /admin/v1/media/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    let record = state
        .config()
        .store
        .media(&id)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?
        .ok_or_else(|| AdminError::from(ManageError::NotFound(format!("media {id}"))))?;
    Ok(Json(described(&state, &headers, &record).await).into_response())
}

/// A record as JSON, with a URL to it when media is configured and its
/// store answers (`null` otherwise).
async fn described(state: &AppState, headers: &HeaderMap, record: &MediaRecord) -> Value {
    let url = match state.media() {
        Some(media) => media
            .url(&record.id, &origin(headers), unix_secs())
            .await
            .ok(),
        None => None,
    };
    let mut value = serde_json::to_value(record).unwrap_or_default();
    value["url"] = json!(url);
    value
}
