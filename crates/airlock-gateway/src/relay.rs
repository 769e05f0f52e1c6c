//! Answers leaving for the client: complete JSON bodies, and streams relayed
//! chunk by chunk as they arrive.
//!
//! A stream is an upstream body passed through a [`Framer`] that reframes it
//! for the client (or forwards it unchanged) and reports the usage it sees.
//! The stream owns the request's [`Exchange`]: it finishes it when the
//! upstream ends, and if the client disconnects the stream is dropped, which
//! cancels the upstream request and logs what was produced.
//!
//! With a durable request log, the last byte of an answer waits for its
//! record to be in the write-ahead log: a complete answer is returned only
//! then, and a stream's last chunk (or its end) is held until then.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use airlock_providers::usage::Usage;
use airlock_providers::{
    ByteStream, Provider, ProviderError, Seconds, StreamBroken, TimeoutKind, UpstreamBody,
    UpstreamResponse,
};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderValue, StatusCode, header};

use crate::access_log::{self, LoggedModel};
use crate::cache::{CACHE_STATUS_HEADER, Failure, Lead, Replay, StreamEnded};
use crate::constitution::Checked;
use crate::constitution::refusal::StreamForm;
use crate::error::{ApiError, Surface};
use crate::exchange::{AnswerCheck, Exchange, Finished, Outcome};
use crate::framing::Generated;
use crate::metrics::ActiveStream;
use crate::resilience::CallLimits;

/// Reframes an upstream stream for the client.
pub trait Framer: Send + 'static {
    /// Bytes from upstream in; bytes for the client out (possibly none yet).
    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes>;
    /// The upstream ended cleanly: whatever closes the client's stream.
    fn finish(&mut self) -> Vec<Bytes>;
    /// The upstream's stream broke off (or stalled): a well-formed error
    /// event in the client's protocol that ends its stream, saying `message`.
    fn fail(&mut self, message: &str) -> Vec<Bytes>;
    /// Usage seen since the last call.
    fn take_usage(&mut self) -> Option<Usage>;
    /// Characters of generated content seen so far (text and refusal
    /// deltas, tool-call arguments, thoughts; in the upstream's protocol),
    /// which estimate the output of a stream the client left before the
    /// provider reported its usage.
    fn output_chars(&self) -> u64;
    /// What the stream generated (its text's digest, and the text itself
    /// once kept); `None` for streams of media.
    fn generated(&mut self) -> Option<&mut Generated> {
        None
    }
    /// The client's stream protocol, in which a withheld answer's refusal
    /// is written; `None` for streams of media.
    fn stream_form(&self) -> Option<StreamForm> {
        None
    }
}

/// What a handler answers with.
pub enum Reply {
    /// A complete JSON body with its status.
    Json {
        status: StatusCode,
        body: Bytes,
        usage: Option<Usage>,
    },
    /// A complete body of another type (audio, a transcript as text).
    Body {
        status: StatusCode,
        body: Bytes,
        content_type: HeaderValue,
        usage: Option<Usage>,
    },
    /// A stream relayed from upstream.
    Stream {
        upstream: Box<UpstreamResponse>,
        framer: Box<dyn Framer>,
        content_type: &'static str,
    },
    /// A stream relayed from upstream that the cache keeps and shares: it
    /// runs to its end even when its client leaves.
    KeptStream {
        upstream: Box<UpstreamResponse>,
        framer: Box<dyn Framer>,
        content_type: &'static str,
        lead: Box<Lead>,
    },
    /// A stream given again from the cache, or from an identical
    /// request's call.
    Replay {
        status: StatusCode,
        content_type: HeaderValue,
        chunks: Replay,
    },
    /// An error answer already in the caller's protocol (the one an
    /// identical request's call failed with).
    Rendered(Failure),
}

