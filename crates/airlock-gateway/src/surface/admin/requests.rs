//! The request log, read back: `GET /admin/v1/requests` (newest first,
//! filtered by time, project, key, model, status and end user, a page at a
//! time) and `GET /admin/v1/requests/{id}` (one record, and whether its
//! content was logged). Records hold no content; what a content-logging
//! project's requests said is at `/admin/v1/requests/{id}/content`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use airlock_store::{RequestRecord, RequestSearch, StatusFilter, StoreError};

use super::AdminError;
use super::reports::project_id;
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

fn store_error(error: StoreError) -> AdminError {
    ManageError::Store(error).into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    project: Option<String>,
    key: Option<String>,
    model: Option<String>,
    /// A status code, `ok` (below 400) or `error` (400 or more).
    status: Option<String>,
    user: Option<String>,
    /// The id of the last record of the previous page.
    before: Option<String>,
    limit: Option<i64>,
}

fn status_filter(text: &str) -> Result<StatusFilter, AdminError> {
    match text {
        "ok" => Ok(StatusFilter::Ok),
        "error" => Ok(StatusFilter::Error),
        code => code
            .parse::<u16>()
            .ok()
            .filter(|code| (100..=599).contains(code))
            .map(StatusFilter::Is)
            .ok_or_else(|| {
                AdminError::bad_request("status must be a status code (100-599), ok or error")
            }),
    }
}

/// A record as JSON, with its project's name beside its id.
fn record_json(record: &RequestRecord, names: &HashMap<String, String>) -> Value {
    let mut value = json!(record);
    let name = record.project_id.as_ref().and_then(|id| names.get(id));
    value["project"] = json!(name);
    value
}

async fn project_names(state: &AppState) -> Result<HashMap<String, String>, AdminError> {
    let projects = state.config().store.projects().await.map_err(store_error)?;
    Ok(projects.into_iter().map(|p| (p.id, p.name)).collect())
}

/// `GET /admin/v1/requests`.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=RequestSearch::MAX_LIMIT).contains(&limit) {
        return Err(AdminError::bad_request(format!(
            "limit must be between 1 and {}",
            RequestSearch::MAX_LIMIT
        )));
    }
    let store = &state.config().store;
    // An empty `before` is the first page, as no `before` is.
    let before = match query.before.as_ref().filter(|id| !id.is_empty()) {
        Some(id) => {
            let record = store.request_record(id).await.map_err(store_error)?;
            let record = record.ok_or_else(|| {
                AdminError::from(ManageError::NotFound(format!(
                    "request {id} (named by before)"
                )))
            })?;
            Some((record.started_at_ms, record.id))
        }
        None => None,
    };
    let search = RequestSearch {
        since_ms: query.since_ms,
        until_ms: query.until_ms,
        project_id: project_id(&state, query.project.as_deref()).await?,
        api_key_id: query.key.clone(),
        model: query.model.clone(),
        status: query.status.as_deref().map(status_filter).transpose()?,
        end_user: query.user.clone(),
        before,
        limit,
    };
    let records = store.search_requests(&search).await.map_err(store_error)?;
    let next = (records.len() as i64 == limit)
        .then(|| records.last().map(|r| r.id.clone()))
        .flatten();
    let names = project_names(&state).await?;
    let data: Vec<Value> = records.iter().map(|r| record_json(r, &names)).collect();
    Ok(Json(json!({"data": data, "next_before": next})).into_response())
}

/// `GET /admin/v1/requests/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let store = &state.config().store;
    let record = store.request_record(&id).await.map_err(store_error)?;
    let record =
        record.ok_or_else(|| AdminError::from(ManageError::NotFound(format!("request {id}"))))?;
    let content_logged = store
        .request_content(&id)
        .await
        .map_err(store_error)?
        .is_some();
    let names = project_names(&state).await?;
    Ok(Json(json!({
        "record": record_json(&record, &names),
        "content_logged": content_logged,
    }))
    .into_response())
}
