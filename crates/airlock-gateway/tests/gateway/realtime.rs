//! The realtime relay end to end: clients through the gateway to the
//! simulator's Gemini Live and OpenAI Realtime, with the session records,
//! limits, server-side tools and the shutdown drain.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_gateway::realtime::{RealtimePolicy, ServerTool};
use common::live::{self, LIVE_MODEL, REALTIME_MODEL};
use common::{Counting, Harness, MASTER_KEY, Setup};
use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

// Sessions per key and project, counted in memory and in Redis.
crate::in_memory_and_in_redis!(
    concurrent_sessions_per_key_are_limited_before_the_upgrade,
    sessions_per_project_are_limited_before_the_upgrade_and_other_projects_are_not,
);

fn policy(change: impl FnOnce(&mut RealtimePolicy)) -> Setup {
    let mut realtime = RealtimePolicy::default();
    change(&mut realtime);
    Setup {
        realtime,
        ..Setup::default()
    }
}

#[tokio::test]
async fn gemini_text_turn_is_relayed_and_recorded() {
    let harness = Harness::with(Setup {
        routes: vec![("voice", "gemini", Some(LIVE_MODEL))],
        ..Setup::default()
    })
    .await;
    // An alias: the provider is set up with the model the route names.
    let mut socket = live::gemini_session(&harness, "voice", "TEXT").await;
    live::send(&mut socket, &live::user_turn("Tell me a story")).await;
    let turn = live::read_until(&mut socket, live::turn_complete).await;
    assert!(!live::model_text(&turn).is_empty());
    let prompt_tokens = turn
        .iter()
        .find_map(|m| m["usageMetadata"]["promptTokenCount"].as_i64())
        .expect("the turn reports its usage");
    let goodbye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    socket.close(Some(goodbye)).await.unwrap();
    // The gateway answers the close (the close handshake completes).
    assert_eq!(live::closed(&mut socket).await.0, 1000);

    let sessions = live::sessions(&harness.store, 1).await;
    let session = &sessions[0];
    assert_eq!(session.surface, "gemini_live");
    assert_eq!(session.model.as_deref(), Some("voice"));
    assert_eq!(session.upstream_model.as_deref(), Some(LIVE_MODEL));
    assert_eq!(session.provider.as_deref(), Some("gemini"));
    assert_eq!(session.key_id.as_deref(), Some("gemini#0"));
    assert_eq!(session.close_reason, "client_closed");
    assert_eq!(session.close_code, 1000);
    assert_eq!(session.frames_in, 2, "setup and one turn");
    assert!(
        session.frames_out as usize > turn.len(),
        "setupComplete and the turn"
    );
    assert!(session.bytes_out > session.bytes_in);
    assert_eq!(session.tokens_in, Some(prompt_tokens));
    assert!(session.tokens_out.unwrap() > 0);
    assert!(session.cost_usd.unwrap() > 0.0);
    // The session is one request-log record too, so spend and budgets count it.
    let store = harness.store.clone();
    let records = harness.stop().await;
    let record = records
        .iter()
        .find(|r| r.operation == "bidiGenerateContent")
        .expect("a request-log record");
    assert_eq!(record.status, 101);
    assert_eq!(record.tokens_in, Some(prompt_tokens));
    drop(store);
}

#[tokio::test]
async fn gemini_audio_turn_keeps_transcripts_retrievable_by_admin() {
    let harness = Harness::start().await;
    let mut socket = live::gemini(&harness).await;
    let setup = json!({"setup": {
        "model": format!("models/{LIVE_MODEL}"),
        "generation_config": {"response_modalities": ["AUDIO"]},
        "input_audio_transcription": {},
        "output_audio_transcription": {},
    }});
    live::send(&mut socket, &setup).await;
    assert!(
        live::next_json(&mut socket)
            .await
            .get("setupComplete")
            .is_some()
    );
    // 100 ms of speech, then the end of the audio stream, in snake_case and
    // as a binary frame, as clients may send it.
    let speech: Vec<u8> = (0..1600u16)
        .flat_map(|i| (i.wrapping_mul(37) as i16).to_le_bytes())
        .collect();
    let chunk = json!({"realtime_input": {"audio": {
        "data": base64_encode(&speech),
        "mime_type": "audio/pcm;rate=16000",
    }}});
    socket
        .send(Message::binary(chunk.to_string().into_bytes()))
        .await
        .unwrap();
    live::send(
        &mut socket,
        &json!({"realtime_input": {"audio_stream_end": true}}),
    )
    .await;
    let turn = live::read_until(&mut socket, live::turn_complete).await;
    let audio = turn
        .iter()
        .filter_map(|m| m["serverContent"]["modelTurn"]["parts"].as_array())
        .flatten()
        .filter(|part| part["inlineData"]["mimeType"] == "audio/pcm;rate=24000")
        .count();
    assert!(audio > 0, "{turn:?}");
    let said: String = turn
        .iter()
        .filter_map(|m| m["serverContent"]["outputTranscription"]["text"].as_str())
        .collect();
    let heard: String = turn
        .iter()
        .filter_map(|m| m["serverContent"]["inputTranscription"]["text"].as_str())
        .collect();
    assert!(!said.is_empty() && !heard.is_empty());
    socket.close(None).await.unwrap();

    let id = live::sessions(&harness.store, 1).await[0].id.clone();
    let response = harness
        .http
        .get(harness.url(&format!("/admin/v1/realtime/sessions/{id}")))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let record: Value = response.json().await.unwrap();
    let transcript = record["transcript"].as_array().unwrap();
    assert_eq!(transcript[0]["role"], "user");
    assert_eq!(transcript[0]["text"], heard.as_str());
    assert_eq!(transcript[1]["role"], "model");
    assert_eq!(transcript[1]["text"], said.as_str());
    let listing: Value = harness
        .http
        .get(harness.url("/admin/v1/realtime/sessions?limit=10"))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing["data"][0]["id"], id.as_str());
    assert_eq!(listing["data"][0]["transcript"], json!([]));
    let missing = harness
        .http
        .get(harness.url("/admin/v1/realtime/sessions/nope"))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn gemini_protocol_errors_close_with_1007_and_are_recorded() {
    let harness = Harness::start().await;
    let setup = live::setup(LIVE_MODEL, "TEXT");
    let cases: Vec<(Vec<Message>, &str)> = vec![
        (vec![Message::text("not json")], "not JSON"),
        (
            vec![Message::text(live::user_turn("hi").to_string())],
            "first message must be `setup`",
        ),
        (
            vec![
                Message::text(setup.to_string()),
                Message::text(setup.to_string()),
            ],
            "setup may be sent only once",
        ),
        (
            vec![
                Message::text(setup.to_string()),
                Message::text(json!({"mystery": {}}).to_string()),
            ],
            "Unknown name \"mystery\"",
        ),
        (
            vec![
                Message::text(setup.to_string()),
                Message::text("[1, 2]".to_string()),
            ],
            "not a JSON object",
        ),
    ];
    let count = cases.len();
    for (messages, expected) in cases {
        let mut socket = live::gemini(&harness).await;
        for message in messages {
            socket.send(message).await.unwrap();
        }
        let (code, reason) = live::closed(&mut socket).await;
        assert_eq!(code, 1007, "{reason}");
        assert!(reason.contains(expected), "{reason} lacks {expected}");
    }
    let sessions = live::sessions(&harness.store, count).await;
    assert!(
        sessions
            .iter()
            .all(|s| s.close_reason == "invalid_message" && s.close_code == 1007)
    );
}

