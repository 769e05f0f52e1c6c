//! The server side of the WebSocket handshake (RFC 6455, over HTTP/1.1).
//!
//! Done here rather than through axum's extractor so that the client socket
//! is a tungstenite stream like the provider's: a frame then moves from one
//! side to the other as it is, never converted or re-validated.

use std::future::Future;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// The client's socket once upgraded.
pub type ClientSocket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A valid upgrade request, not yet answered.
pub struct ClientUpgrade {
    on_upgrade: OnUpgrade,
    accept_key: String,
}

impl ClientUpgrade {
    /// Checks the handshake headers; the error says what is wrong with them.
    pub fn from_request(request: &mut http::Request<Body>) -> Result<Self, &'static str> {
        let headers = request.headers();
        if request.method() != http::Method::GET {
            return Err("a WebSocket handshake is a GET request");
        }
        if !header_has_token(headers, header::CONNECTION, "upgrade")
            || !header_has_token(headers, header::UPGRADE, "websocket")
        {
            return Err(
                "this endpoint speaks WebSocket only: send `Connection: Upgrade` and `Upgrade: websocket`",
            );
        }
        if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
            return Err("unsupported WebSocket version: send `Sec-WebSocket-Version: 13`");
        }
        let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
            return Err("the WebSocket handshake has no `Sec-WebSocket-Key`");
        };
        let accept_key = derive_accept_key(key.as_bytes());
        let on_upgrade = request
            .extensions_mut()
            .remove::<OnUpgrade>()
            .ok_or("this connection cannot be upgraded (WebSocket needs HTTP/1.1)")?;
        Ok(ClientUpgrade {
            on_upgrade,
            accept_key,
        })
    }

    /// Answers `101 Switching Protocols` (with `protocol` as the chosen
    /// subprotocol, if any) and runs `session` on the socket once the
    /// connection is handed over.
    pub fn accept<F, Fut>(
        self,
        protocol: Option<HeaderValue>,
        config: WebSocketConfig,
        session: F,
    ) -> Response
    where
        F: FnOnce(ClientSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let socket = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        Role::Server,
                        Some(config),
                    )
                    .await;
                    session(socket).await;
                }
                Err(error) => tracing::debug!(%error, "WebSocket upgrade did not complete"),
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&self.accept_key) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        if let Some(protocol) = protocol {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        response
    }
}

/// The subprotocols a client offered, in order.
pub fn offered_protocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|protocol| !protocol.is_empty())
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> http::Request<Body> {
        let mut builder = http::Request::get("/ws");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn refuses_plain_requests_and_wrong_versions() {
        let error = ClientUpgrade::from_request(&mut request(&[]))
            .err()
            .unwrap();
        assert!(error.contains("WebSocket only"));
        let mut wrong_version = request(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "8"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        let error = ClientUpgrade::from_request(&mut wrong_version)
            .err()
            .unwrap();
        assert!(error.contains("version"));
    }

    #[test]
    fn lists_offered_subprotocols() {
        let request = request(&[(
            "sec-websocket-protocol",
            "realtime, openai-insecure-api-key.k1,openai-beta.realtime-v1",
        )]);
        let offered: Vec<&str> = offered_protocols(request.headers()).collect();
        assert_eq!(
            offered,
            [
                "realtime",
                "openai-insecure-api-key.k1",
                "openai-beta.realtime-v1"
            ]
        );
    }
}
