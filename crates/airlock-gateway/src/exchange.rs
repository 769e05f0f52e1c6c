//! One request's record in the making, and what it holds until it ends.
//!
//! An [`Exchange`] is opened when a request arrives, annotated as the request
//! is routed and answered, and written to the request log exactly once: when
//! it is finished, or, if the client went away first (its response body was
//! dropped mid-stream), when it is dropped, with what was produced so far.
//! Finishing gives [`Finished`]: the answer's last byte waits for it (see
//! `relay`), so a durable request log has the record, and cluster mode's
//! shared limits have its settling, before the client has the answer.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_providers::ProviderKind;
use airlock_providers::pricing::{Searches, UsageForCost};
use airlock_providers::usage::Usage;
use airlock_store::{Appended, ProjectCache, RequestRecord};
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::oneshot;

use crate::admission::{self, Admitted, Caller, RequestCost};
use crate::auth::Principal;
use crate::cache::{CacheAsk, CacheStatus, Tokens};
use crate::constitution::{Checked, Policy};
use crate::context::{Pricing, RequestContext, SpendProbe};
use crate::error::{ApiError, Surface};
use crate::files::context::FileContext;
use crate::metrics;
use crate::resilience::CallLimits;
use crate::routing::Route;
use crate::state::AppState;
use crate::trace::RequestSpans;

/// The constitution's checks of an answer, under way.
pub type AnswerCheck = std::pin::Pin<Box<dyn std::future::Future<Output = Checked> + Send>>;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error,
    ClientDisconnected,
    UpstreamDisconnected,
    /// The provider's stream sent nothing for longer than the idle timeout.
    UpstreamStalled,
    /// The provider's answer ran past the route's total timeout.
    UpstreamTimedOut,
    /// The project's constitution withheld the answer: the client read a
    /// refusal in its protocol. (A model it does not allow is an error.)
    Blocked,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::ClientDisconnected => "client_disconnected",
            Outcome::UpstreamDisconnected => "upstream_disconnected",
            Outcome::UpstreamStalled => "upstream_stalled",
            Outcome::UpstreamTimedOut => "upstream_timed_out",
            Outcome::Blocked => "blocked",
        }
    }
}

/// Status recorded for a request the client abandoned (nginx's convention).
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// One request's progress and record. Boxed: it is handed by value from
/// the handler through the dispatch to the relay, and each move would
/// otherwise copy a kilobyte.
pub struct Exchange(Box<ExchangeState>);

impl std::ops::Deref for Exchange {
    type Target = ExchangeState;

    fn deref(&self) -> &ExchangeState {
        &self.0
    }
}

impl std::ops::DerefMut for Exchange {
    fn deref_mut(&mut self) -> &mut ExchangeState {
        &mut self.0
    }
}

/// What an [`Exchange`] holds.
pub struct ExchangeState {
    state: AppState,
    principal: Principal,
    client_ip: Option<IpAddr>,
    /// Limits and queue places held until the request (or its stream) ends.
    admitted: Option<Admitted>,
    spans: RequestSpans,
    surface: Surface,
    started: Instant,
    /// The limits on the serving call's answer, once it is sent.
    call_limits: CallLimits,
    first_byte_after: Option<Duration>,
    record: RequestRecord,
    /// Output tokens of generated images, priced apart when the model has
    /// an image output rate (not a column of the log).
    output_image_tokens: Option<u64>,
    /// Web searches the answer ran, priced per search (not a column either).
    searches: Searches,
    /// Images generated and seconds of audio heard, for models priced by
    /// them (not columns either).
    images: u64,
    audio_ms: u64,
    /// The request body's size, once admitted: what an unreported prompt
    /// is estimated from.
    body_len: Option<usize>,
    written: bool,
    /// What the request's headers asked of the response cache.
    cache_ask: Result<CacheAsk, String>,
    cache_status: Option<CacheStatus>,
    /// How files the request names are given to the model.
    file_context: Result<FileContext, String>,
    /// For an internal request: where its cost is reported.
    spend: Option<Arc<SpendProbe>>,
    /// Which price the request pays.
    pricing: Pricing,
    /// The constitution's results so far (none without one).
    checked: Checked,
    /// Counted in flight until the exchange is dropped.
    _in_flight: metrics::InFlight,
}