#[tokio::test]
async fn model_scope_and_unknown_models_are_refused_after_setup() {
    let harness = Harness::start().await;
    let mut socket = live::gemini(&harness).await;
    live::send(&mut socket, &live::setup("no-such-model-anywhere", "TEXT")).await;
    let (code, reason) = live::closed(&mut socket).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("no-such-model-anywhere"), "{reason}");
    let sessions = live::sessions(&harness.store, 1).await;
    assert_eq!(sessions[0].close_reason, "refused");
}

#[tokio::test]
async fn a_provider_refusal_reaches_the_client_with_its_close_code() {
    let harness = Harness::start().await;
    let mut socket = live::gemini(&harness).await;
    // A Gemini model the simulator does not serve over Live.
    live::send(&mut socket, &live::setup("gemini-2.5-pro", "TEXT")).await;
    let (code, reason) = live::closed(&mut socket).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("bidiGenerateContent"), "{reason}");
    let sessions = live::sessions(&harness.store, 1).await;
    assert_eq!(sessions[0].close_reason, "upstream_closed");
}

#[tokio::test]
async fn frame_size_message_rate_and_idle_limits_close_with_their_codes() {
    let harness = Harness::with(policy(|p| {
        p.max_frame_bytes = 2048;
        p.max_messages_per_sec = Some(5);
        p.idle_timeout = Duration::from_millis(400);
    }))
    .await;
    let mut socket = live::gemini_session(&harness, LIVE_MODEL, "TEXT").await;
    let big = live::user_turn(&"x".repeat(4096));
    live::send(&mut socket, &big).await;
    assert_eq!(live::closed(&mut socket).await.0, 1009);

    let mut socket = live::gemini_session(&harness, LIVE_MODEL, "TEXT").await;
    let partial = json!({"clientContent": {
        "turns": [{"role": "user", "parts": [{"text": "and"}]}],
        "turnComplete": false,
    }});
    // Past the burst (two seconds of the rate) at once.
    for _ in 0..20 {
        if socket
            .send(Message::text(partial.to_string()))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(live::closed(&mut socket).await.0, 4002);

    let mut socket = live::gemini_session(&harness, LIVE_MODEL, "TEXT").await;
    let (code, reason) = live::closed(&mut socket).await;
    assert_eq!((code, reason.as_str()), (4001, "session idle for too long"));

    let sessions = live::sessions(&harness.store, 3).await;
    let reasons: Vec<&str> = sessions.iter().map(|s| s.close_reason.as_str()).collect();
    assert_eq!(reasons, ["idle_timeout", "message_rate", "frame_too_large"]);
}

#[tokio::test]
async fn a_session_at_its_maximum_length_is_told_to_go_away_then_closed() {
    let harness = Harness::with(policy(|p| p.max_session = Duration::from_millis(600))).await;
    let mut socket = live::gemini(&harness).await;
    live::send(&mut socket, &live::setup(LIVE_MODEL, "TEXT")).await;
    // The notice comes as soon as the relay starts: before or after setupComplete.
    let messages = live::read_until(&mut socket, |m| m.get("goAway").is_some()).await;
    let time_left = messages.last().unwrap()["goAway"]["timeLeft"]
        .as_str()
        .unwrap();
    assert!(time_left.ends_with('s'));
    assert_eq!(live::closed(&mut socket).await.0, 4000);
}

async fn concurrent_sessions_per_key_are_limited_before_the_upgrade(counting: Counting) {
    let harness = Harness::with(
        counting
            .setup(policy(|p| p.max_sessions_per_key = Some(1)))
            .await,
    )
    .await;
    let key = common::project_key(
        &harness,
        "voice",
        Default::default(),
        Default::default(),
        None,
    )
    .await;
    let headers = [("x-goog-api-key", key.as_str())];
    let first = live::open(&harness, &live::live_path("v1"), &headers)
        .await
        .expect("the first session opens");
    let refused = live::open(&harness, &live::live_path("v1"), &headers)
        .await
        .expect_err("the second is refused");
    assert_eq!(refused.0, 429);
    assert!(
        refused.1.contains("concurrent realtime sessions"),
        "{}",
        refused.1
    );
    drop(first);
}

/// The drain of the shutdown tests: long enough for a whole turn to be
/// relayed inside it on a loaded machine.
const DRAIN: Duration = Duration::from_secs(5);

/// A gateway with the shutdown tests' drain, on a store in `dir`, which the
/// test keeps: the harness it stops no longer holds it.
async fn draining_harness(dir: &tempfile::TempDir) -> Harness {
    let store = airlock_store::Store::open_data_dir(dir.path())
        .await
        .unwrap();
    Harness::with(Setup {
        store: Some(store),
        ..policy(|p| p.drain = DRAIN)
    })
    .await
}

#[tokio::test]
async fn shutdown_tells_sessions_to_go_away_relays_through_the_drain_and_closes_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let harness = draining_harness(&dir).await;
    let mut socket = live::gemini_session(&harness, LIVE_MODEL, "TEXT").await;
    let sessions = harness.sessions.clone();
    let mut drain = sessions.drain_signal();
    let store = harness.store.clone();
    let stopping = tokio::spawn(harness.stop());
    let notice = live::next_json(&mut socket).await;
    let drain_ends = drain.wait_for(Option::is_some).await.unwrap().unwrap();
    let time_left: f64 = notice["goAway"]["timeLeft"]
        .as_str()
        .and_then(|t| t.strip_suffix('s')?.parse().ok())
        .unwrap_or_else(|| panic!("a goAway with the time left: {notice}"));
    assert!(
        time_left > 0.0 && time_left <= DRAIN.as_secs_f64(),
        "{notice}"
    );
    // After goAway the session goes on both ways: a whole turn is relayed.
    live::send(&mut socket, &live::user_turn("Tell me a story")).await;
    let turn = live::read_until(&mut socket, live::turn_complete).await;
    assert!(!live::model_text(&turn).is_empty());
    // It is closed when the drain ends, not before.
    let (code, reason) = live::closed(&mut socket).await;
    let closed_at = tokio::time::Instant::now();
    assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    assert!(
        closed_at >= drain_ends,
        "closed {:?} before the drain ended",
        drain_ends - closed_at
    );
    stopping.await.unwrap();
    assert_eq!(sessions.open_count(), 0);
    let session = &live::sessions(&store, 1).await[0];
    assert_eq!(session.close_reason, "shutdown");
    assert_eq!(session.close_code, 1001);
    assert_eq!(session.frames_in, 2, "setup and the turn sent in the drain");
}

