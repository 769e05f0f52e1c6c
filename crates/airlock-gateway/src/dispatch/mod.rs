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
mod media;
pub(crate) mod media_gemini;
mod responses;
mod table;

use airlock_providers::usage::Usage;
use airlock_providers::{
    Provider, ProviderError, TimeoutKind, UpstreamBody, UpstreamCall, UpstreamResponse,
};
use std::time::{Duration, Instant};

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::Value;

use crate::admission::RequestCost;
use crate::cache::{self, Begun};
use crate::error::ApiError;
use crate::exchange::Exchange;
use crate::multipart::Upload;
use crate::relay::{Framer, Reply, read_complete, read_whole};
use crate::resilience::{
    Breaker, CallLimits, Failure, Load, Permit, ProviderHealth, Trigger, failure,
};
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
    /// OpenAI `POST /v1/images/generations`.
    ImageGenerations,
    /// OpenAI `POST /v1/images/edits` (multipart).
    ImageEdits,
    /// OpenAI `POST /v1/audio/speech`.
    Speech,
    /// OpenAI `POST /v1/audio/transcriptions` (multipart).
    Transcriptions,
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
            Operation::ImageGenerations => "images.generations",
            Operation::ImageEdits => "images.edits",
            Operation::Speech => "audio.speech",
            Operation::Transcriptions => "audio.transcriptions",
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
    /// The body as the client sent it (JSON, or a multipart form when
    /// `upload` is set; planners that change or translate it parse it, the
    /// others pass it on as bytes).
    pub body: Bytes,
    /// A multipart request's fields and content type (with its boundary).
    pub upload: Option<Arc<Upload>>,
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
    /// The body's type when it is not JSON (a multipart form).
    pub body_type: Option<HeaderValue>,
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
/// what may succeed when retried, on another of the route's deployments
/// when it has several) and reply; when the route names fallbacks and the
/// failure is one it falls back on, the same request is planned and sent
/// again for the next fallback model the caller may use.
pub async fn dispatch(request: ClientRequest, exchange: &mut Exchange) -> Result<Reply, ApiError> {
    exchange.claim_request(&request.body);
    let route = exchange.authorize(&request.model)?;
    exchange.admit_or_wait(&route, request.cost).await?;
    if request.upload.is_none() && !matches!(request.operation, Operation::GeminiMethod(_)) {
        exchange.name_end_user(&request.body);
    }
    let request = with_files(request, exchange).await?;
    // The call's future (the provider's client, retries, fallbacks) is
    // large: boxed, it is allocated only when a call is made, and a cache
    // hit's future stays small to create and move.
    match cache::begin(&request, &route, exchange).await? {
        Begun::Answered(reply) => Ok(reply),
        Begun::Lead(lead) => {
            let result = Box::pin(serve(request, route, exchange)).await;
            lead.settle(result, exchange).await
        }
        Begun::Uncached => Box::pin(serve(request, route, exchange)).await,
    }
}

/// The request with the uploaded files it names given as the providers
/// take them ([`crate::files::context`]); untouched when it names none.
async fn with_files(
    request: ClientRequest,
    exchange: &Exchange,
) -> Result<ClientRequest, ApiError> {
    let Some(files) = exchange.state().files() else {
        return Ok(request);
    };
    let context = exchange
        .file_context()
        .map_err(|message| ApiError::BadRequest {
            message,
            param: None,
        })?;
    let asker = crate::files::context::Asker {
        files,
        owner: exchange.record().project_id.as_deref(),
        context,
        now_ms: crate::clock::now_ms(),
    };
    crate::files::context::resolve(request, &asker).await
}