/// An upstream answer read whole, for replies that are not streamed: each
/// gap in its body within `limits.idle`, all of it by the total deadline
/// (a 504 naming the timeout otherwise; a body that breaks off is a 502).
pub async fn read_whole(
    upstream: UpstreamResponse,
    provider: &Provider,
    limits: CallLimits,
) -> Result<(StatusCode, Bytes), ProviderError> {
    let body = read_body(upstream.body, provider, limits).await?;
    Ok((upstream.status, body))
}

/// The answer with its body read whole, as [`read_whole`] reads it.
pub async fn read_complete(
    mut upstream: UpstreamResponse,
    provider: &Provider,
    limits: CallLimits,
) -> Result<UpstreamResponse, ProviderError> {
    let body = std::mem::replace(&mut upstream.body, UpstreamBody::Complete(Bytes::new()));
    upstream.body = UpstreamBody::Complete(read_body(body, provider, limits).await?);
    Ok(upstream)
}

async fn read_body(
    body: UpstreamBody,
    provider: &Provider,
    limits: CallLimits,
) -> Result<Bytes, ProviderError> {
    let mut chunks = match body {
        UpstreamBody::Complete(bytes) => return Ok(bytes),
        streaming => streaming.into_stream(),
    };
    let mut parts: Vec<Bytes> = Vec::new();
    loop {
        let (wait, kind, after) = match limits.total {
            Some((total, deadline)) => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left < limits.idle {
                    (left, TimeoutKind::Total, total)
                } else {
                    (limits.idle, TimeoutKind::Idle, limits.idle)
                }
            }
            None => (limits.idle, TimeoutKind::Idle, limits.idle),
        };
        match tokio::time::timeout(wait, chunks.next()).await {
            Err(_) => return Err(provider.timed_out(kind, after)),
            Ok(None) => break,
            Ok(Some(Ok(chunk))) => parts.push(chunk),
            Ok(Some(Err(StreamBroken))) => return Err(provider.broke_off()),
        }
    }
    Ok(match parts.len() {
        1 => parts.pop().unwrap_or_default(),
        _ => Bytes::from(parts.concat()),
    })
}

impl Reply {
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
        Reply::Json {
            status,
            body: Bytes::from(value.to_string()),
            usage: None,
        }
    }
}

/// Turns a handler's result into the response, finishing or handing over
/// the exchange. A complete answer is returned once its record is durable
/// (at once unless the request log is durable).
pub async fn respond(
    surface: Surface,
    exchange: Exchange,
    result: Result<Reply, ApiError>,
) -> Response {
    let rate_headers = match surface {
        Surface::OpenAi => exchange.rate_headers().to_vec(),
        Surface::Gemini => Vec::new(),
    };
    // Only the access log reads it: no copy of the name when it is off.
    let model = access_log::enabled()
        .then(|| exchange.record().model.clone())
        .flatten();
    let served_by = served_by(exchange.record());
    let receipt = exchange
        .receipt_id()
        .and_then(|id| HeaderValue::from_str(id).ok());
    let cache_status = exchange.cache_status();
    let mut response = build_response(surface, exchange, result).await;
    if let Some(status) = cache_status {
        response
            .headers_mut()
            .insert(CACHE_STATUS_HEADER, HeaderValue::from_static(status.name()));
    }
    for (name, value) in rate_headers {
        response.headers_mut().insert(name, value);
    }
    if let Some(served_by) = served_by {
        response.headers_mut().insert(SERVED_BY, served_by);
    }
    if let Some(receipt) = receipt {
        response.headers_mut().insert(RECEIPT, receipt);
    }
    if let Some(model) = model {
        response.extensions_mut().insert(LoggedModel(model));
    }
    response
}

/// Names the provider and model that served a request: the route's, or
/// the fallback's when the route's failed.
const SERVED_BY: &str = "x-airlock-served-by";

/// Names the request's receipt (`GET /v1/receipts/{id}`).
pub const RECEIPT: &str = "x-airlock-receipt";

/// `provider/model` of the route that served the request, if it reached one.
fn served_by(record: &airlock_store::RequestRecord) -> Option<HeaderValue> {
    let provider = record.provider.as_deref()?;
    let model = record.upstream_model.as_deref()?;
    HeaderValue::from_str(&format!("{provider}/{model}")).ok()
}