#[tokio::test]
async fn shutdown_lets_openai_sessions_run_through_the_drain_then_closes_them() {
    let dir = tempfile::tempdir().unwrap();
    let harness = draining_harness(&dir).await;
    let path = format!("/v1/realtime?model={REALTIME_MODEL}");
    let bearer = format!("Bearer {MASTER_KEY}");
    let mut socket = live::open(&harness, &path, &[("authorization", &bearer)])
        .await
        .expect("upgraded");
    assert_eq!(
        live::next_json(&mut socket).await["type"],
        "session.created"
    );
    let sessions = harness.sessions.clone();
    let mut drain = sessions.drain_signal();
    let store = harness.store.clone();
    let stopping = tokio::spawn(harness.stop());
    let drain_ends = drain.wait_for(Option::is_some).await.unwrap().unwrap();
    // OpenAI Realtime has no goAway notice: during the drain the session
    // simply goes on both ways, and a whole response is relayed.
    live::send(
        &mut socket,
        &json!({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Hello there"}],
        }}),
    )
    .await;
    live::send(
        &mut socket,
        &json!({"type": "response.create", "response": {"output_modalities": ["text"]}}),
    )
    .await;
    let events = live::read_until(&mut socket, |e| e["type"] == "response.done").await;
    assert!(events.iter().all(|e| e["type"] != "error"), "{events:?}");
    assert_eq!(events.last().unwrap()["response"]["status"], "completed");
    // When the drain ends the client gets an error event naming the
    // shutdown, then the close.
    let error = live::next_json(&mut socket).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["error"]["code"], "shutdown", "{error}");
    let (code, _) = live::closed(&mut socket).await;
    let closed_at = tokio::time::Instant::now();
    assert_eq!(code, 1001);
    assert!(
        closed_at >= drain_ends,
        "closed {:?} before the drain ended",
        drain_ends - closed_at
    );
    stopping.await.unwrap();
    assert_eq!(sessions.open_count(), 0);
    let session = &live::sessions(&store, 1).await[0];
    assert_eq!(session.surface, "openai_realtime");
    assert_eq!(session.close_reason, "shutdown");
    assert_eq!(session.close_code, 1001);
    assert_eq!(session.frames_in, 2, "the item and the response request");
}

#[tokio::test]
async fn a_client_that_vanishes_ends_its_session() {
    let harness = Harness::start().await;
    let socket = live::gemini_session(&harness, LIVE_MODEL, "TEXT").await;
    drop(socket);
    let sessions = live::sessions(&harness.store, 1).await;
    assert_eq!(sessions[0].close_reason, "client_disconnected");
    assert_eq!(harness.sessions.open_count(), 0);
}

