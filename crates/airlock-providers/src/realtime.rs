//! Realtime upstreams: a provider's WebSocket (Gemini Live, OpenAI Realtime)
//! opened with a pool key on the handshake.
//!
//! The handshake is where a key is judged: a provider that answers it with
//! HTTP 401/403 (or Google's `API_KEY_INVALID`) or 429 instead of upgrading
//! moves the session on to the next key, exactly as the HTTP send loop does.
//! Everything said inside the socket is the gateway's business.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use url::Url;

use crate::Secret;
use crate::TimeoutKind;
use crate::adapter::UpstreamCall;
use crate::provider::{KeyOutcome, Provider, ProviderError};

/// A provider's socket, TLS or not.
pub type UpstreamSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a realtime handshake ended.
pub enum Handshake {
    /// The provider upgraded: relay away.
    Open {
        /// Boxed: a TLS socket's state is large.
        socket: Box<UpstreamSocket>,
        /// The pool key used (`openai#0`), if any.
        key_id: Option<String>,
        /// The subprotocol the provider chose, if any.
        protocol: Option<HeaderValue>,
    },
    /// The provider answered with an error about the request (not the key),
    /// e.g. an unknown model: the caller hands it to the client.
    Refused {
        status: StatusCode,
        body: Bytes,
        key_id: Option<String>,
    },
}

impl Provider {
    /// Opens the provider's socket for `call` (a `GeminiLive` or
    /// `OpenAiRealtime` call), trying keys in turn. `headers` go on the
    /// handshake as they are (trace context, `OpenAI-Beta`); the key is added
    /// by the adapter. The handshake is bounded by the header timeout.
    pub async fn connect_realtime(
        &self,
        call: &UpstreamCall<'_>,
        headers: &HeaderMap,
        config: WebSocketConfig,
    ) -> Result<Handshake, ProviderError> {
        let url = &socket_url(self.url(call)?);
        self.rotate_keys(|key, key_id| async move {
            self.handshake(url, headers, config, key.as_ref(), key_id)
                .await
        })
        .await
    }

    async fn handshake(
        &self,
        url: &Url,
        headers: &HeaderMap,
        config: WebSocketConfig,
        key: Option<&Secret>,
        key_id: Option<String>,
    ) -> Result<KeyOutcome<Handshake>, ProviderError> {
        let unreachable = || ProviderError::Unreachable {
            provider: self.name().to_string(),
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|_| unreachable())?;
        let outgoing = request.headers_mut();
        for (name, value) in headers {
            outgoing.insert(name, value.clone());
        }
        outgoing.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("airlock/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(key) = key {
            let (name, value) = self.adapter().key_header(key);
            outgoing.insert(name, value);
        }
        let connector = tls_connector().ok_or_else(unreachable)?;
        let started = Instant::now();
        let connecting = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            Some(connector),
        );
        let result = tokio::time::timeout(self.header_timeout(), connecting).await;
        let took = started.elapsed();
        let Ok(result) = result else {
            self.record_upstream_call("error".into(), took);
            return Err(self.timed_out(TimeoutKind::FirstByte, self.header_timeout()));
        };
        match result {
            Ok((socket, response)) => {
                self.record_upstream_call("101".into(), took);
                self.answered();
                let protocol = response
                    .headers()
                    .get(http::header::SEC_WEBSOCKET_PROTOCOL)
                    .cloned();
                Ok(KeyOutcome::Answer(Handshake::Open {
                    socket: Box::new(socket),
                    key_id,
                    protocol,
                }))
            }
            Err(tungstenite::Error::Http(response)) => {
                self.answered();
                let status = response.status();
                self.record_upstream_call(status.as_str().to_string(), took);
                let body = Bytes::from(response.body().clone().unwrap_or_default());
                let answer = || Handshake::Refused {
                    status,
                    body: body.clone(),
                    key_id,
                };
                if key.is_none() {
                    return Ok(KeyOutcome::Answer(answer()));
                }
                let verdict = self.adapter().judge_key(status, &body);
                let rest = self.adapter().retry_after(response.headers(), &body);
                Ok(KeyOutcome::judged(verdict, status, rest, answer))
            }
            Err(error) => {
                self.record_upstream_call("error".into(), took);
                // tungstenite's errors name the URL at most, never headers.
                let cause = crate::reachability::with_causes(&error);
                tracing::warn!(provider = %self.name(), error = %cause, "realtime upstream handshake failed");
                self.unreachable_because(cause);
                Err(unreachable())
            }
        }
    }
}

/// The `ws`/`wss` form of an `http`/`https` URL.
fn socket_url(mut url: Url) -> Url {
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    // Both are special schemes, so the change is always accepted.
    let _ = url.set_scheme(scheme);
    url
}

/// rustls with the platform's roots, shared by every realtime connection;
/// `None` (logged once) when the platform's verifier cannot be built.
fn tls_connector() -> Option<Connector> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        crate::install_crypto_provider();
        use rustls_platform_verifier::ConfigVerifierExt;
        match rustls::ClientConfig::with_platform_verifier() {
            Ok(config) => Some(Arc::new(config)),
            Err(error) => {
                tracing::error!(%error, "no TLS certificate verifier: realtime upstreams over TLS are unavailable");
                None
            }
        }
    });
    config.clone().map(Connector::Rustls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_urls_keep_host_path_and_query() {
        let url = socket_url(Url::parse("https://api.openai.com/v1/realtime?model=m").unwrap());
        assert_eq!(url.as_str(), "wss://api.openai.com/v1/realtime?model=m");
        let url = socket_url(Url::parse("http://127.0.0.1:9/ws/x").unwrap());
        assert_eq!(url.as_str(), "ws://127.0.0.1:9/ws/x");
    }
}
