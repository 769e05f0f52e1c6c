//! Gemini Live (`BidiGenerateContent`) over WebSocket, at
//! `/ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent`
//! and `...BidiGenerateContentConstrained` for `{v}` in v1, v1beta,
//! v1alpha.
//!
//! The key comes from `x-goog-api-key` or `?key=` (and, on the Constrained
//! method, `Authorization: Token ...`). Every session is counted like an
//! HTTP request. A refused session (key rules, `status`/`rate-limit`
//! faults) is upgraded and then closed the way Live closes it
//! ([`close::for_refusal`]); a request that is not a WebSocket handshake,
//! or carries a bad `x-mock-*` header, gets Google's HTTP 400 instead.
//! Server messages are JSON in binary frames, as Google sends them.

mod close;
mod conversation;
mod echo;
mod proto;
mod resume;
mod session;

pub use resume::Resumptions;

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::response::Response;
use http::request::Parts;
use serde_json::Value;

use crate::delivery;
use crate::duplex::{self, Outbox};
use crate::gate::{self, Provider, Refusal};
use crate::gemini::errors;
use crate::routes::{self, GEMINI_VERSIONS};
use crate::server::MockServer;
use crate::socket;

const NOT_A_WEBSOCKET: &str =
    "This method is only available over WebSocket (Connection: Upgrade, Upgrade: websocket).";

/// A server message as Live sends it: JSON in a binary frame.
fn frame(message: &Value) -> Message {
    Message::Binary(serde_json::to_vec(message).unwrap_or_default().into())
}

/// The `{v}` of a Live RPC name, and whether it is the Constrained method.
fn rpc(name: &str) -> Option<(&str, bool)> {
    let rest = name.strip_prefix("google.ai.generativelanguage.")?;
    let (version, method) = rest.split_once(".GenerativeService.")?;
    let constrained = match method {
        "BidiGenerateContent" => false,
        "BidiGenerateContentConstrained" => true,
        _ => return None,
    };
    GEMINI_VERSIONS
        .contains(&version)
        .then_some((version, constrained))
}

fn api_key(parts: &Parts, constrained: bool) -> Option<String> {
    let token = constrained
        .then(|| {
            let header = parts
                .headers
                .get(http::header::AUTHORIZATION)?
                .to_str()
                .ok()?;
            let (scheme, token) = header.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("token")
                .then(|| token.trim().to_owned())
        })
        .flatten();
    token.or_else(|| gate::api_key(Provider::Gemini, parts))
}

/// `GET /ws/{rpc}`.
pub async fn route(
    State(server): State<MockServer>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let Some((version, constrained)) = rpc(&name) else {
        return routes::unknown(State(server), request).await;
    };
    let version = version.to_owned();
    let (mut parts, _) = request.into_parts();
    let key = api_key(&parts, constrained);
    let (admitted, refusal) = gate::judge(
        &server,
        gate::Provider::Gemini,
        key.as_deref(),
        &parts.headers,
    );
    // Not a handshake, or a broken test header: an HTTP answer.
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) if !matches!(refusal, Some(Refusal::BadOverride(_))) => upgrade,
        _ => {
            let payload = match &refusal {
                Some(r) => {
                    gate::refusal_payload(Provider::Gemini, r, key.as_deref().unwrap_or(""), &parts)
                }
                None => errors::invalid_argument(NOT_A_WEBSOCKET),
            };
            return delivery::render(payload, admitted.plan).await;
        }
    };
    if let Some(wait) = admitted.plan.slow_headers {
        tokio::time::sleep(wait).await;
    }
    socket::limited(upgrade).on_upgrade(move |ws| async move {
        if let Some(refusal) = refusal {
            let close = close::for_refusal(&refusal, &name);
            return socket::close(ws, close.code, &close.reason).await;
        }
        let plan = admitted.plan;
        let mut session = session::Session::new(server, version, admitted.serial, plan.go_away);
        duplex::run(ws, &mut session, Outbox::new(&plan)).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_names() {
        assert_eq!(
            rpc("google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"),
            Some(("v1beta", false))
        );
        assert_eq!(
            rpc(
                "google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
            ),
            Some(("v1alpha", true))
        );
        assert_eq!(
            rpc("google.ai.generativelanguage.v2.GenerativeService.BidiGenerateContent"),
            None
        );
        assert_eq!(
            rpc("google.ai.generativelanguage.v1.GenerativeService.GenerateContent"),
            None
        );
    }
}