/// Each webhook call as received: its signature header and body.
type WebhookCalls = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A tool webhook that answers `{"status": "shipped"}` and keeps what it got.
async fn tool_webhook() -> (String, WebhookCalls) {
    use axum::routing::post;
    let calls: WebhookCalls = Arc::default();
    let seen = calls.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: http::HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let signature = headers["x-airlock-signature"].to_str().unwrap().to_string();
                seen.lock().unwrap().push((signature, body.to_vec()));
                axum::Json(json!({"status": "shipped"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, calls)
}

fn order_tool(url: &str) -> ServerTool {
    ServerTool {
        name: "lookup_order".into(),
        project: None,
        url: url.parse().unwrap(),
        secret: "tool-secret".into(),
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn gemini_server_side_tools_are_answered_by_their_webhook() {
    let (url, calls) = tool_webhook().await;
    let harness = Harness::with(Setup {
        realtime_tools: vec![order_tool(&url)],
        ..Setup::default()
    })
    .await;
    let mut socket = live::gemini(&harness).await;
    let setup = json!({"setup": {
        "model": format!("models/{LIVE_MODEL}"),
        "generationConfig": {"responseModalities": ["TEXT"]},
        "tools": [{"functionDeclarations": [{
            "name": "lookup_order",
            "description": "Find an order",
            "parameters": {"type": "OBJECT", "properties": {"order_id": {"type": "STRING"}}, "required": ["order_id"]},
        }]}],
    }});
    live::send(&mut socket, &setup).await;
    live::next_json(&mut socket).await;
    live::send(&mut socket, &live::user_turn("Please lookup_order for me")).await;
    let messages = live::read_until(&mut socket, live::turn_complete).await;
    let call = messages
        .iter()
        .find_map(|m| m["toolCall"]["functionCalls"][0].as_object())
        .expect("the client sees the call");
    let answer = messages
        .iter()
        .find_map(|m| m["serverContent"]["modelTurn"]["parts"][0]["functionResponse"].as_object())
        .expect("the client sees the answer");
    assert_eq!(answer["id"], call["id"]);
    assert_eq!(answer["response"], json!({"status": "shipped"}));
    assert!(
        !live::model_text(&messages).is_empty(),
        "the model answers after the tool"
    );
    socket.close(None).await.unwrap();

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (signature, body) = &calls[0];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(airlock_gateway::webhook::verify(
        "tool-secret",
        signature,
        body,
        now,
        60
    ));
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["name"], "lookup_order");
    assert_eq!(body["call_id"], call["id"]);
    assert_eq!(body["arguments"], call["args"]);
    let sessions = live::sessions(&harness.store, 1).await;
    assert_eq!((sessions[0].tool_calls, sessions[0].tool_failures), (1, 0));
    assert_eq!(body["session_id"], sessions[0].id.as_str());
}

#[tokio::test]
async fn a_failing_tool_webhook_gives_the_model_an_error_and_is_counted() {
    let harness = Harness::with(Setup {
        // Nothing listens there.
        realtime_tools: vec![order_tool("http://127.0.0.1:9/hook")],
        ..Setup::default()
    })
    .await;
    let mut socket = live::gemini(&harness).await;
    let setup = json!({"setup": {
        "model": format!("models/{LIVE_MODEL}"),
        "generationConfig": {"responseModalities": ["TEXT"]},
        "tools": [{"functionDeclarations": [{"name": "lookup_order", "description": "Find an order"}]}],
    }});
    live::send(&mut socket, &setup).await;
    live::next_json(&mut socket).await;
    live::send(&mut socket, &live::user_turn("lookup_order please")).await;
    let messages = live::read_until(&mut socket, live::turn_complete).await;
    let answer = messages
        .iter()
        .find_map(|m| m["serverContent"]["modelTurn"]["parts"][0]["functionResponse"].as_object())
        .expect("the client sees the failed answer");
    assert!(
        answer["response"]["error"]
            .as_str()
            .unwrap()
            .contains("could not be reached")
    );
    socket.close(None).await.unwrap();
    let sessions = live::sessions(&harness.store, 1).await;
    assert_eq!((sessions[0].tool_calls, sessions[0].tool_failures), (1, 1));
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn openai_text_turn_is_relayed_and_recorded() {
    let harness = Harness::start().await;
    let path = format!("/v1/realtime?model={REALTIME_MODEL}");
    let bearer = format!("Bearer {MASTER_KEY}");
    let mut socket = live::open(&harness, &path, &[("authorization", &bearer)])
        .await
        .expect("upgraded");
    assert_eq!(
        live::next_json(&mut socket).await["type"],
        "session.created"
    );
    live::send(
        &mut socket,
        &json!({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Hello there"}],
        }}),
    )
    .await;
    live::send(
        &mut socket,
        &json!({"type": "response.create", "response": {"output_modalities": ["text"]}}),
    )
    .await;
    let events = live::read_until(&mut socket, |e| e["type"] == "response.done").await;
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert!(!text.is_empty(), "{events:?}");
    let usage = &events.last().unwrap()["response"]["usage"];
    socket.close(None).await.unwrap();
    let sessions = live::sessions(&harness.store, 1).await;
    let session = &sessions[0];
    assert_eq!(session.surface, "openai_realtime");
    assert_eq!(session.tokens_in, usage["input_tokens"].as_i64());
    assert_eq!(session.tokens_out, usage["output_tokens"].as_i64());
    // Listings leave transcripts out; the session itself has it.
    let full = harness.store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(full.transcript.len(), 1);
    assert_eq!(full.transcript[0].role, "model");
    assert_eq!(full.transcript[0].text, text);
}

#[tokio::test]
async fn openai_browsers_authenticate_with_the_key_subprotocol() {
    let harness = Harness::start().await;
    let path = format!("/v1/realtime?model={REALTIME_MODEL}");
    let protocols =
        format!("realtime, openai-insecure-api-key.{MASTER_KEY}, openai-beta.realtime-v1");
    let mut socket = live::open(&harness, &path, &[("sec-websocket-protocol", &protocols)])
        .await
        .expect("the key in the subprotocol is accepted");
    assert_eq!(
        live::next_json(&mut socket).await["type"],
        "session.created"
    );
    // The beta interface was asked for: its event names come back.
    live::send(
        &mut socket,
        &json!({"type": "response.create", "response": {"modalities": ["text"]}}),
    )
    .await;
    let events = live::read_until(&mut socket, |e| e["type"] == "response.done").await;
    assert!(
        events.iter().any(|e| e["type"] == "response.text.delta"),
        "{events:?}"
    );
    let wrong = format!("realtime, openai-insecure-api-key.not-{MASTER_KEY}");
    let refused = live::open(&harness, &path, &[("sec-websocket-protocol", &wrong)])
        .await
        .err()
        .unwrap();
    assert_eq!(refused.0, 401);
}

#[tokio::test]
async fn openai_refusals_are_http_errors_before_the_upgrade() {
    let harness = Harness::start().await;
    let bearer = format!("Bearer {MASTER_KEY}");
    let auth = [("authorization", bearer.as_str())];
    let (status, body) = live::open(&harness, "/v1/realtime?model=gpt-nonexistent-9", &auth)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("gpt-nonexistent-9"));
    let (status, body) = live::open(&harness, "/v1/realtime", &auth)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("'model'"), "{body}");
    let plain = harness
        .http
        .get(harness.url("/v1/realtime?model=gpt-realtime"))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    assert!(plain.text().await.unwrap().contains("WebSocket"));
}

#[tokio::test]
async fn openai_bad_events_get_error_events_and_the_session_goes_on() {
    let harness = Harness::start().await;
    let bearer = format!("Bearer {MASTER_KEY}");
    let path = format!("/v1/realtime?model={REALTIME_MODEL}");
    let mut socket = live::open(&harness, &path, &[("authorization", &bearer)])
        .await
        .unwrap();
    live::next_json(&mut socket).await;
    socket.send(Message::text("{not json")).await.unwrap();
    let error = live::next_json(&mut socket).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["code"], "invalid_json");
    live::send(&mut socket, &json!({"type": "no.such.event"})).await;
    let error = live::next_json(&mut socket).await;
    assert_eq!(error["type"], "error", "the provider's own error event");
    live::send(&mut socket, &json!({"type": "response.create"})).await;
    let events = live::read_until(&mut socket, |e| e["type"] == "response.done").await;
    assert_eq!(events.last().unwrap()["response"]["status"], "completed");
}