/// Serves a request on its route, its other deployments and its
/// fallbacks (see [`dispatch`]).
async fn serve(
    request: ClientRequest,
    mut route: Route,
    exchange: &mut Exchange,
) -> Result<Reply, ApiError> {
    let fallbacks = route.fallbacks.clone();
    let mut chain = FallbackChain {
        on: fallbacks.as_deref().map_or(&[][..], |f| f.on.as_slice()),
        untried: fallbacks
            .as_deref()
            .map_or(&[][..], |f| f.models.as_slice())
            .iter(),
    };
    loop {
        match serve_on(&request, &mut route, exchange, &mut chain).await {
            Served::Answered(result) => return result,
            Served::FallBack(failure, next) => {
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

/// The fallbacks of a request's route it has not tried, looked up only
/// when a failure calls for one (a request that succeeds pays nothing).
struct FallbackChain<'f> {
    on: &'f [Trigger],
    untried: std::slice::Iter<'f, String>,
}

impl FallbackChain<'_> {
    /// The next fallback the caller may use, when the route falls back on
    /// `failure`.
    fn next_for(&mut self, failure: &Failure, exchange: &Exchange) -> Option<Route> {
        if !self.on.contains(&failure.trigger) {
            return None;
        }
        self.untried
            .find_map(|model| exchange.fallback_route(model))
    }
}

/// How serving a request on one route ended.
enum Served {
    Answered(Result<Reply, ApiError>),
    /// It failed in a way the route falls back on, to this route.
    FallBack(Failure, Route),
}

/// How serving a request through one deployment ended.
enum Attempted {
    /// Boxed: an answer is large, and most attempts end with one.
    Served(Box<Served>),
    /// It failed in a way another deployment of the route may not.
    Elsewhere(Failure),
}

/// Serves the request on `route`: through its deployment, then (when the
/// route balances several and a retry is left) through each other one it
/// has not tried, moving `route` to the deployment that answered.
async fn serve_on(
    request: &ClientRequest,
    route: &mut Route,
    exchange: &mut Exchange,
    chain: &mut FallbackChain<'_>,
) -> Served {
    let mut retries = 0;
    let mut tried: Vec<String> = Vec::new();
    let max_retries = exchange.state().config().retries.max_retries;
    loop {
        let deployments = route
            .balanced
            .as_ref()
            .map_or(1, |balanced| balanced.rule().deployments.len());
        let may_move = retries < max_retries && tried.len() + 1 < deployments;
        let attempted = serve_through(
            request.clone(),
            route,
            exchange,
            chain,
            &mut retries,
            may_move,
        )
        .await;
        let failure = match attempted {
            Attempted::Served(served) => return *served,
            Attempted::Elsewhere(failure) => failure,
        };
        tried.push(route.provider.name().to_string());
        let next = route.balanced.as_ref().and_then(|balanced| {
            let tried: Vec<&str> = tried.iter().map(String::as_str).collect();
            let index = exchange
                .state()
                .choose_deployment(balanced.rule(), &tried)?;
            Some(balanced.through(index))
        });
        let Some(next) = next else {
            // `may_move` said there was one: the rule names a provider twice.
            return Served::Answered(Err(ApiError::Internal));
        };
        retries += 1;
        crate::metrics::retry(route.provider.name(), failure.trigger.name());
        tracing::info!(
            from = route.provider.name(),
            to = next.provider.name(),
            on = failure.trigger.name(),
            "retrying on another deployment"
        );
        exchange.serve_with(&next);
        *route = next;
    }
}

/// Plans the request for `route`'s deployment and sends it. A failure
/// another deployment may not have (errors, timeouts, rate limits) is
/// handed back at once when `may_move` ([`Attempted::Elsewhere`]); else a
/// failure a retry may help is retried while the retry policy and the
/// provider's retry budget allow, and a last failure the route falls back
/// on is handed back unanswered with the fallback `chain` gives.
async fn serve_through(
    request: ClientRequest,
    route: &Route,
    exchange: &mut Exchange,
    chain: &mut FallbackChain<'_>,
    retries: &mut u32,
    may_move: bool,
) -> Attempted {
    let planner = table::planner(request.operation, route.provider.protocol());
    let plan = match planner(request, route) {
        Ok(plan) => plan,
        Err(error) => return Attempted::Served(Box::new(Served::Answered(Err(error)))),
    };
    let policy = exchange.state().config().retries;
    let provider = route.provider.name();
    let health = exchange.state().provider_health(provider).cloned();
    let health = health.as_deref();
    if let Some(health) = health {
        health.retry_budget.deposit();
    }
    let upstream = loop {
        if let Some(Permit::Refused { retry_after }) =
            health.map(|health| health.breaker.permit(Instant::now()))
        {
            let failure = Failure {
                trigger: Trigger::Errors,
                retryable: false,
                retry_after: None,
            };
            if let Some(given_up) = give_up(failure, may_move, chain, exchange) {
                return given_up;
            }
            return Attempted::Served(Box::new(Served::Answered(Err(ApiError::CircuitOpen {
                provider: provider.to_string(),
                retry_after,
            }))));
        }
        let sent = tokio::time::Instant::now();
        let limits = CallLimits::of(&route.timeouts, sent);
        let body = plan.body.clone();
        let body = (body, plan.body_type.as_ref());
        let sending = send_within(exchange, route, &plan.call, body, limits, health);
        let result = match sending.await {
            // A complete answer is read here, so one whose body breaks off
            // or stalls is a failure that may be retried or fallen back on.
            Ok(upstream) if plan.stream.is_none() => {
                read_complete(upstream, &route.provider, limits).await
            }
            sent => sent,
        };
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
            exchange.set_call_limits(limits);
            break result;
        };
        if may_move && moves_elsewhere(&failure) {
            return Attempted::Elsewhere(failure);
        }
        let delay = (failure.retryable && *retries < policy.max_retries)
            .then(|| policy.delay(*retries, failure.retry_after))
            .flatten()
            .filter(|_| health.is_some_and(|health| health.retry_budget.withdraw()));
        if let Some(delay) = delay {
            *retries += 1;
            crate::metrics::retry(provider, failure.trigger.name());
            tokio::time::sleep(delay).await;
            continue;
        }
        if let Some(given_up) = give_up(failure, may_move, chain, exchange) {
            return given_up;
        }
        exchange.set_call_limits(limits);
        break result;
    };
    let limits = exchange.call_limits();
    Attempted::Served(Box::new(Served::Answered(
        answer(plan, upstream, &route.provider, limits).await,
    )))
}

/// Whether another deployment of the route may not fail as this one did.
fn moves_elsewhere(failure: &Failure) -> bool {
    matches!(
        failure.trigger,
        Trigger::Errors | Trigger::Timeouts | Trigger::RateLimits
    )
}

/// What becomes of a request whose call failed for good on this
/// deployment: another deployment when `may_move`, else the route's next
/// fallback when it falls back on the failure; `None`: the failure is the
/// answer.
fn give_up(
    failure: Failure,
    may_move: bool,
    chain: &mut FallbackChain<'_>,
    exchange: &Exchange,
) -> Option<Attempted> {
    if may_move && moves_elsewhere(&failure) {
        return Some(Attempted::Elsewhere(failure));
    }
    let next = chain.next_for(&failure, exchange)?;
    Some(Attempted::Served(Box::new(Served::FallBack(failure, next))))
}

/// Sends a call to `route`'s provider within its first-byte and
/// total timeouts; on a balanced route, the provider's load sees the call
/// pending and how long its answer took.
async fn send_within(
    exchange: &mut Exchange,
    route: &Route,
    call: &UpstreamCall<'_>,
    body: (Bytes, Option<&HeaderValue>),
    limits: CallLimits,
    health: Option<&ProviderHealth>,
) -> Result<UpstreamResponse, ProviderError> {
    let load = health
        .filter(|_| route.balanced.is_some())
        .map(|health| &health.load);
    let _pending = load.map(Load::start);
    let started = Instant::now();
    let sending = send(
        exchange,
        &route.provider,
        call,
        body,
        route.timeouts.first_byte,
    );
    let result = match limits.total {
        Some((total, deadline)) => tokio::time::timeout_at(deadline, sending)
            .await
            .unwrap_or_else(|_| Err(route.provider.timed_out(TimeoutKind::Total, total))),
        None => sending.await,
    };
    if let Some(load) = load {
        let answered = matches!(&result, Ok(upstream) if !upstream.status.is_server_error());
        match answered {
            true => load.observe(started.elapsed(), Instant::now()),
            false => load.failed(started.elapsed(), Instant::now()),
        }
    }
    result
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
    provider: &Provider,
    limits: CallLimits,
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
    let body_type = upstream
        .headers
        .get(http::header::CONTENT_TYPE)
        .filter(|value| !is_json(value))
        .cloned();
    let (status, body) = read_whole(upstream, provider, limits).await?;
    match plan.complete {
        Complete::Relay { usage: _ } if let Some(content_type) = body_type => Ok(Reply::Body {
            status,
            body,
            content_type,
            usage: None,
        }),
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

/// Whether a `Content-Type` is JSON's.
fn is_json(content_type: &HeaderValue) -> bool {
    content_type.to_str().is_ok_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// Sends a request's model call with its trace context, and records the key
/// it went out with: every model call goes out here (catalogue reads, which
/// use no request's key budget, are sent by their handlers).
async fn send(
    exchange: &mut Exchange,
    provider: &Provider,
    call: &UpstreamCall<'_>,
    (body, body_type): (Bytes, Option<&HeaderValue>),
    first_byte: Duration,
) -> Result<UpstreamResponse, ProviderError> {
    let mut headers = exchange.upstream_headers();
    if let Some(body_type) = body_type {
        headers.insert(http::header::CONTENT_TYPE, body_type.clone());
    }
    let upstream = provider
        .send_within(call, Some(body), &headers, first_byte)
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
/// building the rest of it (the answer itself is relayed as bytes); and
/// for an images answer, how many images its `data` holds (their bytes
/// skipped unread).
#[derive(serde::Deserialize)]
struct UsageFields {
    usage: Option<Value>,
    #[serde(rename = "usageMetadata")]
    usage_metadata: Option<Value>,
    data: Option<Vec<serde::de::IgnoredAny>>,
}

impl UsageFields {
    /// The answer's usage members as a JSON object the usage readers take
    /// (`data` as a list of as many empty objects).
    fn of(body: &[u8]) -> Option<Value> {
        let fields: UsageFields = serde_json::from_slice(body).ok()?;
        let mut object = serde_json::Map::new();
        if let Some(usage) = fields.usage {
            object.insert("usage".into(), usage);
        }
        if let Some(usage) = fields.usage_metadata {
            object.insert("usageMetadata".into(), usage);
        }
        if let Some(data) = fields.data {
            let items = data.iter().map(|_| Value::Object(Default::default()));
            object.insert("data".into(), Value::Array(items.collect()));
        }
        Some(Value::Object(object))
    }
}
