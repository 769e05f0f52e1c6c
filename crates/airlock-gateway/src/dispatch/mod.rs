//! The dispatch seam: how a client's request for a model reaches a provider.
//!
//! A request is a client [`Operation`] (OpenAI chat completions, a Gemini
//! model method, ...) and its route names a provider [`Protocol`]. One
//! table ([`table::planner`]) maps the pair to a [`Planner`], which makes
//! the request's [`Plan`]: the upstream call and body (passed through as
//! bytes, renamed, or translated), how a streamed answer is framed for the
//! client, and how a complete answer (or an error answer) reaches it.
//! [`dispatch`] runs every plan the same way: authorize and admit, plan,
//! send (recording the key used), reply.
//!
//! Adding a provider protocol is an adapter in `airlock-providers` plus its
//! entries in the table; adding a client operation is a handler that builds
//! a [`ClientRequest`], plus its entries. Handlers never match on a
//! provider's protocol.

mod chat;
mod embeddings;
mod gemini;
mod responses;
mod table;

use airlock_providers::usage::Usage;
use airlock_providers::{Provider, ProviderError, UpstreamBody, UpstreamCall, UpstreamResponse};
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;

use crate::admission::RequestCost;
use crate::error::ApiError;
use crate::exchange::Exchange;
use crate::relay::{Framer, Reply, read_whole};
use crate::resilience::{Breaker, Failure, Permit, Trigger, failure};
use crate::routing::Route;
use crate::surface::gemini::GeminiMethod;

/// What the client asked for, in its own protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// OpenAI `POST /v1/chat/completions`.
    ChatCompletions,
    /// OpenAI `POST /v1/embeddings`.
    Embeddings,
    /// OpenAI `POST /v1/responses` (a turn whose history is already in its input).
    Responses,
    /// Gemini `POST /{version}/models/{model}:{method}`.
    GeminiMethod(GeminiMethod),
}

impl Operation {
    /// The name key scopes, the request log and metrics use.
    pub fn name(self) -> &'static str {
        match self {
            Operation::ChatCompletions => "chat.completions",
            Operation::Embeddings => "embeddings",
            Operation::Responses => "responses",
            Operation::GeminiMethod(method) => method.name(),
        }
    }
}

/// A client's request, read as far as dispatch needs.
#[derive(Clone)]
pub struct ClientRequest {
    pub operation: Operation,
    /// The model as the client named it.
    pub model: String,
    /// The body as the client sent it (JSON; planners that change or
    /// translate it parse it, the others pass it on as bytes).
    pub body: Bytes,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// For Gemini paths: the API version, and whether `alt=sse` was asked.
    pub gemini_version: &'static str,
    pub gemini_sse: bool,
    /// What the generation may cost, for admission.
    pub cost: RequestCost,
}

/// How one request is served by one provider.
pub struct Plan<'r> {
    pub call: UpstreamCall<'r>,
    pub body: Bytes,
    /// For a successful answer to a streaming request: its framing.
    pub stream: Option<Streamed>,
    /// For a complete answer, and every error answer.
    pub complete: Complete,
}

/// A stream's framer and the content type the client gets.
pub struct Streamed {
    pub framer: Box<dyn Framer>,
    pub content_type: &'static str,
}

/// How a complete upstream answer reaches the client.
pub enum Complete {
    /// As it came; `usage` reads its token counts (in the provider's protocol).
    Relay { usage: Option<UsageReader> },
    /// Translated into the client's protocol (error answers included).
    Translate(Box<dyn FnOnce(StatusCode, Bytes) -> Result<Reply, ApiError> + Send>),
}

/// Reads token usage from an answer in one protocol.
pub type UsageReader = fn(&Value) -> Option<Usage>;

/// Makes a request's plan for a route; one per (operation, protocol) entry.
pub type Planner = for<'r> fn(ClientRequest, &'r Route) -> Result<Plan<'r>, ApiError>;