#[tokio::test]
async fn openai_server_side_tools_are_answered_and_the_response_continues() {
    let (url, calls) = tool_webhook().await;
    let harness = Harness::with(Setup {
        realtime_tools: vec![order_tool(&url)],
        ..Setup::default()
    })
    .await;
    let bearer = format!("Bearer {MASTER_KEY}");
    let path = format!("/v1/realtime?model={REALTIME_MODEL}");
    let mut socket = live::open(&harness, &path, &[("authorization", &bearer)])
        .await
        .unwrap();
    live::next_json(&mut socket).await;
    live::send(
        &mut socket,
        &json!({"type": "session.update", "session": {"type": "realtime", "tools": [{
            "type": "function", "name": "lookup_order", "description": "Find an order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        }]}}),
    )
    .await;
    live::send(
        &mut socket,
        &json!({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "lookup_order 42 please"}],
        }}),
    )
    .await;
    live::send(&mut socket, &json!({"type": "response.create"})).await;
    // The call's response, then the provider's echo of Airlock's answer, then
    // the next response (asked for by Airlock) with the model's reply.
    let events = live::read_until(&mut socket, |e| {
        e["type"] == "response.done" && e["response"]["output"][0]["type"] == "message"
    })
    .await;
    let call = events
        .iter()
        .find(|e| e["type"] == "response.function_call_arguments.done")
        .expect("the client sees the call");
    let echoed = events
        .iter()
        .find(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("conversation.item."))
                && e["item"]["type"] == "function_call_output"
        })
        .expect("the client sees the answer");
    assert_eq!(echoed["item"]["call_id"], call["call_id"]);
    assert_eq!(calls.lock().unwrap().len(), 1);
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

#[tokio::test]
async fn tls_serves_http2_by_alpn_and_websockets_over_http1() {
    let config =
        airlock_gateway::tls::server_config(&fixture("cert.pem"), &fixture("key.pem")).unwrap();
    let harness = Harness::with(Setup {
        tls: Some(config),
        ..Setup::default()
    })
    .await;
    let pem = std::fs::read(fixture("cert.pem")).unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let health = https
        .get(format!("https://localhost:{}/healthz", harness.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.version(), http::Version::HTTP_2);

    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let url = format!(
        "wss://localhost:{}{}",
        harness.addr.port(),
        live::live_path("v1alpha")
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-goog-api-key", MASTER_KEY.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        true,
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(client))),
    )
    .await
    .expect("a wss session");
    live::send(&mut socket, &live::setup(LIVE_MODEL, "TEXT")).await;
    assert!(
        live::next_json(&mut socket)
            .await
            .get("setupComplete")
            .is_some()
    );
    live::send(&mut socket, &live::user_turn("Hello over TLS")).await;
    let turn = live::read_until(&mut socket, live::turn_complete).await;
    assert!(!live::model_text(&turn).is_empty());
}

#[tokio::test]
async fn an_upstream_that_dies_mid_turn_ends_the_session_with_1011_and_a_record() {
    let harness = Harness::start().await;
    harness
        .mock
        .server
        .set_fault(Some(airlock_mock::Fault::DisconnectAfterChunks(1)));
    let mut socket = live::gemini_session(&harness, LIVE_MODEL, "TEXT").await;
    live::send(&mut socket, &live::user_turn("Tell me a long story")).await;
    let (code, reason) = live::closed(&mut socket).await;
    assert_eq!(code, 1011);
    assert!(reason.contains("provider"), "{reason}");
    let sessions = live::sessions(&harness.store, 1).await;
    assert_eq!(sessions[0].close_reason, "upstream_error");
    assert!(
        sessions[0].frames_out >= 2,
        "setupComplete and the first chunk"
    );
}

#[tokio::test]
async fn a_publishable_key_opens_sessions_only_from_its_origins() {
    use airlock_gateway::tenancy::manage::{self, NewKey};
    use airlock_store::{KeyKind, ProjectSettings};
    let harness = Harness::start().await;
    let settings = ProjectSettings {
        allowed_origins: vec!["https://app.example.com".into()],
        ..ProjectSettings::default()
    };
    manage::create_project(&harness.store, "widget", settings, &common::admin())
        .await
        .unwrap();
    let new = NewKey {
        kind: Some(KeyKind::Publishable),
        operations: vec!["realtime".into()],
        ..NewKey::default()
    };
    let (_, secret) = manage::create_key(&harness.store, "widget", new, &common::admin())
        .await
        .unwrap();
    harness.tenancy.reload().await.unwrap();
    let path = format!("/v1/realtime?model={REALTIME_MODEL}");
    let protocols = format!("realtime, openai-insecure-api-key.{secret}");
    let from = |origin: &'static str| {
        [
            ("sec-websocket-protocol", protocols.clone()),
            ("origin", origin.to_string()),
        ]
    };
    let allowed = from("https://app.example.com");
    let allowed: Vec<(&str, &str)> = allowed.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let mut socket = live::open(&harness, &path, &allowed)
        .await
        .expect("allowed origin");
    assert_eq!(
        live::next_json(&mut socket).await["type"],
        "session.created"
    );
    let other = from("https://evil.example");
    let other: Vec<(&str, &str)> = other.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, _) = live::open(&harness, &path, &other)
        .await
        .expect_err("other origin");
    assert_eq!(status, 403);
    // The key's operations scope holds for sockets too: no Gemini Live.
    let mut gemini = live::open(
        &harness,
        &live::live_path("v1beta"),
        &[
            ("x-goog-api-key", secret.as_str()),
            ("origin", "https://app.example.com"),
        ],
    )
    .await
    .unwrap();
    live::send(&mut gemini, &live::setup(LIVE_MODEL, "TEXT")).await;
    let (code, reason) = live::closed(&mut gemini).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("bidiGenerateContent"), "{reason}");
}

#[tokio::test]
async fn session_resumption_handles_pass_through_both_ways() {
    let harness = Harness::start().await;
    let mut socket = live::gemini(&harness).await;
    let mut setup = live::setup(LIVE_MODEL, "TEXT");
    setup["setup"]["sessionResumption"] = json!({});
    live::send(&mut socket, &setup).await;
    live::next_json(&mut socket).await;
    live::send(&mut socket, &live::user_turn("Remember this")).await;
    live::read_until(&mut socket, live::turn_complete).await;
    let update =
        live::read_until(&mut socket, |m| m.get("sessionResumptionUpdate").is_some()).await;
    let handle = update.last().unwrap()["sessionResumptionUpdate"]["newHandle"]
        .as_str()
        .unwrap()
        .to_string();
    socket.close(None).await.unwrap();

    let mut resumed = live::gemini(&harness).await;
    setup["setup"]["sessionResumption"] = json!({"handle": handle});
    live::send(&mut resumed, &setup).await;
    assert!(
        live::next_json(&mut resumed)
            .await
            .get("setupComplete")
            .is_some()
    );
}

#[tokio::test]
async fn an_openai_upstream_that_dies_gives_an_error_event_then_1011() {
    let harness = Harness::start().await;
    harness
        .mock
        .server
        .set_fault(Some(airlock_mock::Fault::DisconnectAfterChunks(1)));
    let bearer = format!("Bearer {MASTER_KEY}");
    let path = format!("/v1/realtime?model={REALTIME_MODEL}");
    let mut socket = live::open(&harness, &path, &[("authorization", &bearer)])
        .await
        .unwrap();
    live::next_json(&mut socket).await;
    live::send(&mut socket, &json!({"type": "response.create"})).await;
    let events = live::read_until(&mut socket, |e| e["type"] == "error").await;
    let error = &events.last().unwrap()["error"];
    assert_eq!(error["type"], "server_error");
    assert_eq!(error["code"], "upstream_error");
    assert_eq!(live::closed(&mut socket).await.0, 1011);
    let sessions = live::sessions(&harness.store, 1).await;
    assert_eq!(sessions[0].close_reason, "upstream_error");
}

