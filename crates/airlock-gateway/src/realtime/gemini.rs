//! Gemini Live (`BidiGenerateContent`): the handshake, the setup that names
//! the model, and the dialect that reads usage, transcriptions and tool calls.
//!
//! Field names are accepted in both proto3 JSON forms (`client_content` and
//! `clientContent`), as Google accepts them. Protocol errors close the
//! socket with 1007 and a Google-style reason, as Google does.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::time::Duration;

use airlock_providers::realtime::{Handshake, UpstreamSocket};
use airlock_providers::usage::Usage;
use airlock_providers::{Protocol, UpstreamCall};
use axum::Extension;
use axum::extract::{Request, State};
use axum::response::Response;
use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::pump::{ClientVerdict, Delivery, Dialect, UpstreamVerdict};
use super::session::{Notes, Session, Speaker};
use super::tools::{ServerTools, ToolAnswer, ToolCall};
use super::upgrade::{ClientSocket, ClientUpgrade};
use super::{
    Ending, Mentions, client_socket_config, connect_upstream, end_early, open_slot, relay_session,
};
use crate::admission::RequestCost;
use crate::context::RequestContext;
use crate::error::{ApiError, Surface};
use crate::exchange::Exchange;
use crate::state::AppState;

/// The client messages after setup, in both spellings.
const CLIENT_MESSAGES: [&str; 6] = [
    "clientContent",
    "client_content",
    "realtimeInput",
    "realtime_input",
    "toolResponse",
    "tool_response",
];

/// How audio chunks begin as clients send them: google-genai (Python's
/// `json.dumps` spacing, snake_case) and compact JSON in both spellings.
const AUDIO_PREFIXES: [&[u8]; 4] = [
    br#"{"realtime_input": {"audio": "#,
    br#"{"realtimeInput": {"audio": "#,
    br#"{"realtimeInput":{"audio":"#,
    br#"{"realtime_input":{"audio":"#,
];

/// `GET /ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent[Constrained]`.
pub async fn connect(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    mut request: Request,
    version: &'static str,
) -> Response {
    let upgrade = match ClientUpgrade::from_request(&mut request) {
        Ok(upgrade) => upgrade,
        Err(problem) => return bad_handshake(problem),
    };
    let slot = match open_slot(&state, &context).await {
        Ok(slot) => slot,
        Err(error) => return error.into_response_for(Surface::Gemini),
    };
    let config = client_socket_config(&state.config().realtime.policy);
    upgrade.accept(None, config, move |client| async move {
        let exchange = Exchange::begin(&state, &context, Surface::Gemini, "bidiGenerateContent");
        let session = Session::new(&state, &context, "gemini_live", exchange, slot);
        run(state, session, client, version).await;
    })
}

fn bad_handshake(problem: &str) -> Response {
    ApiError::BadRequest {
        message: problem.to_string(),
        param: None,
    }
    .into_response_for(Surface::Gemini)
}

/// Waits for the setup, routes its model, opens the provider's socket,
/// sends it the setup, then relays.
async fn run(state: AppState, mut session: Session, mut client: ClientSocket, version: &str) {
    let policy = &state.config().realtime.policy;
    let setup = match read_setup(&mut client, policy.idle_timeout, policy.max_frame_bytes).await {
        Ok(setup) => setup,
        Err(ending) => return end_early(client, session, ending).await,
    };
    session.traffic.frames_in += 1;
    session.traffic.bytes_in += setup.size as u64;
    let cost = RequestCost {
        body_len: setup.size,
        max_output: None,
    };
    let exchange = session.exchange();
    let admitted = match exchange.authorize(&setup.model) {
        Ok(route) => exchange.admit_or_wait(&route, cost).await.map(|()| route),
        Err(error) => Err(error),
    };
    let route = match admitted {
        Ok(route) if route.provider.protocol() == Protocol::Gemini => route,
        Ok(_) => {
            let detail = format!(
                "models/{} is not served over Gemini Live by this gateway",
                setup.model
            );
            return end_early(client, session, Ending::Refused { detail }).await;
        }
        Err(error) => {
            return end_early(
                client,
                session,
                Ending::Refused {
                    detail: error.to_string(),
                },
            )
            .await;
        }
    };
    let call = UpstreamCall::GeminiLive { version };
    let detail = match connect_upstream(&route.provider, &call, session.exchange(), &[]).await {
        Ok(Handshake::Open { socket, key_id, .. }) => {
            session.exchange().set_key(key_id);
            return send_setup(
                state,
                session,
                client,
                socket,
                setup.for_upstream(&route.upstream_model),
            )
            .await;
        }
        Ok(Handshake::Refused {
            status,
            body,
            key_id,
        }) => {
            session.exchange().set_key(key_id);
            provider_message(status, &body)
        }
        Err(error) => error.to_string(),
    };
    end_early(client, session, Ending::UpstreamError { detail }).await;
}

