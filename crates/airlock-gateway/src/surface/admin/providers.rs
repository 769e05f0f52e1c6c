//! `GET /admin/v1/providers`: each configured provider's health as the
//! request path sees it now: its circuit breaker, its retry budget, and its
//! key pool (key ids and states, never the keys).

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /admin/v1/providers`, in configuration order.
pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let now = Instant::now();
    let config = state.config();
    // Every configured provider has its health (built with the state).
    let data: Vec<Value> = config
        .providers
        .iter()
        .filter_map(|provider| {
            let health = state.provider_health(provider.name())?;
            let circuit = health.breaker.snapshot(now);
            Some(json!({
                "name": provider.name(),
                "kind": provider.kind().name(),
                "circuit": {
                    "state": circuit.state,
                    "consecutive_failures": circuit.consecutive_failures,
                    // Whole seconds, rounded up as `Retry-After` is.
                    "probe_in_secs": circuit.probe_in.map(|wait| wait.as_secs_f64().ceil() as u64),
                },
                "retry_budget": {
                    "available": health.retry_budget.available(),
                    "percent": config.retries.budget_percent,
                },
                "keys": provider.key_statuses(),
            }))
        })
        .collect();
    Json(json!({ "data": data }))
}