/// The value of the first sample of `name` whose labels include every one of `labels`.
fn exposition_value(exposition: &str, name: &str, labels: &[&str]) -> Option<f64> {
    exposition
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

/// Waits (within a generous bound) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Gemini Live session opened with `key` and set up.
async fn gemini_session_with(harness: &Harness, key: &str) -> live::Socket {
    let mut socket = live::open(
        harness,
        &live::live_path("v1beta"),
        &[("x-goog-api-key", key)],
    )
    .await
    .expect("the gateway upgrades");
    live::send(&mut socket, &live::setup(LIVE_MODEL, "TEXT")).await;
    let reply = live::next_json(&mut socket).await;
    assert!(reply.get("setupComplete").is_some(), "{reply}");
    socket
}

fn refusal_body(refusal: &http::Response<Option<Vec<u8>>>) -> Value {
    serde_json::from_slice(refusal.body().as_deref().unwrap_or_default()).unwrap()
}

async fn sessions_per_project_are_limited_before_the_upgrade_and_other_projects_are_not(
    counting: Counting,
) {
    let harness = Harness::with(
        counting
            .setup(policy(|p| p.max_sessions_per_project = Some(1)))
            .await,
    )
    .await;
    let key = |project| {
        common::project_key(
            &harness,
            project,
            Default::default(),
            Default::default(),
            None,
        )
    };
    let first = key("studio").await;
    let second = key("studio").await;
    let other_project = key("podcast").await;
    let mut open = gemini_session_with(&harness, &first).await;

    // Another key of the same project: refused before the upgrade, in
    // Google's shape on the Gemini path.
    let refused = live::refusal(
        &harness,
        &live::live_path("v1beta"),
        &[("x-goog-api-key", &second)],
    )
    .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = refusal_body(&refused);
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("project limit on concurrent realtime sessions"),
        "{message}"
    );
    // OpenAI Realtime sessions count against the same limit, refused in OpenAI's shape.
    let bearer = format!("Bearer {second}");
    let refused = live::refusal(
        &harness,
        &format!("/v1/realtime?model={REALTIME_MODEL}"),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = refusal_body(&refused);
    assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");

    // Another project's sessions are counted apart.
    let _elsewhere = gemini_session_with(&harness, &other_project).await;

    // The place comes back when the open session ends.
    open.close(None).await.unwrap();
    live::closed(&mut open).await;
    eventually("the ended session gives its place back", || {
        harness.sessions.open_count() == 1
    })
    .await;
    // Counted in Redis, the place is given back a round trip later.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let _again = loop {
        match live::open(
            &harness,
            &live::live_path("v1beta"),
            &[("x-goog-api-key", &second)],
        )
        .await
        {
            Ok(socket) => break socket,
            Err((429, _)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(refused) => panic!("the place never came back: {refused:?}"),
        }
    };
}

#[tokio::test]
async fn a_client_that_does_not_read_is_given_up_with_4003() {
    let harness = Harness::with(policy(|p| p.max_messages_per_sec = None)).await;
    let bearer = format!("Bearer {MASTER_KEY}");
    let path = format!("/v1/realtime?model={REALTIME_MODEL}");
    let socket = live::open(&harness, &path, &[("authorization", &bearer)])
        .await
        .unwrap();
    // The gateway answers each frame that is not JSON itself, with an
    // `error` event, and relays nothing to the provider: a client that
    // keeps sending such frames and never reads makes the gateway's writes
    // to it stall once the socket buffers are full, with nothing else going
    // on in the session.
    let (mut sink, _unread) = futures_util::StreamExt::split(socket);
    let writer = tokio::spawn(async move {
        let frame = Message::text("x".repeat(256));
        loop {
            if let Err(error) = sink.send(frame.clone()).await {
                return error;
            }
        }
    });
    // The gateway gives up after 10 s without progress and drops the
    // connection, which ends the client's writes too. (Bounds are generous;
    // nothing here is timed.)
    let error = tokio::time::timeout(Duration::from_secs(120), writer)
        .await
        .expect("the gateway gives up on the client")
        .unwrap();
    // The record is written before the gateway lets go of the connection.
    let record = live::sessions(&harness.store, 1).await.remove(0);
    assert_eq!(record.surface, "openai_realtime");
    assert_eq!(
        (record.close_code, record.close_reason.as_str()),
        (4003, "client_too_slow"),
        "the writer ended with: {error}"
    );
    assert_eq!(
        record.close_detail.as_deref(),
        Some("client did not read in time")
    );
    assert!(record.frames_in > 0);
    eventually("the session is no longer open", || {
        harness.sessions.open_count() == 0
    })
    .await;
    let metrics = harness.metrics_text().await;
    let ended = exposition_value(
        &metrics,
        "airlock_realtime_sessions_total",
        &["surface=\"openai_realtime\"", "reason=\"client_too_slow\""],
    );
    assert!(ended.is_some_and(|count| count >= 1.0), "{ended:?}");
}

#[tokio::test]
async fn without_store_transcripts_records_keep_everything_but_the_transcript() {
    let harness = Harness::with(policy(|p| p.store_transcripts = false)).await;
    // Gemini Live, speaking, with both transcriptions asked for.
    let mut socket = live::gemini(&harness).await;
    let setup = json!({"setup": {
        "model": format!("models/{LIVE_MODEL}"),
        "generationConfig": {"responseModalities": ["AUDIO"]},
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
    }});
    live::send(&mut socket, &setup).await;
    let reply = live::next_json(&mut socket).await;
    assert!(reply.get("setupComplete").is_some(), "{reply}");
    let speech: Vec<u8> = (0..1600u16)
        .flat_map(|i| (i.wrapping_mul(37) as i16).to_le_bytes())
        .collect();
    let chunk = json!({"realtimeInput": {"audio": {
        "data": base64_encode(&speech),
        "mimeType": "audio/pcm;rate=16000",
    }}});
    live::send(&mut socket, &chunk).await;
    live::send(
        &mut socket,
        &json!({"realtimeInput": {"audioStreamEnd": true}}),
    )
    .await;
    let turn = live::read_until(&mut socket, live::turn_complete).await;
    // The client still gets its transcriptions: only the record keeps none.
    let said: String = turn
        .iter()
        .filter_map(|m| m["serverContent"]["outputTranscription"]["text"].as_str())
        .collect();
    assert!(!said.is_empty(), "{turn:?}");
    socket.close(None).await.unwrap();
    live::closed(&mut socket).await;

    // OpenAI Realtime, answering in text (kept as the model's transcript line).
    let bearer = format!("Bearer {MASTER_KEY}");
    let path = format!("/v1/realtime?model={REALTIME_MODEL}");
    let mut socket = live::open(&harness, &path, &[("authorization", &bearer)])
        .await
        .unwrap();
    live::next_json(&mut socket).await;
    live::send(
        &mut socket,
        &json!({"type": "response.create", "response": {"output_modalities": ["text"]}}),
    )
    .await;
    let events = live::read_until(&mut socket, |e| e["type"] == "response.done").await;
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "response.output_text.done"),
        "{events:?}"
    );
    socket.close(None).await.unwrap();
    live::closed(&mut socket).await;

    let listed = live::sessions(&harness.store, 2).await;
    for listed in &listed {
        let record = harness.store.session(&listed.id).await.unwrap().unwrap();
        assert!(record.transcript.is_empty(), "{:?}", record.transcript);
        assert_eq!(record.close_reason, "client_closed");
        assert!(
            record.frames_in >= 1 && record.frames_out >= 2,
            "{record:?}"
        );
        assert!(record.bytes_in > 0 && record.bytes_out > 0, "{record:?}");
        assert!(record.tokens_in.unwrap() > 0, "{record:?}");
        assert!(record.tokens_out.unwrap() > 0, "{record:?}");
        assert!(record.cost_usd.unwrap() > 0.0, "{record:?}");
        assert!(record.ended_at_ms >= record.started_at_ms);
        assert!(record.upstream_model.is_some() && record.key_id.is_some());
        // The admin API shows the same: no transcript.
        let shown: Value = harness
            .http
            .get(harness.url(&format!("/admin/v1/realtime/sessions/{}", record.id)))
            .bearer_auth(MASTER_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(shown["transcript"], json!([]), "{shown}");
    }
    let surfaces: Vec<&str> = listed.iter().map(|s| s.surface.as_str()).collect();
    assert_eq!(surfaces, ["openai_realtime", "gemini_live"]);
    let gemini = listed.iter().find(|s| s.surface == "gemini_live").unwrap();
    assert_eq!(gemini.frames_in, 3, "setup, audio, end of audio");
}

