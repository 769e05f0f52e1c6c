//! Read-only reports: spend and the audit log.

use axum::Json;
use axum::extract::{Query, State};
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
pub struct AuditQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

const DAY_MS: i64 = 86_400_000;

/// Milliseconds at the start of a `YYYY-MM-DD` day (UTC).
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (y, m, d): (i64, i64, i64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    if parts.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || text.len() != 10
    {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * DAY_MS)
}

pub async fn spend(
    State(state): State<AppState>,
    query: Result<Query<SpendQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let store = &state.config().store;
    let day = |text: &Option<String>, what: &str| -> Result<Option<i64>, AdminError> {
        text.as_deref()
            .map(|t| {
                parse_day(t).ok_or_else(|| {
                    AdminError::bad_request(format!("{what} must be a date YYYY-MM-DD"))
                })
            })
            .transpose()
    };
    let since_ms = day(&query.since, "since")?.unwrap_or(crate::tenancy::now_ms() - 30 * DAY_MS);
    let until_ms = day(&query.until, "until")?;
    let project_id = match &query.project {
        Some(name) => Some(
            store
                .project_by_name(name)
                .await
                .map_err(|e| AdminError::from(ManageError::Store(e)))?
                .ok_or_else(|| AdminError::from(ManageError::NotFound(format!("project {name}"))))?
                .id,
        ),
        None => None,
    };
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
    let total: f64 = rows.iter().map(|r| r.cost_usd).sum();
    Ok(Json(json!({"data": rows, "total_cost_usd": total})).into_response())
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
    let entries = state
        .config()
        .store
        .audit_entries(query.after, limit)
        .await
        .map_err(|e| AdminError::from(ManageError::Store(e)))?;
    Ok(Json(json!({"data": entries})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_days() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2026-11-22"), Some(20_779 * DAY_MS));
        for bad in ["2026-13-01", "2026-1-1", "x", "2026-11-22-1", ""] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }
}