async fn build_response(
    surface: Surface,
    mut exchange: Exchange,
    result: Result<Reply, ApiError>,
) -> Response {
    match result {
        Err(error) => {
            let status = error.status().as_u16();
            if status >= 500 {
                tracing::warn!(%error, status, "request failed");
            }
            exchange.finish(status, Outcome::Error).await;
            error.into_response_for(surface)
        }
        Ok(Reply::Json {
            status,
            body,
            usage,
        }) => {
            if let Some(usage) = usage {
                exchange.add_usage(usage);
            }
            let (body, outcome) = check_answer(&mut exchange, status, body).await;
            let content_type = HeaderValue::from_static("application/json");
            complete(exchange, status, body, content_type, outcome).await
        }
        Ok(Reply::Body {
            status,
            body,
            content_type,
            usage,
        }) => {
            if let Some(usage) = usage {
                exchange.add_usage(usage);
            }
            complete(exchange, status, body, content_type, None).await
        }
        Ok(Reply::Stream {
            upstream,
            framer,
            content_type,
        }) => {
            let stream = relay_stream(surface, exchange, *upstream, framer);
            let status = stream.status;
            let content_type = HeaderValue::from_static(content_type);
            stream_response(status, content_type, Body::from_stream(stream))
        }
        Ok(Reply::KeptStream {
            upstream,
            framer,
            content_type,
            lead,
        }) => {
            let stream = relay_stream(surface, exchange, *upstream, framer);
            let status = stream.status;
            lead.stream_head(status, content_type);
            let follower = lead.follower();
            tokio::spawn(keep_stream(stream, *lead, content_type));
            stream_response(
                status,
                HeaderValue::from_static(content_type),
                Body::from_stream(replay(Replay::Following(Box::new(follower)))),
            )
        }
        Ok(Reply::Replay {
            status,
            content_type,
            chunks,
        }) => {
            exchange.set_streamed();
            finish_at_once(exchange, status, None).await;
            stream_response(status, content_type, Body::from_stream(replay(chunks)))
        }
        Ok(Reply::Rendered(failure)) => {
            if failure.status.is_server_error() {
                tracing::warn!(status = failure.status.as_u16(), "request failed");
            }
            exchange
                .finish(failure.status.as_u16(), Outcome::Error)
                .await;
            let mut response = Response::new(Body::from(failure.body));
            *response.status_mut() = failure.status;
            *response.headers_mut() = failure.headers;
            response
        }
    }
}

/// The relay of an upstream stream through its framer, owning the
/// request's exchange.
fn relay_stream(
    surface: Surface,
    mut exchange: Exchange,
    upstream: UpstreamResponse,
    mut framer: Box<dyn Framer>,
) -> RelayStream {
    exchange.set_streamed();
    // Held to a constitution: the text kept for its checks at the end, and
    // the stream itself held until then when a check on it blocks.
    let mut hold = false;
    if let Some(policy) = exchange.policy().filter(|policy| policy.checks_answers())
        && let Some(generated) = framer.generated()
    {
        generated.keep_text();
        hold = policy.holds_streams() && framer.stream_form().is_some();
    }
    let status = upstream.status;
    let upstream = upstream.into_stream();
    let limits = exchange.call_limits();
    let idle_limit = limits.idle;
    RelayStream {
        _active: ActiveStream::start(surface.name()),
        upstream,
        framer,
        exchange: Some(exchange),
        status,
        pending: VecDeque::new(),
        idle: Box::pin(tokio::time::sleep(idle_limit)),
        idle_limit,
        appended: None,
        closing: None,
        total: limits
            .total
            .map(|(total, deadline)| (total, Box::pin(tokio::time::sleep_until(deadline)))),
        ended_cleanly: None,
        hold,
        checking: None,
    }
}

