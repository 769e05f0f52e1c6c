//! WebSocket plumbing shared by the two realtime protocols: the message size
//! limit, reading the next client data frame, and closing — with a close
//! frame whose reason fits the protocol's 123 bytes and a finished close
//! handshake, or abruptly (see [`crate::duplex`]).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use bytes::Bytes;

/// Client messages larger than this are answered with close code 1009.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// What the WebSocket layer itself accepts. Messages between
/// [`MAX_MESSAGE_BYTES`] and this are read whole and refused with 1009 after
/// a proper close handshake; larger ones fail while being read, and get a
/// best-effort 1009 before the connection is dropped.
const HARD_LIMIT_BYTES: usize = 4 * MAX_MESSAGE_BYTES;

/// How long a close waits for the client's answering close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A close frame's reason is at most 123 bytes (125 for the payload, 2 for
/// the code).
const MAX_REASON_BYTES: usize = 123;

/// Close codes (RFC 6455 §7.4.1).
pub const NORMAL: u16 = 1000;
pub const INVALID_PAYLOAD: u16 = 1007;
pub const POLICY_VIOLATION: u16 = 1008;
pub const TOO_BIG: u16 = 1009;
pub const INTERNAL_ERROR: u16 = 1011;

/// The upgrade with the simulator's frame limits.
pub fn limited(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .max_message_size(HARD_LIMIT_BYTES)
        .max_frame_size(HARD_LIMIT_BYTES)
}

/// The next thing a client sent, control frames aside.
#[derive(Debug)]
pub enum Incoming {
    /// A text or binary message's bytes (text frames are UTF-8 already).
    Data(Bytes),
    /// A message over [`MAX_MESSAGE_BYTES`].
    TooLarge,
    /// A client close frame, the end of the stream, or a broken connection.
    Gone,
}

pub async fn next(ws: &mut WebSocket) -> Incoming {
    loop {
        return match ws.recv().await {
            Some(Ok(Message::Text(text))) => data(Bytes::from(text)),
            Some(Ok(Message::Binary(bytes))) => data(bytes),
            // tungstenite answers pings itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => Incoming::Gone,
            Some(Err(e)) if e.to_string().contains("Space limit exceeded") => Incoming::TooLarge,
            Some(Err(_)) => Incoming::Gone,
        };
    }
}

fn data(bytes: Bytes) -> Incoming {
    if bytes.len() > MAX_MESSAGE_BYTES {
        Incoming::TooLarge
    } else {
        Incoming::Data(bytes)
    }
}

/// `reason` cut to the 123 bytes a close frame holds, on a character
/// boundary.
pub fn fit_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// Sends a close frame, then reads (and drops) whatever the client still
/// sends until its own close frame, so that unread data does not turn the
/// close into a TCP reset that would swallow the close frame.
pub async fn close(mut ws: WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: fit_reason(reason).into(),
    };
    if ws.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(message)) = ws.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_on_char_boundaries() {
        assert_eq!(fit_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = fit_reason(&long);
        assert_eq!(cut.len(), 122);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(fit_reason(&"a".repeat(200)).len(), 123);
    }
}