/// Serves one request: authorize and admit, then plan, send (retrying
/// what may succeed when retried) and reply; when the route names
/// fallbacks and the failure is one it falls back on, the same request is
/// planned and sent again for the next fallback model the caller may use.
pub async fn dispatch(request: ClientRequest, exchange: &mut Exchange) -> Result<Reply, ApiError> {
    let mut route = exchange.authorize(&request.model)?;
    exchange.admit_or_wait(&route, request.cost).await?;
    let fallbacks = route.fallbacks.clone();
    let mut untried = fallbacks.iter().flat_map(|f| f.models.iter());
    loop {
        let next = untried.find_map(|model| exchange.fallback_route(model));
        let falls_back_on = |failure: &Failure| {
            next.is_some()
                && fallbacks
                    .as_ref()
                    .is_some_and(|f| f.on.contains(&failure.trigger))
        };
        match serve_on(request.clone(), &route, exchange, falls_back_on).await {
            Served::Answered(result) => return result,
            Served::FallBack(failure) => {
                let Some(next) = next else {
                    return Err(ApiError::Internal);
                };
                tracing::info!(
                    from = %route.upstream_model,
                    to = %next.upstream_model,
                    on = failure.trigger.name(),
                    "falling back"
                );
                crate::metrics::fallback(
                    route.provider.name(),
                    next.provider.name(),
                    failure.trigger.name(),
                );
                exchange.serve_with(&next);
                route = next;
            }
        }
    }
}

/// How serving a request on one route ended.
enum Served {
    Answered(Result<Reply, ApiError>),
    /// It failed in a way the route falls back on.
    FallBack(Failure),
}

/// Plans the request for `route` and sends it, retrying a failure a retry
/// may help while the retry policy and the provider's retry budget allow;
/// a last failure that `falls_back_on` accepts is handed back unanswered.
async fn serve_on(
    request: ClientRequest,
    route: &Route,
    exchange: &mut Exchange,
    falls_back_on: impl Fn(&Failure) -> bool,
) -> Served {
    let planner = table::planner(request.operation, route.provider.protocol());
    let plan = match planner(request, route) {
        Ok(plan) => plan,
        Err(error) => return Served::Answered(Err(error)),
    };
    let policy = exchange.state().config().retries;
    let provider = route.provider.name();
    let health = exchange.state().provider_health(provider).cloned();
    let health = health.as_deref();
    if let Some(health) = health {
        health.retry_budget.deposit();
    }
    let mut retries = 0;
    let upstream = loop {
        if let Some(Permit::Refused { retry_after }) =
            health.map(|health| health.breaker.permit(Instant::now()))
        {
            let failure = Failure {
                trigger: Trigger::Errors,
                retryable: false,
                retry_after: None,
            };
            if falls_back_on(&failure) {
                return Served::FallBack(failure);
            }
            return Served::Answered(Err(ApiError::CircuitOpen {
                provider: provider.to_string(),
                retry_after,
            }));
        }
        let result = send(
            exchange,
            &route.provider,
            &plan.call,
            Some(plan.body.clone()),
        )
        .await;
        let failure = match &result {
            Ok(upstream) => match &upstream.body {
                UpstreamBody::Complete(body) => {
                    failure::of_answer(upstream.status, &upstream.headers, body)
                }
                UpstreamBody::Streaming(_) => None,
            },
            Err(error) => Some(failure::of_error(error)),
        };
        if let Some(health) = health {
            judge_health(&health.breaker, provider, failure.as_ref());
        }
        let Some(failure) = failure else {
            break result;
        };
        let delay = (failure.retryable && retries < policy.max_retries)
            .then(|| policy.delay(retries, failure.retry_after))
            .flatten()
            .filter(|_| health.is_some_and(|health| health.retry_budget.withdraw()));
        if let Some(delay) = delay {
            retries += 1;
            crate::metrics::retry(provider, failure.trigger.name());
            tokio::time::sleep(delay).await;
            continue;
        }
        if falls_back_on(&failure) {
            return Served::FallBack(failure);
        }
        break result;
    };
    Served::Answered(answer(plan, upstream).await)
}

