//! One configured upstream: an adapter, its key pool and the HTTP client,
//! with the shared send loop that rotates keys.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, TryStreamExt};

use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use url::Url;

use crate::Secret;
use crate::adapter::{KeyVerdict, Protocol, ProviderAdapter, ProviderKind, UpstreamCall};
use crate::client::{HttpClient, Outgoing, is_timeout};
use crate::gemini::GeminiAdapter;
use crate::keys::{KeyPool, KeyStatus, PickError};
use crate::openai::OpenAiAdapter;
use crate::openai_compatible::OpenAiCompatibleAdapter;
use crate::reachability::{Reachability, with_causes};
use crate::timeouts::{Seconds, TimeoutKind, Timeouts};

/// Error answers are read whole (to judge the key) up to this size.
const MAX_ERROR_BODY: usize = 1024 * 1024;
/// Rest given to a rate-limited key whose provider said no usable delay.
const DEFAULT_REST: Duration = Duration::from_secs(1);

/// What one attempt with one key came to.
pub(crate) enum KeyOutcome<T> {
    /// An answer for the caller: a success, or an error about the request.
    Answer(T),
    /// The provider refused the key: it leaves the rotation.
    Rejected { status: u16 },
    /// The key is rate-limited: it rests this long.
    RateLimited { rest: Duration },
}

impl<T> KeyOutcome<T> {
    /// The outcome of an error answer, as the adapter judged the key.
    pub(crate) fn judged(
        verdict: KeyVerdict,
        status: StatusCode,
        retry_after: Option<Duration>,
        answer: impl FnOnce() -> T,
    ) -> Self {
        match verdict {
            KeyVerdict::Fine => KeyOutcome::Answer(answer()),
            KeyVerdict::Rejected => KeyOutcome::Rejected {
                status: status.as_u16(),
            },
            KeyVerdict::RateLimited => KeyOutcome::RateLimited {
                rest: retry_after.unwrap_or(DEFAULT_REST),
            },
        }
    }
}

/// Why a call produced no upstream answer.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("provider {provider} does not support this operation")]
    Unsupported { provider: String },
    #[error("provider {provider} has no usable key: every key was rejected")]
    NoUsableKey { provider: String },
    #[error("every key of provider {provider} is rate-limited")]
    RateLimited {
        provider: String,
        retry_after: Duration,
    },
    #[error("provider {provider} is unreachable")]
    Unreachable { provider: String },
    #[error("provider {provider}'s answer broke off before it was complete")]
    BrokeOff { provider: String },
    #[error("provider {provider} did not answer within its {} timeout ({})", kind.name(), Seconds(*after))]
    Timeout {
        provider: String,
        kind: TimeoutKind,
        after: Duration,
    },
}

/// An upstream answer: success bodies stream, error bodies are read whole.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: UpstreamBody,
    /// The id of the key that was used (`gemini#0`), if any.
    pub key_id: Option<String>,
}

pub enum UpstreamBody {
    Streaming(Incoming),
    Complete(Bytes),
}

impl UpstreamBody {
    /// The body as chunks, as they arrive; dropping it cancels the request.
    pub fn into_stream(self) -> ByteStream {
        match self {
            UpstreamBody::Streaming(body) => {
                Box::pin(body.into_data_stream().map_err(|_| StreamBroken))
            }
            UpstreamBody::Complete(bytes) => {
                Box::pin(futures_util::stream::once(async { Ok(bytes) }))
            }
        }
    }
}

/// Why an upstream stream ended early.
#[derive(Debug, thiserror::Error)]
#[error("the provider's stream broke off")]
pub struct StreamBroken;

/// An upstream body as a stream of chunks, as they arrive.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StreamBroken>> + Send>>;

impl UpstreamResponse {
    /// The body as chunks, as they arrive; dropping it cancels the request.
    pub fn into_stream(self) -> ByteStream {
        self.body.into_stream()
    }