impl Exchange {
    pub fn begin(
        state: &AppState,
        request: &RequestContext,
        surface: Surface,
        operation: &str,
    ) -> Self {
        let request_id = request.id.as_str();
        let started_at_ms = crate::clock::now_ms();
        let grant = request.principal.grant();
        Exchange(Box::new(ExchangeState {
            state: state.clone(),
            principal: request.principal.clone(),
            client_ip: request.client_ip,
            admitted: None,
            spans: RequestSpans::start(&request.trace, request_id, surface.name(), operation),
            surface,
            started: Instant::now(),
            call_limits: CallLimits::default(),
            first_byte_after: None,
            record: RequestRecord {
                id: request_id.to_string(),
                started_at_ms,
                surface: surface.name().to_string(),
                operation: operation.to_string(),
                model: None,
                provider: None,
                upstream_model: None,
                key_id: None,
                status: 0,
                latency_us: 0,
                ttft_us: None,
                tokens_in: None,
                tokens_out: None,
                tokens_cached: None,
                streamed: false,
                outcome: String::new(),
                project_id: grant.map(|g| g.project.id.clone()),
                api_key_id: grant.map(|g| g.key.id.clone()),
                end_user: request.end_user.clone(),
                cost_usd: None,
                conversation_id: None,
                history_turns_dropped: None,
                tokens_estimated: false,
                cache: None,
                saved_usd: None,
                origin: request.origin.clone(),
                receipt: state.config().receipts.as_ref().map(|_| {
                    let mut claims = crate::receipts::Receipts::claims();
                    claims.policy_sha256 = grant
                        .and_then(|grant| grant.policy.as_ref())
                        .map(|policy| policy.sha256().to_string());
                    claims
                }),
            },
            output_image_tokens: None,
            searches: Searches::default(),
            images: 0,
            audio_ms: 0,
            body_len: None,
            written: false,
            cache_ask: request.cache.clone(),
            cache_status: None,
            file_context: request.file_context.clone(),
            spend: request.spend.clone(),
            pricing: request.pricing,
            checked: Checked::default(),
            _in_flight: metrics::InFlight::start(),
        }))
    }

    /// How files the request names are given to the model, or what is
    /// wrong with its header.
    pub fn file_context(&self) -> Result<FileContext, String> {
        self.file_context.clone()
    }

    /// What the request's headers asked of the response cache, or what is
    /// wrong with them.
    pub fn cache_ask(&self) -> Result<CacheAsk, String> {
        self.cache_ask.clone()
    }

    /// The caller's project's cache setting.
    pub fn project_cache(&self) -> Option<ProjectCache> {
        self.principal
            .grant()
            .and_then(|grant| grant.project.settings.cache)
    }

    pub fn set_cache_status(&mut self, status: CacheStatus) {
        self.cache_status = Some(status);
    }

    pub fn cache_status(&self) -> Option<CacheStatus> {
        self.cache_status
    }

    /// Answered from the cache: the record has the answer's tokens, costs
    /// nothing, and saved what the answer cost when it was made.
    pub(crate) fn cache_hit(&mut self, tokens: Tokens, saved_usd: Option<f64>) {
        self.cache_status = Some(CacheStatus::Hit);
        self.record.tokens_in = tokens.input;
        self.record.tokens_out = tokens.output;
        self.record.tokens_cached = tokens.cached_input;
        self.record.saved_usd = saved_usd;
    }

    /// The token counts reported so far.
    pub(crate) fn tokens(&self) -> Tokens {
        Tokens {
            input: self.record.tokens_in,
            output: self.record.tokens_out,
            cached_input: self.record.tokens_cached,
        }
    }

    /// The protocol the client speaks.
    pub fn surface(&self) -> Surface {
        self.surface
    }

    /// Records the end user a JSON body names when no verified token
    /// named one ([`crate::end_user::named_in_body`]): for the inventory of
    /// user data, after admission (limits count verified end users only).
    pub(crate) fn name_end_user(&mut self, body: &[u8]) {
        if self.record.end_user.is_none() {
            self.record.end_user = crate::end_user::named_in_body(body);
        }
    }

    /// The record names no end user (theirs was erased meanwhile).
    pub(crate) fn forget_end_user(&mut self) {
        self.record.end_user = None;
    }

    /// Its receipt's id, when receipts are on.
    pub fn receipt_id(&self) -> Option<&str> {
        self.record
            .receipt
            .as_ref()
            .map(|claims| claims.receipt_id.as_str())
    }

    /// The request body as the client sent it, whose SHA-256 its receipt
    /// carries.
    pub fn claim_request(&mut self, body: &[u8]) {
        if let Some(claims) = &mut self.record.receipt {
            claims.request_sha256 = Some(airlock_receipts::sha256_hex(body));
        }
    }

