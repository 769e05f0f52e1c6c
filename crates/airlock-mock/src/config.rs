//! Run-time configuration of the simulator: the PRNG seed, the latency
//! profile, the injected fault and the realtime echo mode.

use std::time::Duration;

/// How a [`crate::MockServer`] behaves until told otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockConfig {
    /// Mixed into every deterministic choice (text, tool arguments, vectors).
    pub seed: u64,
    /// Delays applied to generation and embedding responses.
    pub latency: Latency,
    /// A fault applied to every provider request, if any.
    pub fault: Option<Fault>,
    /// Realtime echo mode, for relay benchmarks: every input audio chunk
    /// of a Gemini Live or OpenAI Realtime session is answered at once with
    /// one output audio message carrying the same bytes, and nothing else
    /// (see the crate documentation).
    pub live_echo: bool,
}

/// Artificial delays of a generation.
///
/// A stream sends its first chunk after `first_token` and every further chunk
/// `per_chunk` after the previous one. A non-streaming answer is held back for
/// as long as the equivalent stream would take to deliver its last chunk. A
/// realtime model turn waits `first_token` before its first content message
/// and `per_chunk` before each further one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    pub first_token: Duration,
    pub per_chunk: Duration,
}

/// How long a stalled answer ([`Fault::StallAfterChunks`]) holds its
/// connection at most before aborting it.
pub const STALL_LIMIT: Duration = Duration::from_secs(300);

/// A failure injected into provider requests (never into `/healthz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP error status (400..=599), in the provider's own
    /// error body shape.
    Status(u16),
    /// Answer 429 asking to wait this many seconds (OpenAI: a `Retry-After`
    /// header; Gemini: `RetryInfo.retryDelay` in the body, as Google does), and the
    /// provider's own quota error body.
    RateLimit { retry_after_secs: u64 },
    /// Streaming: deliver this many chunks, then abort the connection without
    /// the stream's terminator. Non-streaming: send the headers, then abort
    /// before the body. Realtime sessions: deliver this many model content
    /// messages (Gemini `serverContent` with `modelTurn` or
    /// `outputTranscription`, and `toolCall`; OpenAI `response.*.delta`
    /// events), then drop the TCP connection without a close frame.
    DisconnectAfterChunks(usize),
    /// HTTP requests only (realtime sessions ignore it): a provider that
    /// stalls. Streaming: deliver this many chunks, then send nothing more
    /// while keeping the connection open. Non-streaming: send the headers,
    /// then no body. The connection is aborted after [`STALL_LIMIT`] if the
    /// client has not gone away by then.
    StallAfterChunks(usize),
    /// HTTP requests only (realtime sessions ignore it): close the
    /// connection without answering (not even a status line), as a
    /// provider whose connection is reset does.
    Reset,
    /// Wait this long before sending the response headers (for realtime
    /// sessions, the `101 Switching Protocols` answer).
    SlowHeaders(Duration),
    /// Realtime sessions only (HTTP requests ignore it): Gemini Live sends
    /// `{"goAway": {"timeLeft": ...}}` right after `setupComplete`, OpenAI
    /// Realtime nothing; when `time_left` has passed, Gemini closes the
    /// socket with 1011 and OpenAI sends a `session_expired` error event and
    /// closes with 1000.
    GoAway { time_left: Duration },
}
