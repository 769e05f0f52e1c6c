//! Whether a request may go ahead, in two steps with different natures:
//!
//! - [`authorize`]: the caller's scopes (a token bound to a model, a key's
//!   model patterns and operations) and the model's route. Pure and
//!   immediate: it never waits.
//! - [`admit_or_wait`]: the caller's limits and budgets, then places in the
//!   project's and provider's upstream queues. It may wait for a place, or
//!   refuse (429 over a limit or budget, 503 when a queue is full).
//!
//! What admission holds ([`Admitted`]) is kept by the request's
//! [`Exchange`](crate::exchange::Exchange) until it ends, which settles it.

use std::net::IpAddr;

use http::{HeaderName, HeaderValue};
use tokio::sync::OwnedSemaphorePermit;

use crate::auth::Principal;
use crate::error::ApiError;
use airlock_providers::pricing::UsageForCost;

use crate::limits::{Admission, Ask, QueueRefusal, Scope, estimate_tokens};
use crate::routing::{ModelPattern, Route};
use crate::state::AppState;

/// What a generation may cost, for its up-front token estimate.
#[derive(Debug, Clone, Copy)]
pub struct RequestCost {
    pub body_len: usize,
    /// The most output tokens the request allows, when it says.
    pub max_output: Option<u64>,
}

/// Who a request is counted against.
pub struct Caller<'a> {
    pub principal: &'a Principal,
    pub end_user: Option<&'a str>,
    pub client_ip: Option<IpAddr>,
}

/// The caller's scopes allow `operation` on `model`, and a route serves it.
pub fn authorize(
    state: &AppState,
    principal: &Principal,
    operation: &str,
    model: &str,
) -> Result<Route, ApiError> {
    let refused = || ApiError::ModelNotAllowed {
        model: model.to_string(),
    };
    // A token bound to a model serves that model only.
    if let Principal::Token(token) = principal
        && token.model.as_deref().is_some_and(|bound| bound != model)
    {
        return Err(refused());
    }
    if let Some(grant) = principal.grant() {
        let settings = &grant.key.settings;
        let allowed = settings.models.is_empty()
            || settings
                .models
                .iter()
                .any(|pattern| ModelPattern::parse(pattern).matches(model));
        if !allowed {
            return Err(refused());
        }
    }
    allow_operation(principal, operation)?;
    state.route(model)
}

/// Whether the caller's key may call `operation` (its `operations` scope;
/// empty allows all). Also for requests that name no model, such as reading
/// a stored response.
pub fn allow_operation(principal: &Principal, operation: &str) -> Result<(), ApiError> {
    let Some(grant) = principal.grant() else {
        return Ok(());
    };
    let operations = &grant.key.settings.operations;
    if operations.is_empty() || operations.iter().any(|o| o == operation) {
        Ok(())
    } else {
        Err(ApiError::OperationNotAllowed {
            operation: operation.to_string(),
        })
    }
}

/// Admits a generation under the caller's limits and budgets, then waits for
/// places in the upstream queues that apply: or refuses.
pub async fn admit_or_wait(
    state: &AppState,
    caller: &Caller<'_>,
    route: &Route,
    cost: RequestCost,
    now_ms: i64,
) -> Result<Admitted, ApiError> {
    let config = state.config();
    let mut admitted = Admitted::default();
    if let Some(grant) = caller.principal.grant() {
        let ask = Ask {
            tokens: estimate_tokens(cost.body_len, cost.max_output),
            reserve_usd: estimated_cost(state, route, cost),
        };
        let scopes = Scope::for_request(grant, caller.end_user, caller.client_ip);
        admitted.limits = Some(config.limiter.admit(&scopes, ask, now_ms).await?);
    }
    let project_queue = caller.principal.grant().and_then(|grant| {
        Some((
            format!("project:{}", grant.project.id),
            grant.project.settings.queue?,
        ))
    });
    let provider_queue = config
        .provider_queues
        .get(route.provider.name())
        .map(|policy| (format!("provider:{}", route.provider.name()), *policy));
    for (name, policy) in project_queue.into_iter().chain(provider_queue) {
        let place = config
            .limiter
            .queues()
            .enter(&name, &policy)
            .await
            .map_err(|refusal| ApiError::QueueFull {
                timed_out: refusal == QueueRefusal::TimedOut,
            })?;
        admitted.queue_places.push(place);
    }
    Ok(admitted)
}

/// What a request is reserved against budgets while it runs: the price of
/// its estimated prompt and of all the output it allows (one image, for a
/// model priced per image). An unpriced model reserves nothing.
fn estimated_cost(state: &AppState, route: &Route, cost: RequestCost) -> f64 {
    let usage = UsageForCost {
        input_tokens: (cost.body_len as u64).div_ceil(4),
        output_tokens: cost.max_output.unwrap_or(256),
        images: 1,
        ..UsageForCost::default()
    };
    state
        .config()
        .prices
        .cost_usd(&route.upstream_model, &usage)
        .unwrap_or(0.0)
}

/// An admitted request's hold on its limits and its queue places, until it ends.
#[derive(Default)]
pub struct Admitted {
    limits: Option<Admission>,
    queue_places: Vec<OwnedSemaphorePermit>,
}

impl Admitted {
    /// OpenAI's `x-ratelimit-*` headers for the limits that applied.
    pub fn rate_headers(&self) -> &[(HeaderName, HeaderValue)] {
        self.limits.as_ref().map_or(&[], |a| a.headers.as_slice())
    }

    /// Corrects the token estimate with the real count and counts the cost
    /// against the budgets; the queue places are freed when this is dropped.
    /// In cluster mode, what it gives resolves once Redis has the settling.
    pub fn settle(
        &self,
        state: &AppState,
        tokens: Option<u64>,
        cost_usd: Option<f64>,
    ) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let limits = self.limits.as_ref()?;
        state.config().limiter.settle(limits, tokens, cost_usd)
    }
}