    /// The answer's body as sent, whose SHA-256 its receipt carries.
    pub fn claim_response(&mut self, body: &[u8]) {
        if self.record.receipt.is_some() {
            self.claim_response_digest(airlock_receipts::sha256_hex(body));
        }
    }

    /// The media objects the answer holds as URLs, each by its SHA-256,
    /// in order: its receipt carries them.
    pub fn claim_media(&mut self, sha256: impl Iterator<Item = String>) {
        if let Some(claims) = &mut self.record.receipt {
            claims.media_sha256.extend(sha256);
        }
    }

    /// The answer's digest, computed as it streamed.
    pub fn claim_response_digest(&mut self, sha256: String) {
        if let Some(claims) = &mut self.record.receipt {
            claims.response_sha256 = Some(sha256);
        }
    }

    pub fn set_model(&mut self, model: &str) {
        self.record.model = Some(model.to_string());
    }

    /// Authorizes `model` under the caller's scopes and routes it (never
    /// waits): see [`admission::authorize`].
    pub fn authorize(&mut self, model: &str) -> Result<Route, ApiError> {
        self.set_model(model);
        let route =
            admission::authorize(&self.state, &self.principal, &self.record.operation, model)?;
        if let Some(policy) = self.policy() {
            let checked = policy.check_model(&route.upstream_model);
            if let Some(rule) = checked.blocked_by() {
                let refused = ApiError::ConstitutionRefusedModel {
                    model: route.upstream_model.clone(),
                    rule: rule.to_string(),
                };
                self.add_checks(checked);
                return Err(refused);
            }
            self.add_checks(checked);
        }
        self.set_route(&route);
        Ok(route)
    }

    /// The route of a model this request may fall back to, when the
    /// caller's scopes and the project's constitution allow it (never
    /// waits; changes nothing).
    pub fn fallback_route(&self, model: &str) -> Option<Route> {
        let route =
            admission::authorize(&self.state, &self.principal, &self.record.operation, model)
                .ok()?;
        let refused = self.policy().is_some_and(|policy| {
            policy
                .check_model(&route.upstream_model)
                .blocked_by()
                .is_some()
        });
        (!refused).then_some(route)
    }

    /// The project's constitution, when it has one.
    pub fn policy(&self) -> Option<&Arc<Policy>> {
        self.principal.grant()?.policy.as_ref()
    }

    /// Whether the project's constitution reads answers' text (a rule on
    /// it, or a judge).
    pub fn checks_answers(&self) -> bool {
        self.policy().is_some_and(|policy| policy.checks_answers())
    }

    /// Results of the constitution's checks, for the receipt and the
    /// metrics.
    pub fn add_checks(&mut self, checked: Checked) {
        self.checked.extend(checked);
    }

    /// The constitution's checks of an answer whose text is `text`, when
    /// the project's constitution reads answers.
    pub fn answer_check(&self, text: String) -> Option<AnswerCheck> {
        let grant = match &self.principal {
            Principal::Key(grant) => grant.clone(),
            Principal::Token(token) => token.grant.clone()?,
            _ => return None,
        };
        let policy = grant.policy.clone().filter(|p| p.checks_answers())?;
        let state = self.state.clone();
        Some(Box::pin(async move {
            policy.check_answer(&state, &grant, &text).await
        }))
    }

    /// The request is now served by `route` (a fallback): its record, spend
    /// and `x-airlock-served-by` name that route's provider and model.
    pub fn serve_with(&mut self, route: &Route) {
        self.set_route(route);
    }

    /// The call that will serve the request was sent under `limits`.
    pub fn set_call_limits(&mut self, limits: CallLimits) {
        self.call_limits = limits;
    }

