//! OpenAI Realtime (`/v1/realtime?model=`): the handshake, and the dialect
//! that reads usage, transcripts and function calls, and tells the key pool
//! when the provider says the session's key is out of quota (a response
//! that failed with `insufficient_quota` or `rate_limit_exceeded`, or an
//! `error` event with one of those codes).
//!
//! The model is in the URL, so everything is settled before the client's
//! upgrade is accepted: refusals (an unknown model, a limit, the provider's
//! own refusal) are plain HTTP errors in OpenAI's shape. Browsers send their
//! key in the `openai-insecure-api-key.` subprotocol; the GA and beta
//! interfaces both pass (the beta one is asked for with `OpenAI-Beta:
//! realtime=v1` or the `openai-beta.realtime-v1` subprotocol).

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::Duration;

use airlock_providers::realtime::Handshake;
use airlock_providers::usage::Usage;
use airlock_providers::{Protocol, UpstreamCall};
use axum::Extension;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::pump::{ClientVerdict, Delivery, Dialect, UpstreamVerdict};
use super::session::{Notes, Session, Speaker};
use super::tools::{ServerTools, ToolAnswer, ToolCall};
use super::upgrade::{ClientUpgrade, offered_protocols};
use super::{Ending, Mentions, client_socket_config, connect_upstream, open_slot, relay_session};
use crate::admission::RequestCost;
use crate::auth::KEY_SUBPROTOCOL_PREFIX;
use crate::context::RequestContext;
use crate::error::{ApiError, Surface};
use crate::exchange::Exchange;
use crate::state::AppState;

const BETA_SUBPROTOCOL: &str = "openai-beta.realtime-v1";

/// `GET /v1/realtime?model=...`.
pub async fn connect(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    mut request: Request,
) -> Response {
    match open(state, context, &mut request).await {
        Ok(response) => response,
        Err(error) => error.into_response_for(Surface::OpenAi),
    }
}

async fn open(
    state: AppState,
    context: RequestContext,
    request: &mut Request,
) -> Result<Response, ApiError> {
    let upgrade = ClientUpgrade::from_request(request).map_err(|problem| ApiError::BadRequest {
        message: problem.to_string(),
        param: None,
    })?;
    let model = requested_model(request.uri().query()).ok_or_else(|| ApiError::BadRequest {
        message: "Missing required parameter: 'model'.".into(),
        param: Some("model".into()),
    })?;
    let slot = open_slot(&state, &context).await?;
    let mut exchange = Exchange::begin(&state, &context, Surface::OpenAi, "realtime");
    let cost = RequestCost {
        body_len: 0,
        max_output: None,
    };
    let route = exchange.authorize(&model)?;
    exchange.admit_or_wait(&route, cost).await?;
    if route.provider.protocol() != Protocol::OpenAi {
        return Err(ApiError::WrongSurface {
            model,
            protocol: "Gemini",
        });
    }
    let beta = wants_beta(request.headers());
    let beta_header = [(
        HeaderName::from_static("openai-beta"),
        HeaderValue::from_static("realtime=v1"),
    )];
    let extra: &[_] = if beta { &beta_header } else { &[] };
    let call = UpstreamCall::OpenAiRealtime {
        model: &route.upstream_model,
    };
    let (socket, key_id, offered_back) =
        match connect_upstream(&route.provider, &call, &exchange, extra).await? {
            Handshake::Open {
                socket,
                key_id,
                protocol,
            } => (socket, key_id, protocol),
            Handshake::Refused {
                status,
                body,
                key_id,
            } => {
                exchange.set_key(key_id);
                let headers = [(http::header::CONTENT_TYPE, "application/json")];
                exchange
                    .finish(status.as_u16(), crate::exchange::Outcome::Error)
                    .await;
                return Ok((status, headers, body).into_response());
            }
        };
    exchange.set_key(key_id);
    let protocol = chosen_protocol(request.headers()).or(offered_back);
    let session = Session::new(&state, &context, "openai_realtime", exchange, slot);
    let config = client_socket_config(&state.config().realtime.policy);
    Ok(upgrade.accept(protocol, config, move |client| async move {
        let mut dialect = OpenAiDialect::default();
        relay_session(&state, session, client, socket, &mut dialect).await;
    }))
}

fn requested_model(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "model")
        .map(|(_, value)| value.into_owned())
        .filter(|model| !model.is_empty())
}

fn wants_beta(headers: &HeaderMap) -> bool {
    let header = headers
        .get("openai-beta")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("realtime=v1"));
    header || offered_protocols(headers).any(|protocol| protocol == BETA_SUBPROTOCOL)
}

/// The subprotocol answered to a browser: `realtime` when offered (a browser
/// fails the connection unless one it offered is chosen), never the key.
fn chosen_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let offered: Vec<&str> = offered_protocols(headers).collect();
    let chosen = offered
        .iter()
        .find(|protocol| **protocol == "realtime")
        .or_else(|| {
            offered
                .iter()
                .find(|protocol| !protocol.starts_with(KEY_SUBPROTOCOL_PREFIX))
        })?;
    HeaderValue::from_str(chosen).ok()
}

