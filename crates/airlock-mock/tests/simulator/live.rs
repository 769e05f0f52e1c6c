//! Gemini Live over a real WebSocket (tokio-tungstenite as the client):
//! text and audio turns, tools, both spellings and frame kinds, Google's
//! strictness and closes, the key rules, faults, latency with
//! interruptions, session resumption and echo mode.

use std::time::{Duration, Instant};

use airlock_mock::{MockConfig, RunningMock, spawn};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);
const MODEL: &str = "gemini-live-2.5-flash-preview";

async fn start(config: MockConfig) -> RunningMock {
    spawn("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

fn url(m: &RunningMock, version: &str, method: &str) -> String {
    format!(
        "ws://{}/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}",
        m.addr
    )
}

async fn connect_with(m: &RunningMock, headers: &[(&'static str, &str)]) -> Socket {
    let mut request = url(m, "v1beta", "BidiGenerateContent")
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn connect(m: &RunningMock) -> Socket {
    connect_with(m, &[("x-goog-api-key", "live-key")]).await
}

async fn send(socket: &mut Socket, message: &Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next server message, which must be JSON in a binary frame.
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("an open socket")
            .expect("a readable frame");
        match message {
            Message::Binary(bytes) => return serde_json::from_slice(&bytes).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a binary JSON frame, got {other:?}"),
        }
    }
}

/// Messages up to and including `turnComplete`.
async fn turn(socket: &mut Socket) -> Vec<Value> {
    let mut messages = Vec::new();
    loop {
        let message = next(socket).await;
        let done = message["serverContent"]["turnComplete"] == true;
        messages.push(message);
        if done {
            return messages;
        }
    }
}

/// Reads until the close frame: its code and reason.
async fn closed(socket: &mut Socket) -> (u16, String) {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a close in time");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

fn setup(extra: Value) -> Value {
    let mut setup = json!({ "model": format!("models/{MODEL}") });
    setup
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({ "setup": setup })
}

async fn open(m: &RunningMock, extra: Value) -> Socket {
    let mut socket = connect(m).await;
    send(&mut socket, &setup(extra)).await;
    assert_eq!(next(&mut socket).await, json!({"setupComplete": {}}));
    socket
}

fn user(text: &str) -> Value {
    json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": true}})
}

fn text_of(messages: &[Value]) -> String {
    messages
        .iter()
        .filter_map(|m| m["serverContent"]["modelTurn"]["parts"].as_array())
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .collect()
}

fn speech(ms: usize) -> String {
    // 16 kHz, 16-bit: 32 bytes per millisecond, never all zero.
    let samples: Vec<u8> = (0..ms * 16)
        .flat_map(|i| (((i % 50) as i16 - 25) * 300).to_le_bytes())
        .collect();
    STANDARD.encode(samples)
}

fn silence(ms: usize) -> String {
    STANDARD.encode(vec![0u8; ms * 32])
}

fn audio(data: &str) -> Value {
    json!({"realtimeInput": {"audio": {"data": data, "mimeType": "audio/pcm;rate=16000"}}})
}

#[tokio::test]
async fn a_text_turn_streams_text_then_completes_with_usage() {
    let m = start(MockConfig::default()).await;
    let mut socket = open(&m, json!({"generationConfig": {"responseModalities": ["TEXT"]}, "systemInstruction": {"parts": [{"text": "Be brief."}]}})).await;
    send(&mut socket, &user("Hello there")).await;
    let messages = turn(&mut socket).await;
    let text = text_of(&messages);
    assert!(text.split(' ').count() >= 12, "{text}");
    let n = messages.len();
    assert!(n >= 5, "3+ chunks, generationComplete, turnComplete");
    assert_eq!(
        messages[n - 2],
        json!({"serverContent": {"generationComplete": true}})
    );
    let usage = &messages[n - 1]["usageMetadata"];
    // "Hello there" (3) + "Be brief." (3).
    assert_eq!(usage["promptTokenCount"], 6);
    let out = text.chars().count().div_ceil(4) as u64;
    assert_eq!(usage["responseTokenCount"], out);
    assert_eq!(usage["totalTokenCount"], 6 + out);
    assert_eq!(
        usage["promptTokensDetails"],
        json!([{"modality": "TEXT", "tokenCount": 6}])
    );
    assert_eq!(
        usage["responseTokensDetails"],
        json!([{"modality": "TEXT", "tokenCount": out}])
    );

    // The same conversation gets the same answer; the next turn another.
    let mut again = open(&m, json!({"generationConfig": {"responseModalities": ["TEXT"]}, "systemInstruction": {"parts": [{"text": "Be brief."}]}})).await;
    send(&mut again, &user("Hello there")).await;
    assert_eq!(text_of(&turn(&mut again).await), text);
    send(&mut again, &user("Hello there")).await;
    let second = turn(&mut again).await;
    assert_ne!(text_of(&second), text);
    let grown = second.last().unwrap()["usageMetadata"]["promptTokenCount"]
        .as_u64()
        .unwrap();
    assert!(grown > 6 + out, "the context grows: {grown}");
    assert_eq!(m.server.requests_seen(), 2);
    assert_eq!(m.server.requests_by_key()["live-key"], 2);
}

#[tokio::test]
async fn a_spoken_turn_is_transcribed_answered_in_audio_and_counted() {
    let m = start(MockConfig::default()).await;
    let mut socket = open(
        &m,
        json!({"inputAudioTranscription": {}, "outputAudioTranscription": {}}),
    )
    .await;
    send(&mut socket, &audio(&speech(500))).await;
    send(&mut socket, &audio(&speech(500))).await;
    send(&mut socket, &audio(&silence(20))).await;
    let messages = turn(&mut socket).await;
    let heard = &messages[0]["serverContent"]["inputTranscription"]["text"];
    assert!(heard.as_str().unwrap().split(' ').count() >= 2, "{heard}");
    let mut spoken = Vec::new();
    let mut said = String::new();
    for m in &messages {
        if let Some(part) = m["serverContent"]["modelTurn"]["parts"].get(0) {
            assert_eq!(part["inlineData"]["mimeType"], "audio/pcm;rate=24000");
            spoken.extend(
                STANDARD
                    .decode(part["inlineData"]["data"].as_str().unwrap())
                    .unwrap(),
            );
        }
        if let Some(t) = m["serverContent"]["outputTranscription"]["text"].as_str() {
            said.push_str(t);
        }
    }
    assert!(
        messages
            .iter()
            .filter(|m| m["serverContent"]["modelTurn"].is_object())
            .count()
            >= 3
    );
    // 50 ms of 24 kHz 16-bit speech per character said.
    assert_eq!(spoken.len(), said.chars().count() * 2400);
    assert!(spoken.iter().any(|b| *b != 0));
    let usage = &messages.last().unwrap()["usageMetadata"];
    // One second heard at 32 tokens per second; the heard text counts too.
    let details = usage["promptTokensDetails"].as_array().unwrap();
    assert!(
        details.contains(&json!({"modality": "AUDIO", "tokenCount": 32})),
        "{usage}"
    );
    let speech_ms = said.chars().count() as u64 * 50;
    assert_eq!(usage["responseTokenCount"], (speech_ms * 32).div_ceil(1000));
    assert_eq!(usage["responseTokensDetails"][0]["modality"], "AUDIO");

    // audioStreamEnd ends a spoken turn too.
    send(&mut socket, &audio(&speech(200))).await;
    send(
        &mut socket,
        &json!({"realtimeInput": {"audioStreamEnd": true}}),
    )
    .await;
    assert!(turn(&mut socket).await[0]["serverContent"]["inputTranscription"].is_object());
}

#[tokio::test]
async fn with_manual_activity_the_client_marks_the_turn() {
    let m = start(MockConfig::default()).await;
    let manual = json!({"realtimeInputConfig": {"automaticActivityDetection": {"disabled": true}}, "generationConfig": {"responseModalities": ["TEXT"]}});
    let mut socket = open(&m, manual).await;
    send(
        &mut socket,
        &json!({"realtimeInput": {"activityStart": {}}}),
    )
    .await;
    send(&mut socket, &audio(&speech(300))).await;
    send(&mut socket, &audio(&silence(300))).await;
    send(&mut socket, &json!({"realtimeInput": {"activityEnd": {}}})).await;
    let messages = turn(&mut socket).await;
    assert!(!text_of(&messages).is_empty());
    let audio_tokens = &messages.last().unwrap()["usageMetadata"]["promptTokensDetails"];
    // 600 ms heard, silence included.
    assert!(
        audio_tokens
            .as_array()
            .unwrap()
            .contains(&json!({"modality": "AUDIO", "tokenCount": 20}))
    );

    // Activity signals need manual activity detection.
    let mut automatic = open(&m, json!({})).await;
    send(
        &mut automatic,
        &json!({"realtimeInput": {"activityStart": {}}}),
    )
    .await;
    assert_eq!(closed(&mut automatic).await.0, 1007);
}

#[tokio::test]
async fn a_tool_call_round_trip() {
    let m = start(MockConfig::default()).await;
    let tools = json!({"generationConfig": {"responseModalities": ["TEXT"]}, "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]}]});
    let mut socket = open(&m, tools.clone()).await;
    send(&mut socket, &user("Use get_weather for Paris")).await;
    let call = next(&mut socket).await;
    let calls = call["toolCall"]["functionCalls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["name"], "get_weather");
    assert!(calls[0]["args"]["city"].is_string());
    let id = calls[0]["id"].as_str().unwrap();
    assert!(id.starts_with("function-call-"));
    send(&mut socket, &json!({"toolResponse": {"functionResponses": [{"id": id, "name": "get_weather", "response": {"temperature": 21}}]}})).await;
    let text = text_of(&turn(&mut socket).await);
    assert!(
        text.starts_with("get_weather returned {\"temperature\":21}. "),
        "{text}"
    );

    // An id the server never issued ends the session.
    let mut wrong = open(&m, tools).await;
    send(&mut wrong, &user("Use get_weather for Rome")).await;
    assert!(next(&mut wrong).await["toolCall"].is_object());
    send(&mut wrong, &json!({"toolResponse": {"functionResponses": [{"id": "nope", "name": "get_weather", "response": {}}]}})).await;
    assert_eq!(
        closed(&mut wrong).await,
        (1007, "Request contains an invalid argument.".into())
    );
}

#[tokio::test]
async fn snake_case_and_binary_frames_are_accepted() {
    let m = start(MockConfig::default()).await;
    let mut socket = connect(&m).await;
    let snake = json!({"setup": {"model": format!("models/{MODEL}"), "generation_config": {"response_modalities": ["TEXT"], "max_output_tokens": 50}, "system_instruction": {"parts": [{"text": "x"}]}, "realtime_input_config": {"automatic_activity_detection": {"disabled": false}}}});
    socket
        .send(Message::binary(snake.to_string().into_bytes()))
        .await
        .unwrap();
    assert_eq!(next(&mut socket).await, json!({"setupComplete": {}}));
    let content = json!({"client_content": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}], "turn_complete": true}});
    socket
        .send(Message::binary(content.to_string().into_bytes()))
        .await
        .unwrap();
    assert!(!text_of(&turn(&mut socket).await).is_empty());
    send(
        &mut socket,
        &json!({"realtime_input": {"text": "and again"}}),
    )
    .await;
    assert!(!text_of(&turn(&mut socket).await).is_empty());
}

#[tokio::test]
async fn protocol_violations_close_with_1007() {
    let m = start(MockConfig::default()).await;
    let cases: Vec<(Vec<Value>, &str)> = vec![
        (vec![user("hi")], "Request contains an invalid argument."),
        (vec![json!({})], "Request contains an invalid argument."),
        (
            vec![json!({"setup": {"model": format!("models/{MODEL}"), "foo": 1}})],
            "Invalid JSON payload received. Unknown name \"foo\" at 'setup': Cannot find field.",
        ),
        (
            vec![
                json!({"setup": {"model": format!("models/{MODEL}"), "generationConfig": {"temperature": "hot"}}}),
            ],
            "Invalid value at 'setup.generation_config.temperature' (TYPE_FLOAT), \"hot\"",
        ),
        (
            vec![setup(json!({})), setup(json!({}))],
            "Request contains an invalid argument.",
        ),
        (
            vec![
                setup(json!({})),
                json!({"clientContent": {"turns": [{"role": "system", "parts": [{"text": "x"}]}]}}),
            ],
            "Please use a valid role: user, model.",
        ),
    ];
    for (messages, reason) in cases {
        let mut socket = connect(&m).await;
        for message in &messages {
            send(&mut socket, message).await;
        }
        let (code, got) = closed(&mut socket).await;
        assert_eq!((code, got.as_str()), (1007, reason), "{messages:?}");
    }
    let mut socket = connect(&m).await;
    socket.send(Message::text("not json")).await.unwrap();
    let (code, reason) = closed(&mut socket).await;
    assert_eq!(code, 1007);
    assert!(
        reason.starts_with("Invalid JSON payload received. "),
        "{reason}"
    );

    let mut socket = connect(&m).await;
    send(
        &mut socket,
        &json!({"setup": {"model": "models/gemini-9-live"}}),
    )
    .await;
    let (code, reason) = closed(&mut socket).await;
    assert_eq!(code, 1008);
    assert!(reason.starts_with("models/gemini-9-live is not found for API version v1beta, or is not supported for bidiGenerateContent."), "{reason}");
    assert!(reason.len() <= 123);
    // A model that exists but does not serve Live.
    let mut socket = connect(&m).await;
    send(
        &mut socket,
        &json!({"setup": {"model": "models/gemini-2.5-flash"}}),
    )
    .await;
    assert_eq!(closed(&mut socket).await.0, 1008);
}

#[tokio::test]
async fn keys_and_faults_close_like_google() {
    let m = start(MockConfig::default()).await;
    let cases = [
        (vec![], 1008, "Method doesn't allow unregistered callers"),
        (
            vec![("x-goog-api-key", "bad-1")],
            1007,
            "API key not valid. Please pass a valid API key.",
        ),
        (
            vec![("x-goog-api-key", "denied-1")],
            1008,
            "Requests to this API generativelanguage.googleapis.com method google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent are blocked.",
        ),
        (
            vec![("x-goog-api-key", "limited-1")],
            1011,
            "You exceeded your current quota",
        ),
        (
            vec![("x-goog-api-key", "k"), ("x-mock-fault", "status=503")],
            1011,
            "The model is overloaded. Please try again later.",
        ),
        (
            vec![("x-goog-api-key", "k"), ("x-mock-fault", "status=404")],
            1008,
            "Requested entity was not found.",
        ),
        (
            vec![("x-goog-api-key", "k"), ("x-mock-fault", "rate-limit=3")],
            1011,
            "You exceeded your current quota",
        ),
    ];
    for (headers, code, reason) in cases {
        let mut socket = connect_with(&m, &headers).await;
        send(&mut socket, &setup(json!({}))).await;
        let (got_code, got) = closed(&mut socket).await;
        assert_eq!(got_code, code, "{headers:?}");
        assert!(got.starts_with(reason) || reason.starts_with(&got), "{got}");
        assert!(got.len() <= 123);
    }
    assert_eq!(m.server.requests_seen(), 7);
    assert_eq!(m.server.requests_by_key()["bad-1"], 1);

    // The key may also come as ?key=, or as a Token on the Constrained method.
    let request = format!(
        "{}?key=query-key",
        url(&m, "v1alpha", "BidiGenerateContent")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(&mut socket, &setup(json!({}))).await;
    assert!(next(&mut socket).await["setupComplete"].is_object());
    let mut request = url(&m, "v1alpha", "BidiGenerateContentConstrained")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", "Token auth_tokens/abc".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(&mut socket, &setup(json!({}))).await;
    assert!(next(&mut socket).await["setupComplete"].is_object());
    assert_eq!(m.server.requests_by_key()["auth_tokens/abc"], 1);
}

#[tokio::test]
async fn plain_http_and_unknown_methods_get_http_errors() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let m = start(MockConfig::default()).await;
    let http = url(&m, "v1beta", "BidiGenerateContent").replace("ws://", "http://");
    let r = reqwest::Client::new()
        .get(&http)
        .header("x-goog-api-key", "k")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let r = reqwest::Client::new()
        .get(http.replace("BidiGenerateContent", "Nope"))
        .header("x-goog-api-key", "k")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    // A broken test header is refused before the upgrade.
    let mut request = url(&m, "v1beta", "BidiGenerateContent")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("x-mock-fault", "explode".parse().unwrap());
    let error = tokio_tungstenite::connect_async(request).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = error else {
        panic!("{error:?}")
    };
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_disconnect_fault_drops_the_socket_mid_turn() {
    let m = start(MockConfig::default()).await;
    let mut socket = connect_with(
        &m,
        &[
            ("x-goog-api-key", "k"),
            ("x-mock-fault", "disconnect-after=2"),
        ],
    )
    .await;
    send(
        &mut socket,
        &setup(json!({"generationConfig": {"responseModalities": ["TEXT"]}})),
    )
    .await;
    assert!(next(&mut socket).await["setupComplete"].is_object());
    send(&mut socket, &user("Tell me a story")).await;
    assert!(next(&mut socket).await["serverContent"]["modelTurn"].is_object());
    assert!(next(&mut socket).await["serverContent"]["modelTurn"].is_object());
    // No close frame, no more content: the connection just ends.
    let end = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
    assert!(matches!(end, None | Some(Err(_))), "{end:?}");
}

#[tokio::test]
async fn go_away_announces_the_end_then_closes() {
    let m = start(MockConfig::default()).await;
    let mut socket = connect_with(
        &m,
        &[("x-goog-api-key", "k"), ("x-mock-fault", "go-away-ms=300")],
    )
    .await;
    let started = Instant::now();
    send(&mut socket, &setup(json!({}))).await;
    assert!(next(&mut socket).await["setupComplete"].is_object());
    assert_eq!(
        next(&mut socket).await,
        json!({"goAway": {"timeLeft": "0.300s"}})
    );
    assert_eq!(
        closed(&mut socket).await,
        (1011, "The operation was aborted.".into())
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn latency_paces_turns_and_new_input_interrupts_them() {
    let m = start(MockConfig::default()).await;
    let mut socket = connect_with(
        &m,
        &[
            ("x-goog-api-key", "k"),
            ("x-mock-latency", "first-token-ms=150,per-chunk-ms=400"),
        ],
    )
    .await;
    send(
        &mut socket,
        &setup(json!({"generationConfig": {"responseModalities": ["TEXT"]}})),
    )
    .await;
    assert!(next(&mut socket).await["setupComplete"].is_object());
    let asked = Instant::now();
    send(&mut socket, &user("First question")).await;
    assert!(next(&mut socket).await["serverContent"]["modelTurn"].is_object());
    assert!(asked.elapsed() >= Duration::from_millis(150));
    // The next chunk is 400 ms away: a new question cuts in.
    send(&mut socket, &user("Second question")).await;
    assert_eq!(
        next(&mut socket).await,
        json!({"serverContent": {"interrupted": true}})
    );
    assert_eq!(
        next(&mut socket).await,
        json!({"serverContent": {"turnComplete": true}})
    );
    let answer = turn(&mut socket).await;
    assert!(
        answer
            .iter()
            .all(|m| m["serverContent"]["interrupted"].is_null())
    );
    assert!(answer.last().unwrap()["usageMetadata"].is_object());
}

#[tokio::test]
async fn sessions_resume_from_a_handle() {
    let m = start(MockConfig::default()).await;
    let config = json!({"generationConfig": {"responseModalities": ["TEXT"]}, "sessionResumption": {"transparent": true}});
    let mut socket = open(&m, config).await;
    send(&mut socket, &user("Remember this")).await;
    let first = turn(&mut socket).await;
    let first_prompt = first.last().unwrap()["usageMetadata"]["promptTokenCount"]
        .as_u64()
        .unwrap();
    let update = next(&mut socket).await;
    let update = &update["sessionResumptionUpdate"];
    assert_eq!(update["resumable"], true);
    assert_eq!(update["lastConsumedClientMessageIndex"], "1");
    let handle = update["newHandle"].as_str().unwrap().to_owned();

    let mut resumed = open(&m, json!({"generationConfig": {"responseModalities": ["TEXT"]}, "sessionResumption": {"handle": handle}})).await;
    send(&mut resumed, &user("Remember this")).await;
    let second = turn(&mut resumed).await;
    let prompt = second.last().unwrap()["usageMetadata"]["promptTokenCount"]
        .as_u64()
        .unwrap();
    assert!(
        prompt > first_prompt * 2,
        "the old turns are back: {prompt}"
    );

    let mut unknown = connect(&m).await;
    send(
        &mut unknown,
        &setup(json!({"sessionResumption": {"handle": "never-issued"}})),
    )
    .await;
    assert_eq!(
        closed(&mut unknown).await,
        (1008, "Requested entity was not found.".into())
    );
}

#[tokio::test]
async fn echo_mode_sends_audio_straight_back() {
    let m = start(MockConfig {
        live_echo: true,
        ..MockConfig::default()
    })
    .await;
    let mut socket = open(&m, json!({})).await;
    let chunk = speech(20);
    send(&mut socket, &audio(&chunk)).await;
    assert_eq!(
        next(&mut socket).await,
        json!({"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": chunk}}]}}})
    );
    send(&mut socket, &json!({"realtime_input": {"media_chunks": [{"data": "AAE=", "mime_type": "audio/pcm"}, {"data": "AgM=", "mime_type": "audio/pcm"}]}})).await;
    assert_eq!(
        next(&mut socket).await["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"],
        "AAE="
    );
    assert_eq!(
        next(&mut socket).await["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"],
        "AgM="
    );
    // Garbage is still refused.
    send(
        &mut socket,
        &json!({"realtimeInput": {"audio": {"data": "!!", "mimeType": "audio/pcm"}}}),
    )
    .await;
    assert_eq!(closed(&mut socket).await.0, 1007);
}

#[tokio::test]
async fn oversized_messages_close_with_1009() {
    let m = start(MockConfig::default()).await;
    let mut socket = open(&m, json!({})).await;
    let huge = "a".repeat(16 * 1024 * 1024 + 1);
    socket.send(Message::text(huge)).await.unwrap();
    let (code, reason) = closed(&mut socket).await;
    assert_eq!(code, 1009);
    assert_eq!(
        reason,
        "Request payload size exceeds the limit: 16777216 bytes."
    );
}