fn stream_response(status: StatusCode, content_type: HeaderValue, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Ask buffering proxies in front of Airlock to pass chunks through.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Drives a kept stream to its end, whoever reads it: each chunk to the
/// followers (the leader's own client among them), and the whole stream
/// to the cache when it ended cleanly.
async fn keep_stream(mut stream: RelayStream, lead: Lead, content_type: &'static str) {
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        let Ok(chunk) = item else { break };
        lead.stream_chunk(chunk.clone());
        chunks.push(chunk);
    }
    let status = stream.status;
    lead.stream_end(status, content_type, stream.ended_cleanly.take(), chunks);
}

/// A replayed stream's chunks, as a body.
fn replay(chunks: Replay) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    futures_util::stream::unfold(Some(chunks), |state| async move {
        match state? {
            Replay::Kept(chunks) => {
                let body = futures_util::stream::iter(chunks.into_iter().map(Ok));
                Some((body.boxed(), None))
            }
            Replay::Following(mut follower) => {
                let chunks = follower.next().await?;
                let body = futures_util::stream::iter(chunks.into_iter().map(Ok));
                Some((body.boxed(), Some(Replay::Following(follower))))
            }
        }
    })
    .flatten()
}

/// Finishes the record of an answer given at once (its first byte now),
/// once it is durable: as `outcome`, or as its status says.
async fn finish_at_once(mut exchange: Exchange, status: StatusCode, outcome: Option<Outcome>) {
    exchange.first_byte();
    let outcome = outcome.unwrap_or(if status.is_success() {
        Outcome::Ok
    } else {
        Outcome::Error
    });
    exchange.finish(status.as_u16(), outcome).await;
}

/// A complete answer held to its project's constitution: its text
/// checked, and the answer as the client reads it (a refusal in its
/// protocol when a rule that blocks was not kept).
async fn check_answer(
    exchange: &mut Exchange,
    status: StatusCode,
    body: Bytes,
) -> (Bytes, Option<Outcome>) {
    if !exchange.checks_answers() || !status.is_success() {
        return (body, None);
    }
    // Media, embeddings and answers of tool calls alone have no text to check.
    let Some(check) = airlock_providers::answer::text_of(&body)
        .filter(|text| !text.is_empty())
        .and_then(|text| exchange.answer_check(text))
    else {
        return (body, None);
    };
    let checked = check.await;
    let refusal = checked.refusal();
    exchange.add_checks(checked);
    let Some(message) = refusal else {
        return (body, None);
    };
    let Ok(mut answer) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (body, None);
    };
    match airlock_providers::answer::refuse(&mut answer, &message) {
        true => (Bytes::from(answer.to_string()), Some(Outcome::Blocked)),
        false => (body, None),
    }
}