#[tokio::test]
async fn server_side_tool_calls_and_failures_are_in_the_metrics() {
    let (url, calls) = tool_webhook().await;
    // Tool names of their own: the metrics are shared by every test in this binary.
    let tool = |name: &str, url: &str| ServerTool {
        name: name.into(),
        ..order_tool(url)
    };
    let harness = Harness::with(Setup {
        realtime_tools: vec![
            tool("metered_lookup", &url),
            // Nothing listens there.
            tool("metered_broken", "http://127.0.0.1:9/hook"),
        ],
        ..Setup::default()
    })
    .await;
    let mut socket = live::gemini(&harness).await;
    let setup = json!({"setup": {
        "model": format!("models/{LIVE_MODEL}"),
        "generationConfig": {"responseModalities": ["TEXT"]},
        "tools": [{"functionDeclarations": [
            {"name": "metered_lookup", "description": "Look something up"},
            {"name": "metered_broken", "description": "Always fails"},
        ]}],
    }});
    live::send(&mut socket, &setup).await;
    live::next_json(&mut socket).await;
    for (tool, failed) in [("metered_lookup", false), ("metered_broken", true)] {
        live::send(&mut socket, &live::user_turn(&format!("Please {tool}"))).await;
        let messages = live::read_until(&mut socket, live::turn_complete).await;
        // The answer reaches the client after the call is counted.
        let answer = messages
            .iter()
            .find_map(|m| {
                m["serverContent"]["modelTurn"]["parts"][0]["functionResponse"].as_object()
            })
            .expect("the client sees the tool's answer");
        assert_eq!(answer["name"], tool);
        assert_eq!(
            answer["response"].get("error").is_some(),
            failed,
            "{answer:?}"
        );
    }
    assert_eq!(calls.lock().unwrap().len(), 1);

    let metrics = harness.metrics_text().await;
    let calls_total = |tool: &str, outcome: &str| {
        exposition_value(
            &metrics,
            "airlock_realtime_tool_calls_total",
            &[
                &format!("tool=\"{tool}\""),
                &format!("outcome=\"{outcome}\""),
            ],
        )
    };
    assert_eq!(calls_total("metered_lookup", "ok"), Some(1.0));
    assert_eq!(calls_total("metered_lookup", "error"), None);
    assert_eq!(calls_total("metered_broken", "error"), Some(1.0));
    assert_eq!(calls_total("metered_broken", "ok"), None);
    for tool in ["metered_lookup", "metered_broken"] {
        let label = format!("tool=\"{tool}\"");
        let timed = exposition_value(
            &metrics,
            "airlock_realtime_tool_duration_seconds_count",
            &[&label],
        );
        assert_eq!(timed, Some(1.0), "{tool}");
        let total = exposition_value(
            &metrics,
            "airlock_realtime_tool_duration_seconds_sum",
            &[&label],
        );
        assert!(
            total.is_some_and(|seconds| seconds > 0.0),
            "{tool}: {total:?}"
        );
    }
}