/// What the relay keeps of an OpenAI Realtime session.
#[derive(Default)]
pub(crate) struct OpenAiDialect {
    /// Calls Airlock answers itself: the client's outputs for them are dropped.
    answered_here: HashSet<String>,
    /// A response is being generated: `response.create` must wait for its end.
    response_active: bool,
    /// A tool's answer arrived during a response: ask for the next one after.
    respond_after: bool,
}

/// The parts of a client event the relay reads.
#[derive(Deserialize)]
struct ClientEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    item: Option<ClientItem>,
}

#[derive(Deserialize)]
struct ClientItem {
    #[serde(rename = "type")]
    kind: Option<String>,
    call_id: Option<String>,
}

/// The parts of a server event the relay reads.
#[derive(Deserialize)]
struct ServerEvent {
    #[serde(rename = "type")]
    kind: String,
    response: Option<ResponseBody>,
    /// An `error` event's error (read loosely: any shape is relayed).
    error: Option<Value>,
    transcript: Option<String>,
    text: Option<String>,
    call_id: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct ResponseBody {
    usage: Option<ResponseUsage>,
    /// Why a `failed` response failed: `{"type": "failed", "error": {...}}`.
    status_details: Option<Value>,
}

/// The error codes (or types) OpenAI gives a key out of quota or over its
/// rate limits.
const QUOTA_CODES: [&str; 2] = ["insufficient_quota", "rate_limit_exceeded"];

/// Whether an OpenAI error object says its key is out of quota.
fn says_quota(error: Option<&Value>) -> bool {
    error.is_some_and(|error| {
        ["code", "type"]
            .iter()
            .filter_map(|field| error[field].as_str())
            .any(|code| QUOTA_CODES.contains(&code))
    })
}

#[derive(Deserialize)]
struct ResponseUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

impl Dialect for OpenAiDialect {
    fn client_frame(&mut self, data: &[u8], _session: &mut dyn Notes) -> ClientVerdict {
        let event = match serde_json::from_slice::<ClientEvent<'_>>(data) {
            Ok(event) => event,
            Err(_) => {
                return ClientVerdict::Reply(error_event(
                    "invalid_request_error",
                    "invalid_json",
                    "The event is not a JSON object.",
                ));
            }
        };
        if event.kind.is_none() {
            return ClientVerdict::Reply(error_event(
                "invalid_request_error",
                "missing_required_parameter",
                "Missing required parameter: 'type'.",
            ));
        }
        let answered_here = event.item.as_ref().is_some_and(|item| {
            item.kind.as_deref() == Some("function_call_output")
                && item
                    .call_id
                    .as_deref()
                    .is_some_and(|id| self.answered_here.contains(id))
        });
        if answered_here {
            return ClientVerdict::Drop;
        }
        ClientVerdict::Forward
    }

    fn upstream_frame(
        &mut self,
        data: &[u8],
        session: &mut dyn Notes,
        tools: &ServerTools,
    ) -> UpstreamVerdict {
        let mut verdict = UpstreamVerdict::default();
        if !worth_reading(data) {
            return verdict;
        }
        let Ok(event) = serde_json::from_slice::<ServerEvent>(data) else {
            return verdict;
        };
        match event.kind.as_str() {
            "response.created" => self.response_active = true,
            "error" if says_quota(event.error.as_ref()) => session.quota_spent(),
            "response.done" => {
                self.response_active = false;
                let response = event.response;
                let details = response.as_ref().and_then(|r| r.status_details.as_ref());
                if says_quota(details.map(|details| &details["error"])) {
                    session.quota_spent();
                }
                if let Some(usage) = response.and_then(|r| r.usage) {
                    session.add_usage(Usage {
                        input: usage.input_tokens,
                        output: usage.output_tokens,
                        ..Usage::default()
                    });
                }
                if std::mem::take(&mut self.respond_after) {
                    verdict.to_upstream.push(response_create());
                }
            }
            "conversation.item.input_audio_transcription.completed" => {
                if let Some(text) = &event.transcript {
                    session.transcribe(Speaker::User, text);
                }
            }
            "response.output_audio_transcript.done" | "response.audio_transcript.done" => {
                if let Some(text) = &event.transcript {
                    session.transcribe(Speaker::Model, text);
                }
            }
            "response.output_text.done" | "response.text.done" => {
                if let Some(text) = &event.text {
                    session.transcribe(Speaker::Model, text);
                }
            }
            "response.function_call_arguments.done" => {
                if let (Some(id), Some(name)) = (event.call_id, event.name)
                    && tools.find(session.project_name(), &name).is_some()
                {
                    let arguments = event
                        .arguments
                        .and_then(|text| serde_json::from_str(&text).ok())
                        .unwrap_or_else(|| json!({}));
                    self.answered_here.insert(id.clone());
                    verdict.tool_calls.push(ToolCall {
                        id,
                        name,
                        arguments,
                    });
                }
            }
            _ => {}
        }
        verdict
    }

