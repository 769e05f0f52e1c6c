//! The realtime relay: Gemini Live and OpenAI Realtime over WebSocket.
//!
//! A client opens a socket at the provider's own path; Airlock
//! authenticates it like any request, routes the model (aliases included),
//! opens the provider's socket with a pool key, and relays frames both ways
//! as they arrive (`pump`). Each protocol's `Dialect` reads what the gateway
//! needs (setup, usage, transcriptions, tool calls) without re-encoding what
//! it relays. Sessions run under limits (`policy`), are counted for the
//! concurrency limits and the shutdown drain (`registry`), call server-side
//! tools (`tools`), and end with a record (`session`) and a documented close
//! code (`ending`). `docs/realtime.md` is the user's guide.

pub(crate) mod config;
mod ending;
pub(crate) mod gemini;
pub(crate) mod openai;
mod policy;
pub(crate) mod pump;
mod registry;
pub(crate) mod session;
mod shared_counts;
pub(crate) mod tools;
pub(crate) mod upgrade;

use std::time::Duration;

use airlock_providers::realtime::{Handshake, UpstreamSocket};
use airlock_providers::{Provider, UpstreamCall};
use axum::extract::{Request, State};
use axum::routing::get;
use axum::{Extension, Router};
use http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub use config::RealtimeConfig;
pub use ending::Ending;
pub use policy::RealtimePolicy;
pub use registry::Sessions;
pub use shared_counts::SharedSessionCounts;
pub use tools::{ServerTool, ServerTools};

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::exchange::Exchange;
use crate::limits::Refusal;
use crate::realtime::pump::{Dialect, Relay};
use crate::realtime::registry::{OpenRefusal, SessionSlot};
use crate::realtime::session::Session;
use crate::realtime::upgrade::ClientSocket;
use crate::state::AppState;

/// The socket paths, on the API router (behind authentication).
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    let mut router = router.route("/v1/realtime", get(openai::connect));
    for version in crate::surface::gemini::VERSIONS {
        for method in ["BidiGenerateContent", "BidiGenerateContentConstrained"] {
            let path =
                format!("/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}");
            router = router.route(
                &path,
                get(
                    move |state: State<AppState>,
                          context: Extension<RequestContext>,
                          request: Request| {
                        gemini::connect(state, context, request, version)
                    },
                ),
            );
        }
    }
    router
}

/// Names whose presence makes a provider frame worth parsing: the relay
/// skips the audio chunks that are most of the traffic with a fast scan.
struct Mentions(Vec<memchr::memmem::Finder<'static>>);

impl Mentions {
    fn new(names: &[&'static str]) -> Self {
        Mentions(
            names
                .iter()
                .map(|name| memchr::memmem::Finder::new(*name))
                .collect(),
        )
    }

    fn any_in(&self, data: &[u8]) -> bool {
        self.0.iter().any(|name| name.find(data).is_some())
    }
}

/// Each socket's read buffer: one read takes a 100 ms audio chunk (about
/// 4.3 KB in, 6.5 KB out at 24 kHz) whole, and an idle session holds two.
const SOCKET_BUFFER_BYTES: usize = 8 * 1024;
/// The largest frame accepted from a provider.
const MAX_UPSTREAM_FRAME_BYTES: usize = 64 * 1024 * 1024;

fn socket_config(max_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes))
}

fn client_socket_config(policy: &RealtimePolicy) -> WebSocketConfig {
    socket_config(policy.max_frame_bytes)
}

fn upstream_socket_config() -> WebSocketConfig {
    socket_config(MAX_UPSTREAM_FRAME_BYTES)
}

/// Takes the session's place among the open ones, or refuses it before the
/// upgrade (429 over a concurrency limit, 503 while shutting down).
async fn open_slot(state: &AppState, context: &RequestContext) -> Result<SessionSlot, ApiError> {
    let config = &state.config().realtime;
    let grant = context.principal.grant();
    config
        .sessions
        .open(
            grant,
            context.end_user.as_deref(),
            config.policy.max_sessions_per_key,
            config.policy.max_sessions_per_project,
        )
        .await
        .map_err(|refusal| match refusal {
            OpenRefusal::Draining => ApiError::ShuttingDown,
            OpenRefusal::Unavailable => ApiError::SharedStateUnavailable,
            OpenRefusal::TooMany { scope, .. } => ApiError::LimitExceeded(Box::new(Refusal {
                scope,
                limit: "concurrent realtime sessions",
                retry_after: Duration::from_secs(1),
                headers: Vec::new(),
            })),
        })
}

/// Opens the provider's socket for `call`, with the exchange's trace
/// headers (and `extra_headers`). No answer at all is an `ApiError`.
async fn connect_upstream(
    provider: &Provider,
    call: &UpstreamCall<'_>,
    exchange: &Exchange,
    extra_headers: &[(http::HeaderName, HeaderValue)],
) -> Result<Handshake, ApiError> {
    let mut headers = exchange.upstream_headers();
    for (name, value) in extra_headers {
        headers.insert(name.clone(), value.clone());
    }
    Ok(provider
        .connect_realtime(call, &headers, upstream_socket_config())
        .await?)
}

/// Relays a set-up session until it ends, then writes its record.
async fn relay_session(
    state: &AppState,
    mut session: Session,
    mut client: ClientSocket,
    mut upstream: Box<UpstreamSocket>,
    dialect: &mut dyn Dialect,
) {
    let config = &state.config().realtime;
    let relay = Relay {
        policy: &config.policy,
        tools: &config.tools,
        drain: config.sessions.drain_signal(),
        erase: session.erase_signal(),
    };
    let ending = pump::run(relay, &mut client, &mut upstream, dialect, &mut session).await;
    session.finish(&ending);
}

/// Ends a session that never reached its provider: the client gets the
/// close code and reason, and the record says why.
async fn end_early(mut client: ClientSocket, session: Session, ending: Ending) {
    pump::close_client(&mut client, None, &ending).await;
    session.finish(&ending);
}