/// Gives the provider the setup, then relays.
async fn send_setup(
    state: AppState,
    session: Session,
    client: ClientSocket,
    mut upstream: Box<UpstreamSocket>,
    setup_frame: Message,
) {
    if futures_util::SinkExt::send(&mut upstream, setup_frame)
        .await
        .is_err()
    {
        let ending = Ending::UpstreamError {
            detail: "the provider's connection was lost".into(),
        };
        return end_early(client, session, ending).await;
    }
    let mut dialect = GeminiDialect::default();
    relay_session(&state, session, client, upstream, &mut dialect).await;
}

/// The provider's error text from a refused handshake (Google's JSON error
/// body, or the status).
fn provider_message(status: http::StatusCode, body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|value| value["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("the provider answered {}", status.as_u16()))
}

/// The client's first message.
pub(crate) struct Setup {
    message: Value,
    pub(crate) model: String,
    size: usize,
}

impl Setup {
    /// The setup as the provider gets it: the routed model's name.
    pub(crate) fn for_upstream(mut self, upstream_model: &str) -> Message {
        if let Some(setup) = self.message.get_mut("setup").and_then(Value::as_object_mut) {
            setup.insert(
                "model".into(),
                Value::String(format!("models/{upstream_model}")),
            );
        }
        Message::text(self.message.to_string())
    }
}

async fn read_setup(
    client: &mut ClientSocket,
    idle: Duration,
    limit: usize,
) -> Result<Setup, Ending> {
    let message = loop {
        match tokio::time::timeout(idle, client.next()).await {
            Err(_) => return Err(Ending::IdleTimeout),
            Ok(Some(Err(WsError::Capacity(_)))) => {
                return Err(Ending::FrameTooLarge { limit });
            }
            Ok(None | Some(Err(_))) => return Err(Ending::ClientGone),
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(Ending::ClientClosed {
                    code: frame.map_or(1005, |f| u16::from(f.code)),
                });
            }
            Ok(Some(Ok(Message::Text(text)))) => break text.as_bytes().to_vec(),
            Ok(Some(Ok(Message::Binary(bytes)))) => break bytes.to_vec(),
            Ok(Some(Ok(_))) => continue,
        }
    };
    parse_setup(&message)
}

/// Reads the client's first message: `{"setup": {...}}` naming a model.
pub(crate) fn parse_setup(message: &[u8]) -> Result<Setup, Ending> {
    let invalid = |detail: &str| Ending::InvalidMessage {
        detail: detail.to_string(),
    };
    let size = message.len();
    let value: Value = serde_json::from_slice(message)
        .map_err(|_| invalid("Invalid JSON payload received: the message is not JSON."))?;
    let object = value.as_object().ok_or_else(|| {
        invalid("Invalid JSON payload received: the message must be a JSON object.")
    })?;
    let Some(setup) = object.get("setup") else {
        return Err(invalid("The first message must be `setup`."));
    };
    if object.len() > 1 {
        return Err(invalid("The setup message must hold `setup` only."));
    }
    let model = setup
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("setup.model is required."))?;
    let model = model.strip_prefix("models/").unwrap_or(model).to_string();
    if model.is_empty() {
        return Err(invalid("setup.model is required."));
    }
    Ok(Setup {
        message: value,
        model,
        size,
    })
}

/// What the relay keeps of a Gemini Live session.
#[derive(Default)]
pub(crate) struct GeminiDialect {
    /// Calls Airlock answers itself: the client's answers to them are dropped.
    answered_here: HashSet<String>,
}