/// A complete answer, once its record is finished (as `outcome`, or as
/// its status says).
async fn complete(
    mut exchange: Exchange,
    status: StatusCode,
    body: Bytes,
    content_type: HeaderValue,
    outcome: Option<Outcome>,
) -> Response {
    exchange.claim_response(&body);
    finish_at_once(exchange, status, outcome).await;
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

/// What a client reads when the provider's stream broke off.
const STREAM_BROKE_OFF: &str = "The provider's stream broke off before the answer was complete; what arrived before this is all there is.";

struct RelayStream {
    /// Counts this stream in the active-streams gauge until it is dropped.
    _active: ActiveStream,
    upstream: ByteStream,
    framer: Box<dyn Framer>,
    /// `None` once the exchange is finished.
    exchange: Option<Exchange>,
    status: StatusCode,
    pending: VecDeque<Bytes>,
    /// Fires when the provider has sent nothing for `idle_limit`.
    idle: Pin<Box<tokio::time::Sleep>>,
    idle_limit: Duration,
    /// The route's total timeout, and what fires when it has passed.
    total: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
    /// The finished record's append to the request log...
    appended: Option<Finished>,
    /// ...and, while a durable log syncs it, the stream's last bytes (or
    /// its end) that wait for it.
    closing: Option<(Finished, Option<RelayItem>)>,
    /// Once the upstream ended cleanly: what the stream took and cost, and
    /// who served it (for a kept stream).
    ended_cleanly: Option<StreamEnded>,
    /// Nothing is relayed until the answer is checked against its
    /// project's constitution (a check on it blocks).
    hold: bool,
    /// The constitution's checks of the answer, once the upstream ended.
    checking: Option<AnswerCheck>,
}

type RelayItem = Result<Bytes, StreamBroken>;

impl RelayStream {
    /// Ends the client's stream with `framer`'s error event saying
    /// `message`, after what is pending, and finishes the record.
    fn end_with_error(&mut self, message: &str, outcome: Outcome) -> Bytes {
        if self.hold {
            // Never checked: withheld.
            self.pending.clear();
        }
        let closing: Vec<u8> = self
            .pending
            .drain(..)
            .chain(self.framer.fail(message))
            .flat_map(|bytes| bytes.to_vec())
            .collect();
        self.observe_usage();
        self.claim_text();
        if let Some(mut exchange) = self.exchange.take() {
            exchange.first_byte();
            self.appended = Some(exchange.finish(self.status.as_u16(), outcome));
        }
        Bytes::from(closing)
    }

    /// The answer text relayed so far, as the receipt's digest.
    fn claim_text(&mut self) {
        let digest = self.framer.generated().map(|g| g.text_sha256());
        if let (Some(digest), Some(exchange)) = (digest, self.exchange.as_mut()) {
            exchange.claim_response_digest(digest);
        }
    }

    /// Starts the constitution's checks of the answer, when its project's
    /// constitution reads answers and the stream has text (an answer of
    /// tool calls alone has none).
    fn start_check(&mut self) -> bool {
        let Some(exchange) = self.exchange.as_ref() else {
            return false;
        };
        if !exchange.checks_answers() {
            return false;
        }
        let Some(text) = self
            .framer
            .generated()
            .map(|generated| generated.kept_text())
            .filter(|text| !text.is_empty())
        else {
            return false;
        };
        self.checking = exchange.answer_check(text.to_string());
        self.checking.is_some()
    }

    /// The answer checked: a held stream is relayed, or replaced by a
    /// refusal when a rule that blocks was not kept; the record finished.
    fn close_checked(&mut self, checked: Checked) -> Option<RelayItem> {
        let held = std::mem::replace(&mut self.hold, false);
        let mut outcome = Outcome::Ok;
        if let (true, Some(message), Some(form), Some(exchange)) = (
            held,
            checked.refusal(),
            self.framer.stream_form(),
            self.exchange.as_ref(),
        ) {
            let record = exchange.record();
            let refusal = crate::constitution::refusal::stream(
                form,
                &record.id,
                record.model.as_deref().unwrap_or_default(),
                &message,
            );
            self.pending.clear();
            self.pending.push_back(refusal);
            outcome = Outcome::Blocked;
        }
        if let Some(exchange) = self.exchange.as_mut() {
            if outcome == Outcome::Blocked {
                // What the client got is the refusal, whole: its digest is
                // that of the bytes sent, as for a complete answer.
                let sent: Vec<u8> = self.pending.iter().flat_map(|b| b.to_vec()).collect();
                exchange.claim_response(&sent);
            }
            exchange.add_checks(checked);
        }
        self.close(outcome)
    }

    /// The stream's end: what is pending as its last bytes, and the record
    /// finished as `outcome`.
    fn close(&mut self, outcome: Outcome) -> Option<RelayItem> {
        // Flush what the framer closed with before finishing the record.
        if self.pending.is_empty() {
            if let Some(exchange) = self.exchange.take() {
                self.appended = Some(exchange.finish(self.status.as_u16(), outcome));
            }
            return None;
        }
        let tail: Vec<u8> = self
            .pending
            .drain(..)
            .flat_map(|bytes| bytes.to_vec())
            .collect();
        if let Some(mut exchange) = self.exchange.take() {
            exchange.first_byte();
            self.appended = Some(exchange.finish(self.status.as_u16(), outcome));
        }
        Some(Ok(Bytes::from(tail)))
    }

    fn observe_usage(&mut self) {
        if let (Some(usage), Some(exchange)) = (self.framer.take_usage(), self.exchange.as_mut()) {
            exchange.add_usage(usage);
        }
    }
}

/// A stream dropped with its exchange still open is one the client left:
/// what the provider did not report is estimated before the record is
/// written (by the exchange's own drop, as `client_disconnected`).
impl Drop for RelayStream {
    fn drop(&mut self) {
        self.observe_usage();
        self.claim_text();
        if let Some(exchange) = self.exchange.as_mut() {
            exchange.estimate_unreported_usage(self.framer.output_chars());
        }
    }
}

impl Stream for RelayStream {
    type Item = RelayItem;

    /// The relay's next bytes; its last bytes, or its end, once the
    /// record is durable.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RelayItem>> {
        if let Some((appended, _)) = &mut self.closing {
            ready!(Pin::new(appended).poll(cx));
            return Poll::Ready(self.closing.take().and_then(|(_, last)| last));
        }
        let item = ready!(self.as_mut().poll_relay(cx));
        if let Some(mut appended) = self.appended.take()
            && Pin::new(&mut appended).poll(cx).is_pending()
        {
            self.closing = Some((appended, item));
            return Poll::Pending;
        }
        Poll::Ready(item)
    }
}

