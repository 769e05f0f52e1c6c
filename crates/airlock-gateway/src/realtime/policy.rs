//! The limits every realtime session runs under (`[realtime]` in the
//! configuration file).

use std::time::Duration;

/// Session limits. Each one ends a session with its own close code.
#[derive(Debug, Clone, PartialEq)]
pub struct RealtimePolicy {
    /// Longest a session may last (close 4000). The client gets a Gemini
    /// `goAway` [`GO_AWAY_NOTICE`] before.
    pub max_session: Duration,
    /// Longest a session may go without a frame either way (close 4001).
    pub idle_timeout: Duration,
    /// Sessions open at once per key and per project (refused with 429).
    pub max_sessions_per_key: Option<u32>,
    pub max_sessions_per_project: Option<u32>,
    /// Largest client frame (close 1009).
    pub max_frame_bytes: usize,
    /// Client messages per second (close 4002).
    pub max_messages_per_sec: Option<u32>,
    /// How long sessions may go on after shutdown begins (close 1001).
    pub drain: Duration,
    /// Whether input and output transcriptions are kept with the session record.
    pub store_transcripts: bool,
}

/// How long before its maximum length a Gemini session is told to go away.
pub const GO_AWAY_NOTICE: Duration = Duration::from_secs(10);

impl Default for RealtimePolicy {
    fn default() -> Self {
        RealtimePolicy {
            max_session: Duration::from_secs(30 * 60),
            idle_timeout: Duration::from_secs(5 * 60),
            max_sessions_per_key: None,
            max_sessions_per_project: None,
            max_frame_bytes: 4 * 1024 * 1024,
            max_messages_per_sec: Some(100),
            drain: Duration::from_secs(20),
            store_transcripts: true,
        }
    }
}