impl Dialect for GeminiDialect {
    fn client_frame(&mut self, data: &[u8], _session: &mut dyn Notes) -> ClientVerdict {
        // Audio chunks, most of the traffic, pass on their first bytes: the
        // provider checks the rest, as it would without Airlock.
        if AUDIO_PREFIXES.iter().any(|prefix| data.starts_with(prefix)) {
            return ClientVerdict::Forward;
        }
        let Ok(fields) = serde_json::from_slice::<HashMap<Cow<'_, str>, IgnoredAny>>(data) else {
            return ClientVerdict::Close(Ending::InvalidMessage {
                detail: "Invalid JSON payload received: the message is not a JSON object.".into(),
            });
        };
        let mut names = fields.keys();
        let (Some(name), None) = (names.next(), names.next()) else {
            return ClientVerdict::Close(Ending::InvalidMessage {
                detail:
                    "A message must hold exactly one of clientContent, realtimeInput, toolResponse."
                        .into(),
            });
        };
        if name == "setup" {
            return ClientVerdict::Close(Ending::InvalidMessage {
                detail: "setup may be sent only once, as the first message.".into(),
            });
        }
        if !CLIENT_MESSAGES.contains(&name.as_ref()) {
            return ClientVerdict::Close(Ending::InvalidMessage {
                detail: format!(
                    "Invalid JSON payload received. Unknown name \"{name}\": Cannot find field."
                ),
            });
        }
        if name.starts_with("tool") && !self.answered_here.is_empty() {
            return self.drop_answered(data);
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
        // Provider frames are Google's: anything unreadable is relayed unread.
        let Ok(message) = serde_json::from_slice::<ServerMessage>(data) else {
            return verdict;
        };
        if let Some(usage) = message.usage_metadata {
            session.add_usage(usage.into());
        }
        if let Some(content) = message.server_content {
            if let Some(text) = content.input_transcription.and_then(|t| t.text) {
                session.transcribe(Speaker::User, &text);
            }
            if let Some(text) = content.output_transcription.and_then(|t| t.text) {
                session.transcribe(Speaker::Model, &text);
            }
        }
        if let Some(tool_call) = message.tool_call {
            for call in tool_call.function_calls {
                let (Some(id), Some(name)) = (call.id, call.name) else {
                    continue;
                };
                if tools.find(session.project_name(), &name).is_some() {
                    self.answered_here.insert(id.clone());
                    verdict.tool_calls.push(ToolCall {
                        id,
                        name,
                        arguments: call.args.unwrap_or_else(|| json!({})),
                    });
                }
            }
        }
        verdict
    }

    fn tool_answer(&mut self, answer: &ToolAnswer) -> Delivery {
        let response = json!({
            "id": answer.call.id,
            "name": answer.call.name,
            "response": answer.response,
        });
        let to_provider = json!({"toolResponse": {"functionResponses": [response]}});
        // The client sees the answer as a function-response part, which the
        // SDKs parse and audio/text readers skip.
        let to_client = json!({"serverContent": {"modelTurn": {
            "role": "user",
            "parts": [{"functionResponse": response}],
        }}});
        Delivery {
            to_upstream: vec![Message::text(to_provider.to_string())],
            to_client: vec![Message::text(to_client.to_string())],
        }
    }

    fn go_away(&self, time_left: Duration) -> Option<Message> {
        let seconds = format!("{:.3}s", time_left.as_secs_f64());
        Some(Message::text(
            json!({"goAway": {"timeLeft": seconds}}).to_string(),
        ))
    }

    fn error_event(&self, _ending: &Ending) -> Option<Message> {
        // Gemini Live reports errors in the close frame's reason only.
        None
    }

    fn closed_for_quota(&self, code: u16, reason: &str) -> bool {
        code == INTERNAL_ERROR && says_quota(reason)
    }
}

/// The close code Live gives every error it has no other code for
/// (RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE, ABORTED...).
const INTERNAL_ERROR: u16 = 1011;

/// Whether a close reason is Google's RESOURCE_EXHAUSTED: "You exceeded
/// your current quota, please check your plan and billing details...", or
/// the canonical "Resource has been exhausted (e.g. check quota).".
fn says_quota(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    ["quota", "resource_exhausted", "resource has been exhausted"]
        .iter()
        .any(|words| reason.contains(words))
}