    fn tool_answer(&mut self, answer: &ToolAnswer) -> Delivery {
        let output = json!({
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": answer.call.id,
                "output": answer.response.to_string(),
            },
        });
        // The provider echoes the item (`conversation.item.created`/`added`):
        // that is how the client sees the answer.
        let mut to_upstream = vec![Message::text(output.to_string())];
        if self.response_active {
            self.respond_after = true;
        } else {
            to_upstream.push(response_create());
        }
        Delivery {
            to_upstream,
            to_client: Vec::new(),
        }
    }

    fn go_away(&self, _time_left: Duration) -> Option<Message> {
        // OpenAI Realtime has no such notice: the close comes at the deadline.
        None
    }

    fn error_event(&self, ending: &Ending) -> Option<Message> {
        let kind = match ending {
            Ending::UpstreamError { .. } => "server_error",
            _ => "invalid_request_error",
        };
        Some(error_event(kind, ending.name(), &ending.reason()))
    }

    fn closed_for_quota(&self, _code: u16, _reason: &str) -> bool {
        // OpenAI says so in events, read in `upstream_frame`.
        false
    }
}

/// Whether a provider event is one the relay reads. Audio deltas, most of
/// the traffic, are relayed without being parsed: the event names hold `.`,
/// which base64 audio never does, so a delta is never mistaken for one.
fn worth_reading(data: &[u8]) -> bool {
    static EVENTS: LazyLock<Mentions> = LazyLock::new(|| {
        Mentions::new(&[
            "response.created",
            "response.done",
            "transcription.completed",
            "transcript.done",
            "text.done",
            "function_call_arguments.done",
            "insufficient_quota",
            "rate_limit_exceeded",
        ])
    });
    EVENTS.any_in(data)
}

fn response_create() -> Message {
    Message::text(json!({"type": "response.create"}).to_string())
}

/// An `error` event as OpenAI sends them.
fn error_event(kind: &str, code: &str, message: &str) -> Message {
    let event = json!({
        "type": "error",
        "event_id": format!("event_airlock_{}", uuid::Uuid::new_v4().simple()),
        "error": {
            "type": kind,
            "code": code,
            "message": message,
            "param": Value::Null,
            "event_id": Value::Null,
        },
    });
    Message::text(event.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(protocols: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(protocols).unwrap(),
        );
        headers
    }

    #[test]
    fn the_key_subprotocol_is_never_chosen() {
        let chosen = chosen_protocol(&headers("openai-insecure-api-key.sk-1, realtime"));
        assert_eq!(chosen.unwrap(), "realtime");
        assert_eq!(
            chosen_protocol(&headers("openai-insecure-api-key.sk-1")),
            None
        );
        assert!(wants_beta(&headers("realtime, openai-beta.realtime-v1")));
        assert!(!wants_beta(&headers("realtime")));
    }

    #[test]
    fn audio_deltas_are_not_parsed_but_the_events_read_are() {
        let delta = br#"{"type":"response.output_audio.delta","event_id":"e","delta":"AAAA+/9="}"#;
        assert!(!worth_reading(delta));
        assert!(worth_reading(br#"{"type":"response.done","response":{}}"#));
        assert!(worth_reading(
            br#"{"type":"response.output_audio_transcript.done","transcript":"hi"}"#
        ));
        assert!(worth_reading(
            br#"{"type":"response.function_call_arguments.done","call_id":"c"}"#
        ));
    }

    #[test]
    fn a_response_failed_for_quota_spends_the_key() {
        let tools = ServerTools::new(Vec::new()).unwrap();
        let spent = |event: Value| {
            let mut noted = crate::fuzzing::Noted::default();
            let data = event.to_string();
            assert!(worth_reading(data.as_bytes()), "{event}");
            OpenAiDialect::default().upstream_frame(data.as_bytes(), &mut noted, &tools);
            noted.quota_spent
        };
        // OpenAI's words when the account's quota is spent.
        let failed = |error: Value| {
            json!({"type": "response.done", "event_id": "event_1", "response": {
                "object": "realtime.response", "id": "resp_1", "status": "failed",
                "status_details": {"type": "failed", "error": error},
                "output": [], "usage": {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0},
            }})
        };
        assert!(spent(failed(json!({
            "type": "insufficient_quota", "code": "insufficient_quota",
            "message": "You exceeded your current quota, please check your plan and billing details.",
        }))));
        assert!(spent(failed(json!({
            "type": "invalid_request_error", "code": "rate_limit_exceeded", "message": "Rate limit reached.",
        }))));
        assert!(spent(
            json!({"type": "error", "event_id": "event_2", "error": {
                "type": "insufficient_quota", "code": "insufficient_quota", "message": "...", "param": null,
            }})
        ));
        // Other failures are the request's or the server's, not the key's.
        assert!(!spent(failed(json!({
            "type": "server_error", "code": null, "message": "The server had an error.",
        }))));
        assert!(!spent(
            json!({"type": "response.done", "response": {"status": "completed"}})
        ));
    }

    #[test]
    fn the_model_comes_from_the_query() {
        assert_eq!(
            requested_model(Some("model=gpt-realtime&x=1")).as_deref(),
            Some("gpt-realtime")
        );
        assert_eq!(requested_model(Some("model=")), None);
        assert_eq!(requested_model(None), None);
    }
}
