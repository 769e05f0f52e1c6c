//! Read-only reports: spend, a key's usage by day (what a widget's owner
//! reads for its publishable key), a request's logged content and the
//! audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use airlock_store::SpendFilter;

use super::AdminError;
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendQuery {
    project: Option<String>,
    key: Option<String>,
    /// `YYYY-MM-DD`, inclusive (default: the last 30 days).
    since: Option<String>,
    /// `YYYY-MM-DD`, exclusive.
    until: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// `YYYY-MM-DD`, inclusive (default: the last 30 days).
    since: Option<String>,
    /// `YYYY-MM-DD`, exclusive.
    until: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

const DAY_MS: i64 = 86_400_000;

/// A `YYYY-MM-DD` query field as the start of its day.
fn day(text: &Option<String>, what: &str) -> Result<Option<i64>, AdminError> {
    text.as_deref()
        .map(|t| {
            crate::clock::parse_day_ms(t)
                .ok_or_else(|| AdminError::bad_request(format!("{what} must be a date YYYY-MM-DD")))
        })
        .transpose()
}

pub async fn spend(
    State(state): State<AppState>,
    query: Result<Query<SpendQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let store = &state.config().store;
    let since_ms = day(&query.since, "since")?.unwrap_or(crate::clock::now_ms() - 30 * DAY_MS);
    let until_ms = day(&query.until, "until")?;
    let project_id = project_id(&state, query.project.as_deref()).await?;
    let filter = SpendFilter {
        project_id,
        api_key_id: query.key.clone(),
        since_ms,
        until_ms,
    };
    let rows = store
        .spend(&filter)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    let total = airlock_store::total_cost_usd(&rows);
    Ok(Json(json!({"data": rows, "total_cost_usd": total})).into_response())
}

/// `GET /admin/v1/requests/{id}/content`: what a request of a
/// content-logging project said and was answered, redacted.
pub async fn request_content(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let content = state
        .config()
        .store
        .request_content(&id)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?
        .ok_or_else(|| {
            AdminError::from(ManageError::NotFound(format!(
                "logged content of request {id}"
            )))
        })?;
    Ok(Json(content).into_response())
}

/// `GET /admin/v1/keys/{id}/usage`: the key's requests, errors, tokens,
/// spend and origins by day.
pub async fn key_usage(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let store = &state.config().store;
    let since_ms = day(&query.since, "since")?.unwrap_or(crate::clock::now_ms() - 30 * DAY_MS);
    let until_ms = day(&query.until, "until")?;
    let key = store
        .key_by_id(&id)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?
        .ok_or_else(|| AdminError::from(ManageError::NotFound(format!("key {id}"))))?;
    let days = store
        .key_usage(&id, since_ms, until_ms)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    let sum = |field: fn(&airlock_store::UsageDay) -> i64| days.iter().map(field).sum::<i64>();
    let totals = json!({
        "requests": sum(|d| d.requests),
        "errors": sum(|d| d.errors),
        "tokens_in": sum(|d| d.tokens_in),
        "tokens_out": sum(|d| d.tokens_out),
        "cost_usd": days.iter().fold(0.0, |total, d| total + d.cost_usd),
    });
    Ok(Json(json!({
        "key": {"id": key.id, "project_id": key.project_id, "kind": key.kind, "name": key.name},
        "data": days,
        "totals": totals,
    }))
    .into_response())
}

/// The id of the project named `name`, when a name is given.
pub(super) async fn project_id(
    state: &AppState,
    name: Option<&str>,
) -> Result<Option<String>, AdminError> {
    let Some(name) = name else {
        return Ok(None);
    };
    let project = state
        .config()
        .store
        .project_by_name(name)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?
        .ok_or_else(|| AdminError::from(ManageError::NotFound(format!("project {name}"))))?;
    Ok(Some(project.id))
}

/// Audit entries in order; page with `after` = the last `seq` seen.
pub async fn audit(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AdminError::bad_request("limit must be between 1 and 1000"));
    }
    if query.after < 0 {
        return Err(AdminError::bad_request(
            "after must be a sequence number, 0 or more",
        ));
    }
    let entries = state
        .config()
        .store
        .audit_entries(query.after, limit)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    Ok(Json(json!({"data": entries})).into_response())
}
