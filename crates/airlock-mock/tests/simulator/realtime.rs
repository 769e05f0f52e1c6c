//! OpenAI Realtime over a real WebSocket (tokio-tungstenite as the
//! client): GA and beta text and audio responses, subprotocol auth, server
//! VAD, function calls, error events, refusals before the upgrade, faults
//! and echo mode.

use std::time::Duration;

use airlock_mock::{MockConfig, RunningMock, spawn};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn start(config: MockConfig) -> RunningMock {
    spawn("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

async fn try_connect(
    m: &RunningMock,
    query: &str,
    headers: &[(&'static str, &str)],
) -> Result<Socket, WsError> {
    let mut request = format!("ws://{}/v1/realtime{query}", m.addr)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// A GA (or, with `beta`, beta) session on gpt-realtime, past
/// `session.created`.
async fn session(m: &RunningMock, beta: bool) -> (Socket, Value) {
    let mut headers = vec![("authorization", "Bearer rt-key")];
    if beta {
        headers.push(("openai-beta", "realtime=v1"));
    }
    let mut socket = try_connect(m, "?model=gpt-realtime", &headers)
        .await
        .unwrap();
    let created = next(&mut socket).await;
    assert_eq!(created["type"], "session.created");
    (socket, created)
}

async fn send(socket: &mut Socket, event: &Value) {
    socket.send(Message::text(event.to_string())).await.unwrap();
}

/// The next event, which must be JSON in a text frame.
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("an event in time")
            .expect("an open socket")
            .expect("a readable frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Events up to and including the first of type `until`.
async fn until(socket: &mut Socket, kind: &str) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let event = next(socket).await;
        let done = event["type"] == kind;
        events.push(event);
        if done {
            return events;
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn user_text(text: &str) -> Value {
    json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
}

fn deltas(events: &[Value], kind: &str) -> String {
    events
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| e["delta"].as_str().unwrap())
        .collect()
}

fn speech(ms: usize) -> String {
    // 24 kHz, 16-bit: 48 bytes per millisecond, never all zero.
    let samples: Vec<u8> = (0..ms * 24)
        .flat_map(|i| (((i % 40) as i16 - 20) * 400).to_le_bytes())
        .collect();
    STANDARD.encode(samples)
}

fn append(audio: &str) -> Value {
    json!({"type": "input_audio_buffer.append", "audio": audio})
}

#[tokio::test]
async fn a_ga_text_response() {
    let m = start(MockConfig::default()).await;
    let (mut socket, created) = session(&m, false).await;
    let session_object = &created["session"];
    assert_eq!(session_object["type"], "realtime");
    assert_eq!(session_object["object"], "realtime.session");
    assert_eq!(session_object["model"], "gpt-realtime-2025-08-28");
    assert!(session_object["id"].as_str().unwrap().starts_with("sess_"));
    assert_eq!(session_object["output_modalities"], json!(["audio"]));

    send(&mut socket, &json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"], "instructions": "Be brief."}})).await;
    let updated = next(&mut socket).await;
    assert_eq!(updated["type"], "session.updated");
    assert_eq!(updated["session"]["instructions"], "Be brief.");
    assert_eq!(updated["session"]["audio"]["output"]["voice"], "marin");

    send(&mut socket, &user_text("Hello there")).await;
    let added = next(&mut socket).await;
    assert_eq!(added["type"], "conversation.item.added");
    assert_eq!(added["previous_item_id"], Value::Null);
    assert_eq!(
        added["item"]["content"][0],
        json!({"type": "input_text", "text": "Hello there"})
    );
    assert_eq!(next(&mut socket).await["type"], "conversation.item.done");

    send(&mut socket, &json!({"type": "response.create"})).await;
    let events = until(&mut socket, "response.done").await;
    let kinds = types(&events);
    let n = kinds.len();
    assert_eq!(
        kinds[..4],
        [
            "response.created",
            "response.output_item.added",
            "conversation.item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(
        kinds[n - 5..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "conversation.item.done",
            "response.done"
        ]
    );
    assert!(
        kinds[4..n - 5]
            .iter()
            .all(|k| *k == "response.output_text.delta")
    );
    let text = deltas(&events, "response.output_text.delta");
    assert_eq!(events[n - 5]["text"], text);
    let done = &events[n - 1]["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["output"][0]["content"][0],
        json!({"type": "output_text", "text": text})
    );
    assert_eq!(events[2]["previous_item_id"], added["item"]["id"]);
    let usage = &done["usage"];
    let out = text.chars().count().div_ceil(4) as u64;
    // "Be brief." (3) + "Hello there" (3).
    assert_eq!(usage["input_tokens"], 6);
    assert_eq!(usage["output_tokens"], out);
    assert_eq!(usage["total_tokens"], 6 + out);
    assert_eq!(usage["input_token_details"]["text_tokens"], 6);
    assert_eq!(
        usage["output_token_details"],
        json!({"text_tokens": out, "audio_tokens": 0})
    );
    assert_eq!(m.server.requests_by_key()["rt-key"], 1);
}

#[tokio::test]
async fn a_ga_audio_response_with_transcript() {
    let m = start(MockConfig::default()).await;
    let (mut socket, _) = session(&m, false).await;
    send(&mut socket, &user_text("Say something")).await;
    send(&mut socket, &json!({"type": "response.create"})).await;
    let events = until(&mut socket, "response.done").await;
    let audio: Vec<u8> = events
        .iter()
        .filter(|e| e["type"] == "response.output_audio.delta")
        .flat_map(|e| STANDARD.decode(e["delta"].as_str().unwrap()).unwrap())
        .collect();
    let transcript = deltas(&events, "response.output_audio_transcript.delta");
    assert_eq!(audio.len(), transcript.chars().count() * 2400);
    let done: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_audio_transcript.done")
        .collect();
    assert_eq!(done[0]["transcript"], transcript);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "response.output_audio.done")
    );
    let response = &events.last().unwrap()["response"];
    assert_eq!(
        response["output"][0]["content"][0],
        json!({"type": "output_audio", "transcript": transcript})
    );
    assert_eq!(response["audio"]["output"]["voice"], "marin");
    let speech_ms = transcript.chars().count() as u64 * 50;
    assert_eq!(
        response["usage"]["output_token_details"]["audio_tokens"],
        (speech_ms * 20).div_ceil(1000)
    );
}

#[tokio::test]
async fn beta_names_its_events_the_beta_way() {
    let m = start(MockConfig::default()).await;
    let (mut socket, created) = session(&m, true).await;
    assert_eq!(created["session"]["modalities"], json!(["text", "audio"]));
    assert_eq!(created["session"]["input_audio_format"], "pcm16");
    assert!(created["session"].get("type").is_none());
    send(
        &mut socket,
        &json!({"type": "session.update", "session": {"modalities": ["text"]}}),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "session.updated");
    send(&mut socket, &user_text("Hello")).await;
    assert_eq!(next(&mut socket).await["type"], "conversation.item.created");
    send(&mut socket, &json!({"type": "response.create"})).await;
    let events = until(&mut socket, "response.done").await;
    let kinds = types(&events);
    assert!(kinds.contains(&"response.text.delta") && kinds.contains(&"response.text.done"));
    assert!(
        kinds.contains(&"conversation.item.created") && !kinds.contains(&"conversation.item.done")
    );
    let text = deltas(&events, "response.text.delta");
    assert_eq!(
        events.last().unwrap()["response"]["output"][0]["content"][0],
        json!({"type": "text", "text": text})
    );

    send(
        &mut socket,
        &json!({"type": "response.create", "response": {"modalities": ["audio", "text"]}}),
    )
    .await;
    let kinds: Vec<String> = types(&until(&mut socket, "response.done").await)
        .into_iter()
        .map(str::to_owned)
        .collect();
    for kind in [
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.done",
        "response.audio_transcript.done",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}");
    }
    // Beta refuses audio without text, and GA-only fields.
    send(
        &mut socket,
        &json!({"type": "session.update", "session": {"modalities": ["audio"]}}),
    )
    .await;
    let error = next(&mut socket).await;
    assert_eq!(
        error["error"]["message"],
        "Invalid modalities: ['audio']. Supported combinations are: ['text'] and ['audio', 'text']."
    );
    send(
        &mut socket,
        &json!({"type": "session.update", "session": {"type": "realtime"}}),
    )
    .await;
    assert_eq!(
        next(&mut socket).await["error"]["code"],
        "unknown_parameter"
    );
}

#[tokio::test]
async fn browsers_authenticate_with_the_subprotocol() {
    let m = start(MockConfig::default()).await;
    let mut request = format!("ws://{}/v1/realtime?model=gpt-realtime-mini", m.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "realtime, openai-insecure-api-key.browser-key"
            .parse()
            .unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "realtime");
    assert_eq!(
        next(&mut socket).await["session"]["model"],
        "gpt-realtime-mini-2025-10-06"
    );
    assert_eq!(m.server.requests_by_key()["browser-key"], 1);

    // The beta subprotocol selects the beta interface.
    let mut request = format!("ws://{}/v1/realtime?model=gpt-realtime", m.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "realtime, openai-insecure-api-key.k, openai-beta.realtime-v1"
            .parse()
            .unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert!(next(&mut socket).await["session"]["modalities"].is_array());
}

#[tokio::test]
async fn refusals_happen_before_the_upgrade() {
    let m = start(MockConfig::default()).await;
    let cases = [
        ("?model=gpt-realtime", vec![], 401, Value::Null),
        (
            "?model=gpt-realtime",
            vec![("authorization", "Bearer bad-key-0123456789")],
            401,
            json!("invalid_api_key"),
        ),
        (
            "?model=gpt-realtime",
            vec![("authorization", "Bearer limited-1")],
            429,
            json!("rate_limit_exceeded"),
        ),
        (
            "?model=gpt-realtime",
            vec![
                ("authorization", "Bearer k"),
                ("x-mock-fault", "status=503"),
            ],
            503,
            Value::Null,
        ),
        (
            "?model=gpt-9-realtime",
            vec![("authorization", "Bearer k")],
            404,
            json!("model_not_found"),
        ),
        (
            "?model=gpt-4o",
            vec![("authorization", "Bearer k")],
            404,
            json!("model_not_found"),
        ),
        (
            "",
            vec![("authorization", "Bearer k")],
            400,
            json!("missing_required_parameter"),
        ),
    ];
    for (query, headers, status, code) in cases {
        let error = try_connect(&m, query, &headers).await.expect_err("refused");
        let WsError::Http(response) = error else {
            panic!("{error:?}")
        };
        assert_eq!(response.status(), status, "{query} {headers:?}");
        let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    assert_eq!(m.server.requests_seen(), 7);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .get(format!("http://{}/v1/realtime?model=gpt-realtime", m.addr))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn server_vad_commits_speech_and_answers() {
    let m = start(MockConfig::default()).await;
    let (mut socket, _) = session(&m, false).await;
    send(&mut socket, &json!({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}})).await;
    assert_eq!(next(&mut socket).await["type"], "session.updated");
    send(&mut socket, &append(&speech(400))).await;
    let started = next(&mut socket).await;
    assert_eq!(started["type"], "input_audio_buffer.speech_started");
    assert_eq!(started["audio_start_ms"], 0);
    send(&mut socket, &append(&STANDARD.encode(vec![0u8; 480]))).await;
    let events = until(&mut socket, "response.done").await;
    let kinds = types(&events);
    assert_eq!(
        kinds[..5],
        [
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
            "conversation.item.input_audio_transcription.completed"
        ]
    );
    assert_eq!(events[0]["audio_end_ms"], 410);
    assert_eq!(events[0]["item_id"], started["item_id"]);
    assert_eq!(events[2]["item"]["id"], started["item_id"]);
    let transcript = events[4]["transcript"].as_str().unwrap();
    assert!(!transcript.is_empty());
    assert_eq!(
        events[4]["usage"],
        json!({"type": "duration", "seconds": 0.41})
    );
    let usage = &events.last().unwrap()["response"]["usage"];
    // 410 ms of audio at 10 tokens per second.
    assert_eq!(usage["input_token_details"]["audio_tokens"], 5);
}

#[tokio::test]
async fn manual_commits_and_the_buffer_errors() {
    let m = start(MockConfig::default()).await;
    let (mut socket, _) = session(&m, false).await;
    send(&mut socket, &json!({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": null}}}})).await;
    assert_eq!(next(&mut socket).await["type"], "session.updated");
    send(&mut socket, &append(&speech(50))).await;
    send(
        &mut socket,
        &json!({"type": "input_audio_buffer.commit", "event_id": "evt_commit"}),
    )
    .await;
    let error = next(&mut socket).await;
    assert_eq!(error["type"], "error");
    assert_eq!(
        error["error"],
        json!({"type": "invalid_request_error", "code": "input_audio_buffer_commit_empty", "message": "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has 50.00ms of audio.", "param": null, "event_id": "evt_commit"})
    );
    send(&mut socket, &append(&speech(100))).await;
    send(&mut socket, &json!({"type": "input_audio_buffer.commit"})).await;
    let committed = next(&mut socket).await;
    assert_eq!(committed["type"], "input_audio_buffer.committed");
    let added = next(&mut socket).await;
    assert_eq!(
        added["item"]["content"],
        json!([{"type": "input_audio", "transcript": null}])
    );
    assert_eq!(next(&mut socket).await["type"], "conversation.item.done");
    send(&mut socket, &json!({"type": "input_audio_buffer.clear"})).await;
    assert_eq!(
        next(&mut socket).await["type"],
        "input_audio_buffer.cleared"
    );
}

#[tokio::test]
async fn a_function_call_round_trip() {
    let m = start(MockConfig::default()).await;
    let (mut socket, _) = session(&m, false).await;
    let tools = json!([{"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    send(&mut socket, &json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"], "tools": tools}})).await;
    assert_eq!(next(&mut socket).await["type"], "session.updated");
    send(
        &mut socket,
        &user_text("What does get_weather say for Paris?"),
    )
    .await;
    until(&mut socket, "conversation.item.done").await;
    send(&mut socket, &json!({"type": "response.create"})).await;
    let events = until(&mut socket, "response.done").await;
    let done: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.done")
        .collect();
    let arguments = done[0]["arguments"].as_str().unwrap();
    assert_eq!(
        deltas(&events, "response.function_call_arguments.delta"),
        arguments
    );
    let args: Value = serde_json::from_str(arguments).unwrap();
    assert!(args["city"].is_string());
    assert_eq!(done[0]["name"], "get_weather");
    let call_id = done[0]["call_id"].as_str().unwrap();
    assert!(call_id.starts_with("call_"));
    let item = &events.last().unwrap()["response"]["output"][0];
    assert_eq!(item["type"], "function_call");
    assert_eq!(item["arguments"], arguments);

    send(&mut socket, &json!({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": call_id, "output": "{\"temperature\": 21}"}})).await;
    until(&mut socket, "conversation.item.done").await;
    send(&mut socket, &json!({"type": "response.create"})).await;
    let events = until(&mut socket, "response.done").await;
    let text = deltas(&events, "response.output_text.delta");
    assert!(
        text.starts_with("get_weather returned {\"temperature\": 21}. "),
        "{text}"
    );
}

#[tokio::test]
async fn mistakes_are_error_events_and_the_session_goes_on() {
    let m = start(MockConfig::default()).await;
    let (mut socket, _) = session(&m, false).await;
    let cases = [
        (
            json!({"type": "session.explode", "event_id": "e1"}),
            "invalid_value",
            json!("type"),
        ),
        (
            json!({"type": "session.update", "session": {"type": "realtime", "foo": 1}}),
            "unknown_parameter",
            json!("session.foo"),
        ),
        (
            json!({"type": "session.update", "session": {"instructions": "x"}}),
            "missing_required_parameter",
            json!("session.type"),
        ),
        (
            json!({"type": "session.update", "session": {"type": "realtime", "input_audio_format": "pcm16"}}),
            "unknown_parameter",
            json!("session.input_audio_format"),
        ),
        (json!({"event_id": "e2"}), "invalid_event", Value::Null),
        (
            json!({"type": "conversation.item.create", "item": {"type": "message", "role": "assistant", "content": [{"type": "input_text", "text": "x"}]}}),
            "invalid_value",
            json!("item.content[0].type"),
        ),
        (
            json!({"type": "response.cancel"}),
            "response_cancel_not_active",
            Value::Null,
        ),
        (
            json!({"type": "conversation.item.delete", "item_id": "item_nope"}),
            "item_not_found",
            json!("item_id"),
        ),
        (
            json!({"type": "input_audio_buffer.append", "audio": "!!"}),
            "invalid_value",
            json!("audio"),
        ),
    ];
    for (event, code, param) in cases {
        send(&mut socket, &event).await;
        let error = next(&mut socket).await;
        assert_eq!(error["type"], "error", "{event}");
        assert!(error["event_id"].as_str().unwrap().starts_with("event_"));
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(
            (&error["error"]["code"], &error["error"]["param"]),
            (&json!(code), &param),
            "{error}"
        );
        assert_eq!(
            error["error"]["event_id"],
            event.get("event_id").cloned().unwrap_or(Value::Null)
        );
    }
    socket.send(Message::text("not json")).await.unwrap();
    assert_eq!(next(&mut socket).await["error"]["code"], "invalid_json");
    // Still serving.
    send(&mut socket, &user_text("still there?")).await;
    assert_eq!(next(&mut socket).await["type"], "conversation.item.added");
}

#[tokio::test]
async fn responses_can_be_cancelled_and_do_not_overlap() {
    let m = start(MockConfig::default()).await;
    let headers = [
        ("authorization", "Bearer k"),
        ("x-mock-latency", "first-token-ms=300,per-chunk-ms=300"),
    ];
    let mut socket = try_connect(&m, "?model=gpt-realtime", &headers)
        .await
        .unwrap();
    next(&mut socket).await;
    send(&mut socket, &user_text("Talk to me")).await;
    send(&mut socket, &json!({"type": "response.create"})).await;
    let events = until(&mut socket, "response.content_part.added").await;
    let response_id = events
        .iter()
        .find(|e| e["type"] == "response.created")
        .unwrap()["response"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(&mut socket, &json!({"type": "response.create"})).await;
    let error = next(&mut socket).await;
    assert_eq!(
        error["error"]["code"],
        "conversation_already_has_active_response"
    );
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&response_id)
    );
    send(&mut socket, &json!({"type": "response.cancel"})).await;
    let events = until(&mut socket, "response.done").await;
    let done = &events.last().unwrap()["response"];
    assert_eq!(done["status"], "cancelled");
    assert_eq!(
        done["status_details"],
        json!({"type": "cancelled", "reason": "client_cancelled"})
    );
    assert_eq!(done["output"][0]["status"], "incomplete");
    assert!(
        events
            .iter()
            .all(|e| e["type"] != "response.output_audio.delta")
    );
}

#[tokio::test]
async fn the_disconnect_fault_drops_the_socket_mid_response() {
    let m = start(MockConfig::default()).await;
    let headers = [
        ("authorization", "Bearer k"),
        ("x-mock-fault", "disconnect-after=1"),
    ];
    let mut socket = try_connect(&m, "?model=gpt-realtime", &headers)
        .await
        .unwrap();
    next(&mut socket).await;
    send(&mut socket, &user_text("Talk to me")).await;
    send(
        &mut socket,
        &json!({"type": "response.create", "response": {"output_modalities": ["text"]}}),
    )
    .await;
    let events = until(&mut socket, "response.output_text.delta").await;
    assert!(!deltas(&events, "response.output_text.delta").is_empty());
    let end = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
    assert!(
        matches!(end, None | Some(Err(_))),
        "no close frame: {end:?}"
    );
}

#[tokio::test]
async fn go_away_expires_the_session() {
    let m = start(MockConfig::default()).await;
    let headers = [
        ("authorization", "Bearer k"),
        ("x-mock-fault", "go-away-ms=200"),
    ];
    let mut socket = try_connect(&m, "?model=gpt-realtime", &headers)
        .await
        .unwrap();
    next(&mut socket).await;
    let error = next(&mut socket).await;
    assert_eq!(error["error"]["code"], "session_expired");
    let close = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
    let Some(Ok(Message::Close(Some(frame)))) = close else {
        panic!("{close:?}")
    };
    assert_eq!(u16::from(frame.code), 1000);
}

#[tokio::test]
async fn echo_mode_returns_each_append_as_one_delta() {
    let m = start(MockConfig {
        live_echo: true,
        ..MockConfig::default()
    })
    .await;
    for (beta, kind) in [
        (false, "response.output_audio.delta"),
        (true, "response.audio.delta"),
    ] {
        let (mut socket, _) = session(&m, beta).await;
        let chunk = speech(20);
        send(&mut socket, &append(&chunk)).await;
        let echo = next(&mut socket).await;
        assert_eq!(echo["type"], kind);
        assert_eq!(echo["delta"], chunk);
        assert!(echo["response_id"].as_str().unwrap().starts_with("resp_"));
        assert_eq!(
            (&echo["output_index"], &echo["content_index"]),
            (&json!(0), &json!(0))
        );
        send(&mut socket, &append(&chunk)).await;
        let again = next(&mut socket).await;
        assert_ne!(again["event_id"], echo["event_id"]);
        assert_eq!(again["response_id"], echo["response_id"]);
        // Other events are served as usual; garbage is still refused.
        send(
            &mut socket,
            &json!({"type": "input_audio_buffer.append", "audio": "!!"}),
        )
        .await;
        assert_eq!(next(&mut socket).await["type"], "error");
    }
}

#[tokio::test]
async fn oversized_messages_close_with_1009() {
    let m = start(MockConfig::default()).await;
    let (mut socket, _) = session(&m, false).await;
    socket
        .send(Message::text("a".repeat(16 * 1024 * 1024 + 1)))
        .await
        .unwrap();
    let close = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
    let Some(Ok(Message::Close(Some(frame)))) = close else {
        panic!("{close:?}")
    };
    assert_eq!(u16::from(frame.code), 1009);
}
