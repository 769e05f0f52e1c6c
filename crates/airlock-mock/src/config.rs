//! Run-time configuration of the simulator: the PRNG seed, the latency
//! profile and the injected fault.

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
}

/// Artificial delays of a generation.
///
/// A stream sends its first chunk after `first_token` and every further chunk
/// `per_chunk` after the previous one. A non-streaming answer is held back for
/// as long as the equivalent stream would take to deliver its last chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    pub first_token: Duration,
    pub per_chunk: Duration,
}

/// A failure injected into provider requests (never into `/healthz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP error status (400..=599), in the provider's own
    /// error body shape.
    Status(u16),
    /// Answer 429 with a `Retry-After` header of this many seconds and the
    /// provider's own quota error body.
    RateLimit { retry_after_secs: u64 },
    /// Streaming: deliver this many chunks, then abort the connection without
    /// the stream's terminator. Non-streaming: send the headers, then abort
    /// before the body.
    DisconnectAfterChunks(usize),
    /// Wait this long before sending the response headers.
    SlowHeaders(Duration),
}
