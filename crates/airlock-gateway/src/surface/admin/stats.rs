//! The dashboard's aggregates, read from the request log's rollups (never
//! a scan of the log itself): `GET /admin/v1/stats/overview` (requests,
//! errors, latency and time-to-first-token percentiles, tokens and spend
//! over time, by project, model and provider, and what is in flight now)
//! and `GET /admin/v1/stats/spend` (spend by project, key, model or end
//! user, budgets and how much of them is used, budget alerts sent).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use airlock_store::{
    BudgetPeriod, Counts, Dimension, RollupRange, Store, StoreError, Tally, day_start_ms,
    month_start_ms, quantile_ms,
};

use super::AdminError;
use super::reports::project_id;
use crate::state::AppState;
use crate::tenancy::manage::ManageError;

fn store_error(error: StoreError) -> AdminError {
    ManageError::Store(error).into()
}

/// A window: its rollup span and how many buckets it shows.
#[derive(Debug, Clone, Copy)]
struct Window {
    name: &'static str,
    span_s: i64,
    buckets: i64,
}

const OVERVIEW_WINDOWS: [Window; 3] = [
    Window {
        name: "1h",
        span_s: 60,
        buckets: 60,
    },
    Window {
        name: "24h",
        span_s: 900,
        buckets: 96,
    },
    Window {
        name: "30d",
        span_s: 86_400,
        buckets: 30,
    },
];

const SPEND_WINDOWS: [Window; 3] = [
    Window {
        name: "24h",
        span_s: 900,
        buckets: 96,
    },
    Window {
        name: "7d",
        span_s: 86_400,
        buckets: 7,
    },
    Window {
        name: "30d",
        span_s: 86_400,
        buckets: 30,
    },
];

fn window(windows: &[Window], name: Option<&str>, default: usize) -> Result<Window, AdminError> {
    let Some(name) = name else {
        return Ok(windows[default]);
    };
    windows
        .iter()
        .find(|w| w.name == name)
        .copied()
        .ok_or_else(|| {
            let names: Vec<&str> = windows.iter().map(|w| w.name).collect();
            AdminError::bad_request(format!("window must be one of {}", names.join(", ")))
        })
}