#[tokio::test]
async fn a_publishable_key_opens_gemini_live_sessions_only_from_its_origins() {
    use airlock_gateway::tenancy::manage::{self, NewKey};
    use airlock_store::{KeyKind, ProjectSettings};
    const APP: &str = "https://app.example.com";
    let harness = Harness::start().await;
    let settings = ProjectSettings {
        allowed_origins: vec![APP.into()],
        ..ProjectSettings::default()
    };
    let project =
        manage::create_project(&harness.store, "voice-widget", settings, &common::admin())
            .await
            .unwrap();
    let new = NewKey {
        kind: Some(KeyKind::Publishable),
        operations: vec!["bidiGenerateContent".into()],
        ..NewKey::default()
    };
    let (key, secret) = manage::create_key(&harness.store, "voice-widget", new, &common::admin())
        .await
        .unwrap();
    harness.tenancy.reload().await.unwrap();
    // A browser cannot set headers on a WebSocket: the key is in the query,
    // and the browser sends its page's origin.
    let path = format!("{}?key={secret}", live::live_path("v1beta"));

    let mut socket = live::open(&harness, &path, &[("origin", APP)])
        .await
        .expect("the allowed origin opens a session");
    live::send(&mut socket, &live::setup(LIVE_MODEL, "TEXT")).await;
    let reply = live::next_json(&mut socket).await;
    assert!(reply.get("setupComplete").is_some(), "{reply}");
    live::send(&mut socket, &live::user_turn("Hello from the widget")).await;
    let turn = live::read_until(&mut socket, live::turn_complete).await;
    assert!(!live::model_text(&turn).is_empty());
    socket.close(None).await.unwrap();
    let sessions = live::sessions(&harness.store, 1).await;
    assert_eq!(sessions[0].api_key_id.as_deref(), Some(key.id.as_str()));
    assert_eq!(sessions[0].project_id.as_deref(), Some(project.id.as_str()));

    for origin in [
        Some("https://evil.example"),
        Some("https://app.example.com.evil.example"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let refused = live::refusal(&harness, &path, &headers).await;
        assert_eq!(refused.status(), 403, "{origin:?}");
        let body = refusal_body(&refused);
        assert_eq!(body["error"]["code"], 403, "{body}");
        assert_eq!(body["error"]["status"], "PERMISSION_DENIED", "{body}");
        assert_eq!(
            body["error"]["message"],
            "This publishable key may not be used from this origin.",
        );
    }
    assert_eq!(
        harness.sessions.open_count(),
        0,
        "refused before any session"
    );
}

/// Opens a Gemini Live session and sets it up: `Ok` once set up (the
/// session is then closed by the client), or the close the client got.
async fn live_session_opens(harness: &Harness) -> Result<(), (u16, String)> {
    let mut socket = live::gemini(harness).await;
    live::send(&mut socket, &live::setup(LIVE_MODEL, "TEXT")).await;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an answer to the setup in time")
            .expect("the socket is open")
            .expect("a readable message");
        let data = match message {
            Message::Close(frame) => {
                let frame = frame.expect("a close frame with a code");
                return Err((u16::from(frame.code), frame.reason.to_string()));
            }
            Message::Text(text) => text.as_bytes().to_vec(),
            Message::Binary(bytes) => bytes.to_vec(),
            _ => continue,
        };
        let reply: Value = serde_json::from_slice(&data).unwrap();
        assert!(reply.get("setupComplete").is_some(), "{reply}");
        socket.close(None).await.unwrap();
        live::closed(&mut socket).await;
        return Ok(());
    }
}

#[tokio::test]
async fn a_live_key_closed_for_quota_rests_and_the_next_sessions_use_the_other() {
    // The simulator's `limited-` key is over its quota: Live upgrades it,
    // then closes with 1011 and Google's RESOURCE_EXHAUSTED words.
    let harness = Harness::with(Setup {
        gemini_keys: vec!["limited-a", "live-b"],
        ..Setup::default()
    })
    .await;
    let mut failed = Vec::new();
    for _ in 0..10 {
        if let Err(close) = live_session_opens(&harness).await {
            failed.push(close);
        }
    }
    assert!(failed.len() <= 1, "sessions failed: {failed:?}");
    for (code, reason) in &failed {
        assert_eq!(*code, 1011);
        assert!(
            reason.starts_with("You exceeded your current quota"),
            "{reason}"
        );
    }
    let seen = harness.mock.server.requests_by_key();
    assert_eq!(
        seen.get("limited-a"),
        Some(&1),
        "rested after the close: {seen:?}"
    );
    assert_eq!(seen.get("live-b"), Some(&9));

    // The pool shows the key resting (by id only) for about a minute.
    let (_, ready) = harness.readiness().await;
    let gemini = ready["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "gemini")
        .unwrap();
    let mut keys = gemini["keys"].clone();
    let until = keys[0]["resting_until_ms"].take().as_i64().unwrap();
    let rest_ms = until - airlock_gateway::clock::now_ms();
    assert!(
        (50_000..=61_000).contains(&rest_ms),
        "rests {rest_ms} ms more"
    );
    keys[0].as_object_mut().unwrap().remove("resting_until_ms");
    assert_eq!(
        keys,
        json!([{"id": "gemini#0", "state": "resting"}, {"id": "gemini#1", "state": "active"}])
    );

    let sessions = live::sessions(&harness.store, 10).await;
    let spent: Vec<_> = sessions
        .iter()
        .filter(|s| s.close_code == 1011)
        .map(|s| (s.key_id.as_deref(), s.close_reason.as_str()))
        .collect();
    assert_eq!(spent, [(Some("gemini#0"), "upstream_closed")]);
}

/// A Gemini Live audio session on `key` whose model, answering a client
/// tool's result, says an email address; its transcription as the client
/// was sent it.
async fn said_an_email(harness: &Harness, key: &str) -> String {
    let path = live::live_path("v1beta");
    let mut socket = live::open(harness, &path, &[("x-goog-api-key", key)])
        .await
        .unwrap();
    let setup = json!({"setup": {
        "model": format!("models/{LIVE_MODEL}"),
        "generationConfig": {"responseModalities": ["AUDIO"]},
        "outputAudioTranscription": {},
        "tools": [{"functionDeclarations": [{"name": "lookup_email", "description": "Find an email"}]}],
    }});
    live::send(&mut socket, &setup).await;
    live::next_json(&mut socket).await;
    live::send(&mut socket, &live::user_turn("lookup_email please")).await;
    let call = live::read_until(&mut socket, |m| m.get("toolCall").is_some()).await;
    let id = call.last().unwrap()["toolCall"]["functionCalls"][0]["id"].clone();
    let answer = json!({"toolResponse": {"functionResponses": [{
        "id": id, "name": "lookup_email", "response": {"email": "rex.owner@example.com"},
    }]}});
    live::send(&mut socket, &answer).await;
    let turn = live::read_until(&mut socket, live::turn_complete).await;
    socket.close(None).await.unwrap();
    turn.iter()
        .filter_map(|m| m["serverContent"]["outputTranscription"]["text"].as_str())
        .collect()
}

#[tokio::test]
async fn transcripts_are_redacted_before_they_are_written_unless_kept_verbatim() {
    let harness = Harness::start().await;
    let said = said_an_email(&harness, MASTER_KEY).await;
    // The client hears it as said; the record keeps it redacted.
    assert!(said.contains("rex.owner@example.com"), "{said}");
    let sessions = live::sessions(&harness.store, 1).await;
    let record = harness
        .store
        .session(&sessions[0].id)
        .await
        .unwrap()
        .unwrap();
    let kept: String = record.transcript.iter().map(|e| e.text.as_str()).collect();
    assert!(kept.contains("[email]"), "{kept}");
    assert!(!kept.contains("rex.owner@example.com"), "{kept}");

    let key =
        common::admin_project_key(&harness, "verbatim", json!({"verbatim_transcripts": true}))
            .await;
    said_an_email(&harness, &key).await;
    let sessions = live::sessions(&harness.store, 2).await;
    let record = harness
        .store
        .session(&sessions[0].id)
        .await
        .unwrap()
        .unwrap();
    let kept: String = record.transcript.iter().map(|e| e.text.as_str()).collect();
    assert!(kept.contains("rex.owner@example.com"), "{kept}");
}