    /// The limits on reading the serving call's answer.
    pub fn call_limits(&self) -> CallLimits {
        self.call_limits
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Admits this generation under the caller's limits, budgets and
    /// upstream queues: may wait for a place, or refuse. What it holds is
    /// kept until the request ends.
    pub async fn admit_or_wait(
        &mut self,
        route: &Route,
        cost: RequestCost,
    ) -> Result<(), ApiError> {
        self.body_len = Some(cost.body_len);
        let caller = Caller {
            principal: &self.principal,
            end_user: self.record.end_user.as_deref(),
            client_ip: self.client_ip,
        };
        let admitted =
            admission::admit_or_wait(&self.state, &caller, route, cost, self.record.started_at_ms)
                .await?;
        self.admitted = Some(admitted);
        Ok(())
    }

    /// OpenAI's `x-ratelimit-*` headers for this request's limits, if any.
    pub fn rate_headers(&self) -> &[(HeaderName, HeaderValue)] {
        self.admitted.as_ref().map_or(&[], Admitted::rate_headers)
    }

    fn set_route(&mut self, route: &Route) {
        let this = &mut *self.0;
        this.record.provider = Some(route.provider.name().to_string());
        this.record.upstream_model = Some(route.upstream_model.clone());
        let requested = this
            .record
            .model
            .as_deref()
            .unwrap_or(&route.upstream_model);
        this.spans.routed(
            genai_provider_name(route.provider.kind()),
            route.provider.name(),
            requested,
            &route.upstream_model,
        );
    }

    /// Headers that carry the trace context to the provider.
    pub fn upstream_headers(&self) -> HeaderMap {
        self.spans.outgoing_headers()
    }

    /// The record so far: route, key, tokens.
    pub fn record(&self) -> &RequestRecord {
        &self.record
    }

    pub fn set_key(&mut self, key_id: Option<String>) {
        self.record.key_id = key_id;
    }

    /// Links the record to the conversation a turn belongs to, and says
    /// how many of its oldest turns the history policy left out.
    pub fn set_conversation(&mut self, conversation_id: &str, turns_dropped: usize) {
        self.record.conversation_id = Some(conversation_id.to_string());
        self.record.history_turns_dropped = Some(i64::try_from(turns_dropped).unwrap_or(i64::MAX));
    }

    pub fn set_streamed(&mut self) {
        self.record.streamed = true;
    }

    /// Marks the first bytes of the answer leaving for the client.
    pub fn first_byte(&mut self) {
        if self.first_byte_after.is_none() {
            let elapsed = self.started.elapsed();
            self.first_byte_after = Some(elapsed);
            self.record.ttft_us = Some(elapsed.as_micros() as i64);
        }
    }

    /// Keeps the latest counts the provider reported.
    pub fn add_usage(&mut self, usage: Usage) {
        if let Some(input) = usage.input {
            self.record.tokens_in = Some(input as i64);
        }
        if let Some(output) = usage.output {
            self.record.tokens_out = Some(output as i64);
        }
        if let Some(cached) = usage.cached_input {
            self.record.tokens_cached = Some(cached as i64);
        }
        if let Some(images) = usage.output_image {
            self.output_image_tokens = Some(images);
        }
        if let Some(searches) = usage.searches() {
            self.searches = searches;
        }
        if let Some(images) = usage.images {
            self.images = images;
        }
        if let Some(audio_ms) = usage.audio_ms {
            self.audio_ms = audio_ms;
        }
    }

    /// Estimates what the provider never reported, for a stream the client
    /// left: output tokens from the `output_chars` of content seen, one
    /// per four characters (rounded up); when no prompt count came either,
    /// input tokens from the request body's bytes, one per four. The
    /// record is marked `tokens_estimated`, and its cost and the budgets
    /// count the estimate.
    pub fn estimate_unreported_usage(&mut self, output_chars: u64) {
        let body_len = self.body_len;
        let record = &mut self.record;
        let tokens = |units: u64| i64::try_from(units.div_ceil(4)).unwrap_or(i64::MAX);
        if record.tokens_out.is_none() {
            record.tokens_out = Some(tokens(output_chars));
            record.tokens_estimated = true;
        }
        if record.tokens_in.is_none()
            && let Some(body_len) = body_len
        {
            record.tokens_in = Some(tokens(body_len as u64));
            record.tokens_estimated = true;
        }
    }

    /// What the usage reported so far costs at list prices, when the
    /// routed model has a price and any tokens, images or audio were
    /// reported: prompt tokens read from the provider's cache at the
    /// cached-input price, generated image tokens at the image output
    /// price, images and seconds of audio at their prices, plus the web
    /// searches the answer ran (see `airlock_providers::pricing`); a batch
    /// request pays the batch price.
    pub fn cost_usd(&self) -> Option<f64> {
        let record = &self.record;
        let model = record.upstream_model.as_ref()?;
        let reported = record.tokens_in.is_some()
            || record.tokens_out.is_some()
            || self.images > 0
            || self.audio_ms > 0;
        if !reported {
            return None;
        }
        let count = |tokens: Option<i64>| tokens.unwrap_or(0).max(0) as u64;
        let usage = UsageForCost {
            input_tokens: count(record.tokens_in),
            output_tokens: count(record.tokens_out),
            cached_input_tokens: count(record.tokens_cached),
            output_image_tokens: self.output_image_tokens.unwrap_or(0),
            searches: self.searches,
            images: self.images,
            audio_seconds: self.audio_ms as f64 / 1000.0,
        };
        let prices = &self.state.config().prices;
        match self.pricing {
            Pricing::Standard => prices.cost_usd(model, &usage),
            Pricing::Batch => prices.batch_cost_usd(model, &usage),
        }
    }

    /// Writes the record; what it gives resolves once the record is durable
    /// (at once unless the request log is durable).
    pub fn finish(mut self, status: u16, outcome: Outcome) -> Finished {
        self.write(status, outcome)
    }

    fn write(&mut self, status: u16, outcome: Outcome) -> Finished {
        if std::mem::replace(&mut self.written, true) {
            return Finished::default();
        }
        let elapsed = self.started.elapsed();
        let hit = self.cache_status == Some(CacheStatus::Hit);
        // A hit spends nothing: its tokens are on record, its cost is not.
        let cost_usd = match hit {
            true => Some(0.0),
            false => self.cost_usd(),
        };
        // Written once: the record is taken, not copied.
        let mut record = std::mem::take(&mut self.record);
        record.status = status;
        record.outcome = outcome.name().to_string();
        record.latency_us = elapsed.as_micros() as i64;
        record.cost_usd = cost_usd;
        if let Some(spend) = &self.spend {
            spend.report(cost_usd.unwrap_or(0.0));
        }
        record.cache = self.cache_status.map(|status| status.name().to_string());
        if !self.checked.is_empty() {
            metrics::constitution_verdict(self.checked.verdict());
            if let Some(claims) = &mut record.receipt {
                claims.checks = Some(self.checked.to_receipt());
            }
        }
        if let Some(status) = self.cache_status {
            metrics::cache_request(&record.operation, status.name(), record.saved_usd);
        }
        let settled = self.admitted.as_ref().and_then(|admitted| {
            let tokens = match (record.tokens_in, record.tokens_out) {
                _ if hit => None,
                (None, None) => None,
                (input, output) => Some((input.unwrap_or(0) + output.unwrap_or(0)).max(0) as u64),
            };
            admitted.settle(&self.state, tokens, record.cost_usd)
        });
        self.record_metrics(&record, elapsed);
        self.spans.end(
            status,
            outcome.name(),
            (record.tokens_in, record.tokens_out),
        );
        Finished {
            appended: Some(self.state.config().request_log.record(record)),
            settled,
        }
    }

    fn record_metrics(&self, record: &RequestRecord, elapsed: Duration) {
        // An unknown model's name is client input: it never becomes a label.
        let model = match (&record.upstream_model, record.status) {
            (Some(model), status) if status != 404 => metrics::model_label(model),
            _ => "none".to_string(),
        };
        // A hit's tokens are on its record, but no provider spent them.
        let hit = self.cache_status == Some(CacheStatus::Hit);
        let tokens = |count: Option<i64>| count.filter(|_| !hit).map(|c| c.max(0) as u64);
        let labels = metrics::RequestLabels {
            surface: self.surface.name(),
            operation: &record.operation,
            model,
            provider: record.provider.as_deref().unwrap_or("none"),
            status: record.status,
            first_token_after: self.first_byte_after.filter(|_| record.streamed),
            tokens_in: tokens(record.tokens_in),
            tokens_out: tokens(record.tokens_out),
        };
        metrics::record_request(&labels, elapsed);
    }
}

/// `gen_ai.provider.name` as the GenAI semantic conventions spell it.
fn genai_provider_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Gemini => "gcp.gemini",
        ProviderKind::Openai => "openai",
        ProviderKind::OpenaiCompatible => "openai_compatible",
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        // The client is gone: nobody waits for the append.
        drop(self.write(CLIENT_CLOSED_REQUEST, Outcome::ClientDisconnected));
    }
}

/// A finished request's record written, resolving once it is durable (at
/// once unless the request log is durable) and its shared limits settled
/// (at once unless in cluster mode with something to settle).
#[must_use = "await it before answering, or drop it where nobody waits for the answer"]
#[derive(Default)]
pub struct Finished {
    /// `None` once resolved (a resolved receiver is not polled again).
    appended: Option<Appended>,
    settled: Option<oneshot::Receiver<()>>,
}

impl std::future::Future for Finished {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if let Some(appended) = &mut self.appended {
            if std::pin::Pin::new(appended).poll(cx).is_pending() {
                return std::task::Poll::Pending;
            }
            self.appended = None;
        }
        if let Some(settled) = &mut self.settled {
            // An error is a settling task gone: nothing to wait for.
            if std::pin::Pin::new(settled).poll(cx).is_pending() {
                return std::task::Poll::Pending;
            }
            self.settled = None;
        }
        std::task::Poll::Ready(())
    }
}
