//! WebSocket clients for the realtime tests: a Gemini Live or OpenAI
//! Realtime socket through the gateway, and reading its JSON messages.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Message, http};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Harness, MASTER_KEY};
use airlock_store::{SessionFilter, SessionRecord, Store};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A Live model the simulator serves.
pub const LIVE_MODEL: &str = "gemini-live-2.5-flash-preview";
/// A Realtime model the simulator serves.
pub const REALTIME_MODEL: &str = "gpt-realtime";

/// How long a test waits for any one message.
const WAIT: Duration = Duration::from_secs(10);

pub fn live_path(version: &str) -> String {
    format!("/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent")
}

/// Opens a socket at `path` with extra handshake headers; the handshake's
/// HTTP error, if the gateway refuses, as status and body.
pub async fn open(
    harness: &Harness,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Socket, (u16, String)> {
    let mut request = format!("ws://{}{}", harness.addr, path)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            Err((
                response.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
        Err(error) => panic!("handshake failed: {error}"),
    }
}

/// The gateway's HTTP answer to a handshake it refuses (headers included).
pub async fn refusal(
    harness: &Harness,
    path: &str,
    headers: &[(&str, &str)],
) -> http::Response<Option<Vec<u8>>> {
    let mut request = format!("ws://{}{}", harness.addr, path)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => *response,
        Ok(_) => panic!("the gateway upgraded a handshake it should refuse"),
        Err(error) => panic!("handshake failed: {error}"),
    }
}

/// A Gemini Live socket with the master key, not yet set up.
pub async fn gemini(harness: &Harness) -> Socket {
    open(
        harness,
        &live_path("v1beta"),
        &[("x-goog-api-key", MASTER_KEY)],
    )
    .await
    .expect("the gateway upgrades")
}

/// A Gemini Live socket set up for `model` answering in `modality`.
pub async fn gemini_session(harness: &Harness, model: &str, modality: &str) -> Socket {
    let mut socket = gemini(harness).await;
    send(&mut socket, &setup(model, modality)).await;
    let reply = next_json(&mut socket).await;
    assert!(reply.get("setupComplete").is_some(), "{reply}");
    socket
}

pub fn setup(model: &str, modality: &str) -> Value {
    json!({"setup": {
        "model": format!("models/{model}"),
        "generationConfig": {"responseModalities": [modality]},
    }})
}

pub fn user_turn(text: &str) -> Value {
    json!({"clientContent": {
        "turns": [{"role": "user", "parts": [{"text": text}]}],
        "turnComplete": true,
    }})
}

pub async fn send(socket: &mut Socket, message: &Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next data message as JSON (text or binary frames alike).
pub async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a readable message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Binary(bytes) => return serde_json::from_slice(&bytes).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// Messages up to and including the one `done` accepts.
pub async fn read_until(socket: &mut Socket, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut messages = Vec::new();
    loop {
        let message = next_json(socket).await;
        let finished = done(&message);
        messages.push(message);
        if finished {
            return messages;
        }
    }
}

pub fn turn_complete(message: &Value) -> bool {
    message["serverContent"]["turnComplete"] == true
}

/// Reads until the socket closes; the close code and reason.
pub async fn closed(socket: &mut Socket) -> (u16, String) {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a close in time");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(error)) => panic!("no close frame: {error}"),
            None => panic!("the socket ended without a close frame"),
        }
    }
}

/// The text of a model turn's text parts.
pub fn model_text(messages: &[Value]) -> String {
    messages
        .iter()
        .filter_map(|m| m["serverContent"]["modelTurn"]["parts"].as_array())
        .flatten()
        .filter_map(|part| part["text"].as_str())
        .collect()
}

/// Waits for the session log to hold `count` sessions; newest first.
pub async fn sessions(store: &Store, count: usize) -> Vec<SessionRecord> {
    let filter = SessionFilter {
        limit: 100,
        ..SessionFilter::default()
    };
    for _ in 0..200 {
        let found = store.sessions(&filter).await.unwrap();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the session log did not receive {count} session(s)");
}
