//! OpenAI Realtime over WebSocket: `GET /v1/realtime?model=NAME`, in the
//! GA interface or, with `OpenAI-Beta: realtime=v1` (or the
//! `openai-beta.realtime-v1` subprotocol), the beta one.
//!
//! The key comes from `Authorization: Bearer`, or for browsers from the
//! subprotocol list (`realtime, openai-insecure-api-key.KEY`; the answer
//! selects `realtime`). The key rules, faults, a missing or unknown model
//! and a request that is not a WebSocket handshake are all refused before
//! the upgrade, with OpenAI's HTTP error body. Once open, the session
//! starts with `session.created`, and mistakes are `error` events that
//! leave the socket open.

mod dialect;
mod events;
mod params;
mod response;
mod session;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{FromRequestParts, Request, State};
use axum::response::Response;
use http::request::Parts;

use self::dialect::Dialect;
use crate::delivery::{self, Payload};
use crate::duplex::{self, Outbox};
use crate::gate::{self, Provider};
use crate::openai::catalog::{self, Kind, OpenAiModel};
use crate::openai::errors::{self, ApiError};
use crate::server::MockServer;
use crate::socket;

const BROWSER_KEY_PREFIX: &str = "openai-insecure-api-key.";
const BETA_PROTOCOL: &str = "openai-beta.realtime-v1";

/// The subprotocols the client offered.
fn protocols(parts: &Parts) -> Vec<String> {
    parts
        .headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .collect()
}

fn dialect(parts: &Parts, protocols: &[String]) -> Dialect {
    let beta_header = parts
        .headers
        .get_all("openai-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|p| p.trim() == "realtime=v1"));
    if beta_header || protocols.iter().any(|p| p == BETA_PROTOCOL) {
        Dialect::Beta
    } else {
        Dialect::Ga
    }
}

/// The checks after the key's: a handshake, and a realtime model.
fn accept(
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    model: Option<&str>,
) -> Result<(WebSocketUpgrade, &'static OpenAiModel), Payload> {
    let Ok(upgrade) = upgrade else {
        return Err(errors::invalid_request(
            "The Realtime API is served over WebSocket: send a WebSocket handshake (Connection: Upgrade, Upgrade: websocket).",
            None,
            None,
        ));
    };
    let Some(name) = model.filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid(
            "Missing required parameter: 'model'.",
            Some("model"),
            Some("missing_required_parameter"),
        )
        .payload());
    };
    match catalog::find(name) {
        Some(model) if model.kind == Kind::Realtime => Ok((upgrade, model)),
        _ => Err(errors::model_not_found(name)),
    }
}

/// `GET /v1/realtime`.
pub async fn route(State(server): State<MockServer>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let offered = protocols(&parts);
    let dialect = dialect(&parts, &offered);
    let key = gate::api_key(Provider::OpenAi, &parts).or_else(|| {
        offered
            .iter()
            .find_map(|p| p.strip_prefix(BROWSER_KEY_PREFIX))
            .map(str::to_owned)
    });
    let (admitted, refused) = gate::judge(
        &server,
        gate::Provider::OpenAi,
        key.as_deref(),
        &parts.headers,
    );
    if let Some(refused) = refused {
        let payload = gate::refusal_payload(
            Provider::OpenAi,
            &refused,
            key.as_deref().unwrap_or(""),
            &parts,
        );
        return delivery::render(payload, admitted.plan).await;
    }
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &()).await;
    let model = gate::query_pairs(&parts.uri)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "model")
        .map(|(_, v)| v);
    let (upgrade, model) = match accept(upgrade, model.as_deref()) {
        Ok(accepted) => accepted,
        Err(payload) => return delivery::render(payload, admitted.plan).await,
    };
    if let Some(wait) = admitted.plan.slow_headers {
        tokio::time::sleep(wait).await;
    }
    let plan = admitted.plan;
    let mut session = session::Session::new(server, model, dialect, admitted.serial, plan.go_away);
    socket::limited(upgrade)
        .protocols(["realtime"])
        .on_upgrade(move |ws| async move {
            let mut out = Outbox::new(&plan);
            session.open(&mut out);
            duplex::run(ws, &mut session, out).await;
        })
}