impl Window {
    /// The window's range, ending with the bucket now falls in.
    fn range(self, now_ms: i64, project_id: Option<String>) -> RollupRange {
        let span_ms = self.span_s * 1000;
        let until_ms = now_ms.div_euclid(span_ms) * span_ms + span_ms;
        RollupRange {
            span_s: self.span_s,
            since_ms: until_ms - self.buckets * span_ms,
            until_ms,
            project_id,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewQuery {
    window: Option<String>,
    project: Option<String>,
}

fn counts_json(counts: &Counts) -> serde_json::Map<String, Value> {
    let value = json!({
        "requests": counts.requests,
        "errors": counts.errors,
        "tokens_in": counts.tokens_in,
        "tokens_out": counts.tokens_out,
        "cost_usd": counts.cost_usd,
    });
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn tally_json(tally: &Tally) -> serde_json::Map<String, Value> {
    let mut map = counts_json(&tally.counts);
    for (name, buckets, q) in [
        ("latency_p50_ms", &tally.latency, 0.5),
        ("latency_p95_ms", &tally.latency, 0.95),
        ("latency_p99_ms", &tally.latency, 0.99),
        ("ttft_p50_ms", &tally.ttft, 0.5),
        ("ttft_p95_ms", &tally.ttft, 0.95),
    ] {
        map.insert(name.to_string(), json!(quantile_ms(buckets, q)));
    }
    map
}

/// Each group's counts, under `field`, with a label where one is known.
fn breakdown_json(
    rows: &[(Option<String>, Counts)],
    field: &str,
    labels: Option<(&str, &HashMap<String, String>)>,
) -> Vec<Value> {
    rows.iter()
        .map(|(group, counts)| {
            let mut map = counts_json(counts);
            map.insert(field.to_string(), json!(group));
            if let Some((label, names)) = labels {
                let name = group.as_ref().and_then(|id| names.get(id));
                map.insert(label.to_string(), json!(name));
            }
            Value::Object(map)
        })
        .collect()
}

async fn project_names(store: &Store) -> Result<HashMap<String, String>, AdminError> {
    let projects = store.projects().await.map_err(store_error)?;
    Ok(projects.into_iter().map(|p| (p.id, p.name)).collect())
}

/// `GET /admin/v1/stats/overview?window=1h|24h|30d[&project=NAME]`.
pub async fn overview(
    State(state): State<AppState>,
    query: Result<Query<OverviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let window = window(&OVERVIEW_WINDOWS, query.window.as_deref(), 0)?;
    let project = project_id(&state, query.project.as_deref()).await?;
    let store = &state.config().store;
    let range = window.range(crate::clock::now_ms(), project);
    // One query each, at once: on SQLite each reads its own connection.
    let (stored, by_project, by_model, by_provider, projects) = tokio::try_join!(
        store.rollup_series(&range),
        store.rollup_breakdown(&range, Dimension::Project),
        store.rollup_breakdown(&range, Dimension::Model),
        store.rollup_breakdown_tallies(&range, Dimension::Provider),
        store.projects(),
    )
    .map_err(store_error)?;
    let names: HashMap<String, String> = projects.into_iter().map(|p| (p.id, p.name)).collect();
    let mut by_bucket: HashMap<i64, Tally> = stored.into_iter().collect();
    let mut totals = Tally::default();
    let span_ms = window.span_s * 1000;
    let series: Vec<Value> = (0..window.buckets)
        .map(|i| {
            let t = range.since_ms + i * span_ms;
            let tally = by_bucket.remove(&t).unwrap_or_default();
            totals.merge(&tally);
            let mut map = tally_json(&tally);
            map.insert("t".to_string(), json!(t));
            Value::Object(map)
        })
        .collect();
    Ok(Json(json!({
        "window": window.name,
        "step_ms": span_ms,
        "since_ms": range.since_ms,
        "until_ms": range.until_ms,
        "series": series,
        "totals": tally_json(&totals),
        "by_project": breakdown_json(&by_project, "project_id", Some(("project", &names))),
        "by_model": breakdown_json(&by_model, "model", None),
        "by_provider": by_provider.iter().map(|(provider, tally)| {
            let mut map = tally_json(tally);
            map.insert("provider".to_string(), json!(provider));
            Value::Object(map)
        }).collect::<Vec<_>>(),
        "live": {
            "in_flight": crate::metrics::requests_in_flight(),
            "realtime_sessions": crate::metrics::realtime_sessions_open(),
        },
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendQuery {
    window: Option<String>,
    by: Option<String>,
    project: Option<String>,
}

/// The most end users a spend breakdown lists.
const MAX_USERS: i64 = 100;

/// `GET /admin/v1/stats/spend?window=24h|7d|30d&by=project|key|model|user[&project=NAME]`.
pub async fn spend(
    State(state): State<AppState>,
    query: Result<Query<SpendQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::bad_request(rejection.body_text()))?;
    let window = window(&SPEND_WINDOWS, query.window.as_deref(), 1)?;
    let by = query.by.as_deref().unwrap_or("project");
    if !["project", "key", "model", "user"].contains(&by) {
        return Err(AdminError::bad_request(
            "by must be one of project, key, model, user",
        ));
    }
    let project = project_id(&state, query.project.as_deref()).await?;
    let store = &state.config().store;
    let now = crate::clock::now_ms();
    let range = window.range(now, project);
    let names = project_names(store).await?;
    let keys = store.keys(None).await.map_err(store_error)?;
    let key_names: HashMap<String, String> = keys
        .iter()
        .map(|k| (k.id.clone(), k.name.clone()))
        .collect();
    // The grouping and the budgets' spend at once (their own connections).
    let (data, budgets) = tokio::try_join!(
        spend_rows(store, by, &range, &names, &key_names),
        budgets(store, now, &names, &keys),
    )?;
    let total: f64 = data
        .iter()
        .filter_map(|row| row["cost_usd"].as_f64())
        .fold(0.0, |sum, cost| sum + cost);
    let alerts = state.config().limiter.sent_alerts();
    Ok(Json(json!({
        "window": window.name,
        "by": by,
        "data": data,
        "total_cost_usd": total,
        "budgets": budgets,
        "alerts": alerts,
    }))
    .into_response())
}

/// The window's spend grouped by `by` (`project`, `key`, `model` or
/// `user`), each group labelled by its name where it has one.
async fn spend_rows(
    store: &Store,
    by: &str,
    range: &RollupRange,
    names: &HashMap<String, String>,
    key_names: &HashMap<String, String>,
) -> Result<Vec<Value>, AdminError> {
    let rows = match by {
        "project" | "key" | "model" => {
            let (dimension, labels) = match by {
                "project" => (Dimension::Project, Some(names)),
                "key" => (Dimension::Key, Some(key_names)),
                _ => (Dimension::Model, None),
            };
            let rows = store
                .rollup_breakdown(range, dimension)
                .await
                .map_err(store_error)?;
            rows.iter()
                .map(|(group, counts)| {
                    let mut map = counts_json(counts);
                    map.remove("errors");
                    let label = labels.and_then(|l| group.as_ref().and_then(|id| l.get(id)));
                    map.insert("group".into(), json!(group));
                    map.insert("label".into(), json!(label.or(group.as_ref())));
                    Value::Object(map)
                })
                .collect()
        }
        "user" => store
            .spend_by_user(range.since_ms, range.project_id.as_deref(), MAX_USERS)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|user| {
                json!({
                    "group": user.end_user, "label": user.end_user, "requests": user.requests,
                    "tokens_in": user.tokens_in, "tokens_out": user.tokens_out,
                    "cost_usd": user.cost_usd,
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(rows)
}

/// Every project's and key's budget with what its period has spent so far,
/// summed from the daily rollups (periods start at a UTC day or month).
async fn budgets(
    store: &Store,
    now: i64,
    names: &HashMap<String, String>,
    keys: &[airlock_store::ApiKey],
) -> Result<Vec<Value>, AdminError> {
    let ranges = [BudgetPeriod::Day, BudgetPeriod::Month].map(|period| {
        let since_ms = match period {
            BudgetPeriod::Day => day_start_ms(now),
            BudgetPeriod::Month => month_start_ms(now),
        };
        let range = RollupRange {
            span_s: 86_400,
            since_ms,
            until_ms: i64::MAX,
            project_id: None,
        };
        (period, range)
    });
    let asked = ranges.iter().flat_map(|(period, range)| {
        [Dimension::Project, Dimension::Key].map(|dimension| async move {
            let rows = store.rollup_breakdown(range, dimension).await?;
            let sums: HashMap<String, f64> = rows
                .into_iter()
                .filter_map(|(id, counts)| Some((id?, counts.cost_usd)))
                .collect();
            Ok::<_, StoreError>(((*period, dimension), sums))
        })
    });
    let spent: HashMap<(BudgetPeriod, Dimension), HashMap<String, f64>> =
        futures_util::future::try_join_all(asked)
            .await
            .map_err(store_error)?
            .into_iter()
            .collect();
    let spent_of = |period, dimension, id: &str| {
        spent
            .get(&(period, dimension))
            .and_then(|sums| sums.get(id))
            .copied()
            .unwrap_or(0.0)
    };
    let mut budgets = Vec::new();
    let projects = store.projects().await.map_err(store_error)?;
    for project in &projects {
        if let Some(budget) = &project.settings.limits.budget {
            budgets.push(json!({
                "scope": "project", "project": project.name, "key_id": null,
                "name": project.name, "usd": budget.usd, "period": budget.period,
                "spent_usd": spent_of(budget.period, Dimension::Project, &project.id),
            }));
        }
    }
    for key in keys.iter().filter(|key| key.revoked_at_ms.is_none()) {
        if let Some(budget) = &key.settings.limits.budget {
            budgets.push(json!({
                "scope": "key", "project": names.get(&key.project_id), "key_id": key.id,
                "name": key.name, "usd": budget.usd, "period": budget.period,
                "spent_usd": spent_of(budget.period, Dimension::Key, &key.id),
            }));
        }
    }
    Ok(budgets)
}
