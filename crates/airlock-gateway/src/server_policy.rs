//! What the HTTP server allows its clients: how long a request's headers and
//! body may take, how long a connection may idle between requests, how many
//! connections and how many bytes of request bodies it holds at once, and
//! how long a graceful shutdown waits for the connections still open.
//!
//! None of these limits applies to an answer being sent: a stream (SSE, a
//! realtime session) is never cut by them.

use std::time::Duration;

/// The server's limits on clients (see the module documentation).
#[derive(Debug, Clone)]
pub struct ServerPolicy {
    /// A request's headers must have arrived this long after the
    /// connection was accepted (its first request) or after the first byte
    /// of the request (later requests on a kept-alive connection).
    pub header_timeout: Duration,
    /// A connection with no request in flight and no request arriving is
    /// closed after this long.
    pub keep_alive_timeout: Duration,
    /// The longest pause while a request body arrives; also the time a body
    /// has before its average rate is held to `body_min_rate`.
    pub body_timeout: Duration,
    /// The slowest a request body may arrive, in bytes per second, on
    /// average past its first `body_timeout`; 0: no minimum.
    pub body_min_rate: u64,
    /// Connections open at once; over it a new connection is closed at
    /// once. `None`: no cap.
    pub max_connections: Option<usize>,
    /// Bytes of request bodies held at once, across the process; `None`:
    /// four times the body size limit.
    pub body_budget_bytes: Option<usize>,
    /// How long a graceful shutdown lets open connections finish before it
    /// closes them.
    pub shutdown_grace: Duration,
}

impl Default for ServerPolicy {
    fn default() -> Self {
        ServerPolicy {
            header_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            body_min_rate: 1024,
            max_connections: None,
            body_budget_bytes: None,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl ServerPolicy {
    /// The body budget in bytes for a body size limit of `max_body_bytes`.
    pub fn body_budget(&self, max_body_bytes: usize) -> usize {
        self.body_budget_bytes
            .unwrap_or_else(|| max_body_bytes.saturating_mul(4))
    }
}