/// Tells a provider's breaker how a call went: errors and timeouts count
/// against it; anything else (success, a rate limit, a client's mistake)
/// is the provider answering.
fn judge_health(breaker: &Breaker, provider: &str, failure: Option<&Failure>) {
    match failure.map(|failure| failure.trigger) {
        Some(Trigger::Errors | Trigger::Timeouts) => {
            if breaker.failed(Instant::now()) {
                tracing::warn!(provider, "circuit open: the provider failed too often");
                crate::metrics::circuit(provider, true);
            }
        }
        _ => {
            if breaker.succeeded() {
                tracing::info!(provider, "circuit closed: the provider answers again");
                crate::metrics::circuit(provider, false);
            }
        }
    }
}

/// The reply to the client from the upstream's last answer.
async fn answer(
    plan: Plan<'_>,
    upstream: Result<UpstreamResponse, ProviderError>,
) -> Result<Reply, ApiError> {
    let upstream = upstream?;
    if upstream.status.is_success()
        && let Some(streamed) = plan.stream
    {
        return Ok(Reply::Stream {
            upstream: Box::new(upstream),
            framer: streamed.framer,
            content_type: streamed.content_type,
        });
    }
    let (status, body) = read_whole(upstream).await?;
    match plan.complete {
        Complete::Relay { usage } => {
            let usage = usage
                .and_then(|read| read(&UsageFields::of(&body)?))
                .map(|found| airlock_providers::usage::with_searches(found, &body));
            Ok(Reply::Json {
                status,
                body,
                usage,
            })
        }
        Complete::Translate(translate) => translate(status, body),
    }
}

/// Sends a request's model call with its trace context, and records the key
/// it went out with: every model call goes out here (catalogue reads, which
/// use no request's key budget, are sent by their handlers).
async fn send(
    exchange: &mut Exchange,
    provider: &Provider,
    call: &UpstreamCall<'_>,
    body: Option<Bytes>,
) -> Result<UpstreamResponse, ProviderError> {
    let upstream = provider
        .send(call, body, &exchange.upstream_headers())
        .await?;
    exchange.set_key(upstream.key_id.clone());
    Ok(upstream)
}

/// A complete Gemini answer for an OpenAI client: an error answer through
/// the one error translation, a success through `answer` (which also says
/// the usage).
fn from_gemini(
    status: StatusCode,
    body: &[u8],
    answer: impl FnOnce(Value) -> (Value, Option<Usage>),
) -> Result<Reply, ApiError> {
    if !status.is_success() {
        return Ok(Reply::json(
            status,
            &airlock_providers::translate::gemini_error_to_openai(status.as_u16(), body),
        ));
    }
    let gemini: Value = serde_json::from_slice(body).map_err(|_| ApiError::BadUpstreamAnswer)?;
    let (answer, usage) = answer(gemini);
    Ok(Reply::Json {
        status,
        body: Bytes::from(answer.to_string()),
        usage,
    })
}

/// The usage members of a complete answer in either protocol, read without
/// building the rest of it (the answer itself is relayed as bytes).
#[derive(serde::Deserialize)]
struct UsageFields {
    usage: Option<Value>,
    #[serde(rename = "usageMetadata")]
    usage_metadata: Option<Value>,
}

impl UsageFields {
    /// The answer's usage members as a JSON object the usage readers take.
    fn of(body: &[u8]) -> Option<Value> {
        let fields: UsageFields = serde_json::from_slice(body).ok()?;
        let mut object = serde_json::Map::new();
        if let Some(usage) = fields.usage {
            object.insert("usage".into(), usage);
        }
        if let Some(usage) = fields.usage_metadata {
            object.insert("usageMetadata".into(), usage);
        }
        Some(Value::Object(object))
    }
}
