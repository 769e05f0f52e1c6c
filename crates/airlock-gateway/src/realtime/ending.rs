//! Why a realtime session ended: the close code and reason the client gets,
//! and the name the session record keeps. `docs/realtime.md` lists them.

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The client closed the socket (its close code, 1005 when it gave none).
    ClientClosed { code: u16 },
    /// The client went away without a close frame.
    ClientGone,
    /// The provider closed the socket; its code and reason reach the client.
    UpstreamClosed { code: u16, reason: String },
    /// The provider's connection broke, or could not be opened.
    UpstreamError { detail: String },
    /// The session lasted its maximum length.
    MaxDuration,
    /// Nothing was sent either way for the idle timeout.
    IdleTimeout,
    /// The client sent more messages per second than allowed.
    MessageRate,
    /// A client frame was larger than allowed.
    FrameTooLarge { limit: usize },
    /// A client frame broke the protocol (not JSON, unknown or out of order).
    InvalidMessage { detail: String },
    /// The session's setup named a model this client may not use, or none
    /// the gateway serves.
    Refused { detail: String },
    /// The client did not read what was sent to it in time.
    ClientTooSlow,
    /// The gateway is shutting down and the drain period is over.
    Shutdown,
    /// The end user's data is being erased (the admin API's erasure).
    Erased,
}

/// WebSocket close reasons are at most 123 bytes.
const MAX_REASON_BYTES: usize = 123;

impl Ending {
    /// The close code sent to the client.
    pub fn code(&self) -> u16 {
        match self {
            Ending::ClientClosed { code } | Ending::UpstreamClosed { code, .. } => *code,
            Ending::ClientGone => 1006,
            Ending::UpstreamError { .. } => 1011,
            Ending::MaxDuration => 4000,
            Ending::IdleTimeout => 4001,
            Ending::MessageRate => 4002,
            Ending::ClientTooSlow => 4003,
            Ending::FrameTooLarge { .. } => 1009,
            Ending::InvalidMessage { .. } => 1007,
            Ending::Refused { .. } => 1008,
            Ending::Shutdown => 1001,
            Ending::Erased => 4004,
        }
    }

    /// The machine name kept in the session record and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Ending::ClientClosed { .. } => "client_closed",
            Ending::ClientGone => "client_disconnected",
            Ending::UpstreamClosed { .. } => "upstream_closed",
            Ending::UpstreamError { .. } => "upstream_error",
            Ending::MaxDuration => "max_duration",
            Ending::IdleTimeout => "idle_timeout",
            Ending::MessageRate => "message_rate",
            Ending::FrameTooLarge { .. } => "frame_too_large",
            Ending::InvalidMessage { .. } => "invalid_message",
            Ending::Refused { .. } => "refused",
            Ending::ClientTooSlow => "client_too_slow",
            Ending::Shutdown => "shutdown",
            Ending::Erased => "erased",
        }
    }

    /// The close frame's reason: short, and never user content or a key.
    pub fn reason(&self) -> String {
        let text = match self {
            Ending::ClientClosed { .. } | Ending::ClientGone => String::new(),
            Ending::UpstreamClosed { reason, .. } => reason.clone(),
            Ending::UpstreamError { detail } => format!("upstream error: {detail}"),
            Ending::MaxDuration => "session reached its maximum length".into(),
            Ending::IdleTimeout => "session idle for too long".into(),
            Ending::MessageRate => "too many messages per second".into(),
            Ending::FrameTooLarge { limit } => format!("frame larger than {limit} bytes"),
            Ending::InvalidMessage { detail } | Ending::Refused { detail } => detail.clone(),
            Ending::ClientTooSlow => "client did not read in time".into(),
            Ending::Shutdown => "server shutting down".into(),
            Ending::Erased => "the end user's data was erased".into(),
        };
        truncate(text, MAX_REASON_BYTES)
    }
}

/// Cuts `text` to at most `limit` bytes, on a character boundary.
pub fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_a_close_frame_on_a_char_boundary() {
        let ending = Ending::InvalidMessage {
            detail: "é".repeat(100),
        };
        let reason = ending.reason();
        assert!(reason.len() <= MAX_REASON_BYTES);
        assert_eq!(reason.len() % 2, 0);
        assert_eq!(ending.code(), 1007);
    }

    #[test]
    fn limits_have_their_own_codes() {
        let codes: Vec<u16> = [
            Ending::MaxDuration,
            Ending::IdleTimeout,
            Ending::MessageRate,
            Ending::ClientTooSlow,
        ]
        .iter()
        .map(Ending::code)
        .collect();
        assert_eq!(codes, [4000, 4001, 4002, 4003]);
        assert_eq!(Ending::FrameTooLarge { limit: 1 }.code(), 1009);
        assert_eq!(Ending::Shutdown.code(), 1001);
    }
}