    /// Reads the whole body (for answers that are not streamed to the client).
    pub async fn into_bytes(self) -> Result<Bytes, StreamBroken> {
        match self.body {
            UpstreamBody::Streaming(body) => match body.collect().await {
                Ok(collected) => Ok(collected.to_bytes()),
                Err(_) => Err(StreamBroken),
            },
            UpstreamBody::Complete(bytes) => Ok(bytes),
        }
    }
}

/// One call as it is sent with each key in turn.
struct Sent<'c, 'a> {
    call: &'c UpstreamCall<'a>,
    uri: &'c Uri,
    headers: &'c HeaderMap,
    first_byte: Duration,
}

pub struct Provider {
    name: String,
    adapter: Box<dyn ProviderAdapter>,
    keys: KeyPool,
    http: HttpClient,
    timeouts: Timeouts,
    reachability: Reachability,
}

impl Provider {
    /// `timeouts` bound its calls: the connection (its own client when the
    /// connect timeout is not `http`'s), the answer's headers, and what
    /// the gateway reads of `idle` and `total` for the body.
    pub fn new(
        name: impl Into<String>,
        kind: ProviderKind,
        base_url: Url,
        keys: Vec<Secret>,
        http: &HttpClient,
        timeouts: Timeouts,
    ) -> Self {
        let adapter: Box<dyn ProviderAdapter> = match kind {
            ProviderKind::Gemini => Box::new(GeminiAdapter::new(base_url)),
            ProviderKind::Openai => Box::new(OpenAiAdapter::new(base_url)),
            ProviderKind::OpenaiCompatible => Box::new(OpenAiCompatibleAdapter::new(base_url)),
        };
        let name = name.into();
        let keys = KeyPool::new(&name, keys);
        Provider {
            name,
            adapter,
            keys,
            http: http.with_connect_timeout(timeouts.connect),
            timeouts,
            reachability: Reachability::new(),
        }
    }

    /// The provider's public base URL (safe to show: keys never live in it).
    pub fn base_url(&self) -> &Url {
        self.adapter.base_url()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long an answer's headers (or a socket's handshake) may take.
    pub fn header_timeout(&self) -> Duration {
        self.timeouts.first_byte
    }