impl GeminiDialect {
    /// Removes the client's answers to calls Airlock already answered.
    fn drop_answered(&mut self, data: &[u8]) -> ClientVerdict {
        let Ok(mut message) = serde_json::from_slice::<Value>(data) else {
            return ClientVerdict::Forward;
        };
        let Some(body) = message
            .as_object_mut()
            .and_then(|object| object.values_mut().next())
        else {
            return ClientVerdict::Forward;
        };
        let name = if body.get("functionResponses").is_some() {
            "functionResponses"
        } else {
            "function_responses"
        };
        let Some(responses) = body.get_mut(name).and_then(Value::as_array_mut) else {
            return ClientVerdict::Forward;
        };
        let before = responses.len();
        responses.retain(|response| {
            let id = response.get("id").and_then(Value::as_str);
            !id.is_some_and(|id| self.answered_here.remove(id))
        });
        match (before, responses.len()) {
            (before, after) if before == after => ClientVerdict::Forward,
            (_, 0) => ClientVerdict::Drop,
            _ => ClientVerdict::Replace(Message::text(message.to_string())),
        }
    }
}

/// Whether a provider frame may hold what the relay reads (usage,
/// transcriptions, tool calls). Audio chunks, most of the traffic, are relayed
/// without being parsed; a chunk whose base64 happens to spell a name is
/// parsed and found to hold nothing, which is harmless.
fn worth_reading(data: &[u8]) -> bool {
    static NAMES: LazyLock<Mentions> =
        LazyLock::new(|| Mentions::new(&["usageMetadata", "Transcription", "toolCall"]));
    NAMES.any_in(data)
}

/// The parts of a server message the relay reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerMessage {
    usage_metadata: Option<LiveUsage>,
    server_content: Option<ServerContent>,
    tool_call: Option<LiveToolCall>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiveUsage {
    prompt_token_count: Option<u64>,
    response_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
}

impl From<LiveUsage> for Usage {
    fn from(usage: LiveUsage) -> Self {
        let output = match (usage.response_token_count, usage.thoughts_token_count) {
            (None, None) => None,
            (response, thoughts) => {
                Some(response.unwrap_or(0).saturating_add(thoughts.unwrap_or(0)))
            }
        };
        Usage {
            input: usage.prompt_token_count,
            output,
            ..Usage::default()
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerContent {
    input_transcription: Option<Transcription>,
    output_transcription: Option<Transcription>,
}

#[derive(Deserialize)]
struct Transcription {
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiveToolCall {
    #[serde(default)]
    function_calls: Vec<LiveFunctionCall>,
}

#[derive(Deserialize)]
struct LiveFunctionCall {
    id: Option<String>,
    name: Option<String>,
    args: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_chunks_are_not_parsed_but_usage_and_calls_are() {
        let audio = br#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAAA"}}]}}}"#;
        assert!(!worth_reading(audio));
        assert!(worth_reading(
            br#"{"usageMetadata":{"promptTokenCount":3}}"#
        ));
        assert!(worth_reading(
            br#"{"serverContent":{"outputTranscription":{"text":"hi"}}}"#
        ));
        assert!(worth_reading(br#"{"toolCall":{"functionCalls":[]}}"#));
    }

    #[test]
    fn a_1011_close_for_quota_spends_the_key_and_others_do_not() {
        let dialect = GeminiDialect::default();
        for reason in [
            // Google's words, cut to a close frame's 123 bytes.
            "You exceeded your current quota, please check your plan and billing details. \
             For more information on this error, head to: h",
            "Resource has been exhausted (e.g. check quota).",
            "RESOURCE_EXHAUSTED",
        ] {
            assert!(dialect.closed_for_quota(1011, reason), "{reason}");
        }
        for (code, reason) in [
            (1011, "The operation was aborted."),
            (1011, "Internal error encountered."),
            (1011, ""),
            (1008, "You exceeded your current quota"),
            (1000, ""),
        ] {
            assert!(!dialect.closed_for_quota(code, reason), "{code} {reason}");
        }
    }

    #[test]
    fn usage_beyond_the_counters_saturates() {
        // A provider's counts that overflow when added panicked in debug
        // builds (found with the `realtime_frames` fuzz target).
        let usage: LiveUsage = serde_json::from_str(
            r#"{"responseTokenCount":18446744073709551615,"thoughtsTokenCount":1}"#,
        )
        .unwrap();
        assert_eq!(Usage::from(usage).output, Some(u64::MAX));
    }
}