impl RelayStream {
    fn poll_relay(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RelayItem>> {
        let this = &mut *self;
        loop {
            if let Some(check) = this.checking.as_mut() {
                let checked = ready!(check.as_mut().poll(cx));
                this.checking = None;
                return Poll::Ready(this.close_checked(checked));
            }
            if !this.hold
                && let Some(bytes) = this.pending.pop_front()
            {
                if let Some(exchange) = this.exchange.as_mut() {
                    exchange.first_byte();
                }
                return Poll::Ready(Some(Ok(bytes)));
            }
            if this.exchange.is_none() {
                return Poll::Ready(None);
            }
            if let Some((total, deadline)) = this.total.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                let message = format!(
                    "The provider's answer took longer than the total timeout ({}) and was ended; what arrived before this is all there is.",
                    Seconds(*total)
                );
                let closing = this.end_with_error(&message, Outcome::UpstreamTimedOut);
                return Poll::Ready(Some(Ok(closing)));
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        let message = format!(
                            "The provider's stream sent nothing for {} and was ended; what arrived before this is all there is.",
                            Seconds(this.idle_limit)
                        );
                        let closing = this.end_with_error(&message, Outcome::UpstreamStalled);
                        return Poll::Ready(Some(Ok(closing)));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    let deadline = tokio::time::Instant::now() + this.idle_limit;
                    this.idle.as_mut().reset(deadline);
                    this.pending.extend(
                        this.framer
                            .push(&chunk)
                            .into_iter()
                            .filter(|b| !b.is_empty()),
                    );
                    this.observe_usage();
                }
                Poll::Ready(Some(Err(StreamBroken))) => {
                    // The client's stream ends well-formed, with an error
                    // event it can read, instead of being cut.
                    let closing =
                        this.end_with_error(STREAM_BROKE_OFF, Outcome::UpstreamDisconnected);
                    return Poll::Ready(Some(Ok(closing)));
                }
                Poll::Ready(None) => {
                    this.pending
                        .extend(this.framer.finish().into_iter().filter(|b| !b.is_empty()));
                    this.observe_usage();
                    this.claim_text();
                    if let Some(exchange) = this.exchange.as_ref() {
                        let record = exchange.record();
                        this.ended_cleanly = Some(StreamEnded {
                            tokens: exchange.tokens(),
                            cost_usd: exchange.cost_usd(),
                            provider: record.provider.clone(),
                            model: record.upstream_model.clone(),
                        });
                    }
                    if this.start_check() {
                        continue;
                    }
                    return Poll::Ready(this.close(Outcome::Ok));
                }
            }
        }
    }
}