    /// Its limits on a call.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    pub fn kind(&self) -> ProviderKind {
        self.adapter.kind()
    }

    pub fn protocol(&self) -> Protocol {
        self.adapter.kind().protocol()
    }

    pub fn key_statuses(&self) -> Vec<KeyStatus> {
        self.keys.statuses()
    }

    /// The provider said, inside a realtime session opened with the key
    /// `key_id`, that the key's quota is spent: the key rests (a minute:
    /// `keys::SPENT_QUOTA_REST`), as after a 429, so the next sessions and
    /// calls use the pool's other keys.
    pub fn quota_spent(&self, key_id: &str) {
        self.keys.rest_id(key_id, crate::keys::SPENT_QUOTA_REST);
    }

    /// Whether a request could be sent now or after a rest.
    pub fn is_usable(&self) -> bool {
        self.keys.has_usable_key() || (self.keys.is_empty() && self.adapter.keys_optional())
    }

    /// Whether the provider's host can be reached, or why not: known from
    /// recent calls, or probed.
    pub async fn reachable(&self) -> Result<(), String> {
        self.reachability.check(self.base_url()).await
    }

    /// Records that a connection to the provider could not be made.
    pub(crate) fn unreachable_because(&self, cause: String) {
        self.reachability.failed(cause);
    }

    /// Records that the provider answered.
    pub(crate) fn answered(&self) {
        self.reachability.answered();
    }

    /// Sends a call, moving to the next key when the provider rejects or
    /// rate-limits the one used.
    ///
    /// `headers` are added to the upstream request as they are (trace
    /// context); the provider key is added by the adapter.
    pub async fn send(
        &self,
        call: &UpstreamCall<'_>,
        body: Option<Bytes>,
        headers: &HeaderMap,
    ) -> Result<UpstreamResponse, ProviderError> {
        self.send_within(call, body, headers, self.timeouts.first_byte)
            .await
    }

    /// As [`send`](Self::send), with `first_byte` as the wait for each
    /// answer's headers (a route's own timeout).
    pub async fn send_within(
        &self,
        call: &UpstreamCall<'_>,
        body: Option<Bytes>,
        headers: &HeaderMap,
        first_byte: Duration,
    ) -> Result<UpstreamResponse, ProviderError> {
        let uri = &self.uri(call)?;
        self.rotate_keys(|key, key_id| {
            let body = body.clone();
            async move {
                let sent = Sent {
                    call,
                    uri,
                    headers,
                    first_byte,
                };
                let response = self.attempt(&sent, body, key.as_ref()).await?;
                let status = response.status();
                if status.is_success() || key.is_none() {
                    return Ok(KeyOutcome::Answer(Self::finish(response, key_id).await));
                }
                let (parts, body) = response.into_parts();
                let headers = parts.headers;
                let body = read_error_body(body).await;
                let verdict = self.adapter.judge_key(status, &body);
                let retry_after = self.adapter.retry_after(&headers, &body);
                Ok(KeyOutcome::judged(verdict, status, retry_after, || {
                    UpstreamResponse {
                        status,
                        headers,
                        body: UpstreamBody::Complete(body),
                        key_id,
                    }
                }))
            }
        })
        .await
    }

    /// The URI a call is sent to: the adapter's URL as it is written.
    fn uri(&self, call: &UpstreamCall<'_>) -> Result<Uri, ProviderError> {
        let url = self.url(call)?;
        url.as_str()
            .parse()
            .map_err(|error: http::uri::InvalidUri| {
                // The adapter's URL, path and query, never holds a key.
                tracing::warn!(provider = %self.name, %error, "upstream URL is not a valid URI");
                ProviderError::Unreachable {
                    provider: self.name.clone(),
                }
            })
    }

    /// The adapter's URL for a call, or `Unsupported`.
    pub(crate) fn url(&self, call: &UpstreamCall<'_>) -> Result<Url, ProviderError> {
        self.adapter
            .url(call)
            .ok_or_else(|| ProviderError::Unsupported {
                provider: self.name.clone(),
            })
    }

    pub(crate) fn adapter(&self) -> &dyn ProviderAdapter {
        self.adapter.as_ref()
    }

    /// Runs `attempt` with one key after another (round-robin) until it gives
    /// an answer: a key the provider rejects leaves the rotation, a
    /// rate-limited one rests. A provider whose keys are optional and that
    /// has none is tried once with no key.
    pub(crate) async fn rotate_keys<T, F, Fut>(&self, mut attempt: F) -> Result<T, ProviderError>
    where
        F: FnMut(Option<Secret>, Option<String>) -> Fut,
        Fut: Future<Output = Result<KeyOutcome<T>, ProviderError>>,
    {
        let no_usable_key = || ProviderError::NoUsableKey {
            provider: self.name.clone(),
        };
        if self.keys.is_empty() && self.adapter.keys_optional() {
            return match attempt(None, None).await? {
                KeyOutcome::Answer(answer) => Ok(answer),
                _ => Err(no_usable_key()),
            };
        }
        let mut tried = Vec::new();
        loop {
            let lease = match self.keys.pick(&tried) {
                Ok(lease) => lease,
                Err(PickError::NoUsableKey) => return Err(no_usable_key()),
                Err(PickError::AllResting { retry_after }) => {
                    return Err(ProviderError::RateLimited {
                        provider: self.name.clone(),
                        retry_after,
                    });
                }
            };
            tried.push(lease.index);
            let index = lease.index;
            match attempt(Some(lease.secret.clone()), Some(lease.id.to_string())).await? {
                KeyOutcome::Answer(answer) => return Ok(answer),
                KeyOutcome::Rejected { status } => self.keys.reject(index, status),
                KeyOutcome::RateLimited { rest } => self.keys.rest(index, rest),
            }
        }
    }

    /// Counts one upstream call (an HTTP request or a socket handshake).
    pub(crate) fn record_upstream_call(&self, status: String, took: Duration) {
        let labels = [("provider", self.name.clone()), ("status", status)];
        metrics::counter!("airlock_upstream_requests_total", &labels).increment(1);
        metrics::histogram!("airlock_upstream_duration_seconds", &labels)
            .record(took.as_secs_f64());
    }

    async fn attempt(
        &self,
        sent: &Sent<'_, '_>,
        body: Option<Bytes>,
        key: Option<&Secret>,
    ) -> Result<http::Response<Incoming>, ProviderError> {
        let outgoing = Outgoing {
            method: sent.call.method(),
            uri: sent.uri,
            headers: sent.headers,
            body,
            key: key.map(|key| self.adapter.key_header(key)),
        };
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(sent.first_byte, self.http.send(&outgoing)).await;
        let status = match &result {
            Ok(Ok(response)) => response.status().as_str().to_string(),
            _ => "error".to_string(),
        };
        self.record_upstream_call(status, started.elapsed());
        match result {
            Err(_) => Err(self.timed_out(TimeoutKind::FirstByte, sent.first_byte)),
            Ok(Err(error)) => {
                let timed_out = is_timeout(&error);
                // hyper's errors carry neither the URL nor the headers, so no
                // key; the causes say what failed (refused, DNS, TLS).
                let cause = with_causes(&error);
                tracing::warn!(provider = %self.name, error = %cause, "upstream request failed");
                Err(if timed_out && error.is_connect() {
                    self.timed_out(TimeoutKind::Connect, self.timeouts.connect)
                } else if timed_out {
                    self.timed_out(TimeoutKind::FirstByte, sent.first_byte)
                } else {
                    self.unreachable_because(cause);
                    ProviderError::Unreachable {
                        provider: self.name.clone(),
                    }
                })
            }
            Ok(Ok(response)) => {
                self.answered();
                Ok(response)
            }
        }
    }

    /// The error for an answer whose body broke off.
    pub fn broke_off(&self) -> ProviderError {
        ProviderError::BrokeOff {
            provider: self.name.clone(),
        }
    }

    /// The error for a call whose `kind` limit of `after` ran out.
    pub fn timed_out(&self, kind: TimeoutKind, after: Duration) -> ProviderError {
        ProviderError::Timeout {
            provider: self.name.clone(),
            kind,
            after,
        }
    }

    async fn finish(
        response: http::Response<Incoming>,
        key_id: Option<String>,
    ) -> UpstreamResponse {
        let (parts, body) = response.into_parts();
        let status = parts.status;
        let headers = parts.headers;
        let body = if status.is_success() {
            UpstreamBody::Streaming(body)
        } else {
            UpstreamBody::Complete(read_error_body(body).await)
        };
        UpstreamResponse {
            status,
            headers,
            body,
            key_id,
        }
    }
}

async fn read_error_body(mut answer: Incoming) -> Bytes {
    let mut body = Vec::new();
    while let Some(Ok(frame)) = answer.frame().await {
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        let room = MAX_ERROR_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_ERROR_BODY {
            break;
        }
    }
    Bytes::from(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A host that accepts connections and never answers: a TLS handshake
    /// with it never ends.
    async fn silent_host() -> (Url, TcpListener) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/v1", listener.local_addr().unwrap());
        (url.parse().unwrap(), listener)
    }

    #[tokio::test]
    async fn a_connection_not_made_in_time_is_a_connect_timeout_naming_its_limit() {
        let (base_url, _listener) = silent_host().await;
        let timeouts = Timeouts {
            connect: Duration::from_millis(200),
            ..Timeouts::waiting(Duration::from_secs(20))
        };
        let provider = Provider::new(
            "slow",
            ProviderKind::Openai,
            base_url,
            vec![Secret::new("k")],
            &HttpClient::new(),
            timeouts,
        );
        let started = std::time::Instant::now();
        let call = UpstreamCall::OpenAiPost {
            path: "chat/completions",
        };
        let error = provider
            .send(&call, Some(Bytes::from_static(b"{}")), &HeaderMap::new())
            .await
            .err()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not the first-byte limit"
        );
        assert!(
            matches!(
                error,
                ProviderError::Timeout {
                    kind: TimeoutKind::Connect,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "provider slow did not answer within its connect timeout (0.2 s)"
        );
    }
}
