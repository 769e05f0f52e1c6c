//! The cap on open connections, shared by every worker, and accepting under
//! it: a connection over the cap is accepted and closed at once, so the
//! listening socket's backlog does not fill and the connections already
//! open (a probe's `/healthz` among them) go on being served; the cap frees
//! a place as each connection closes.
//!
//! The default cap keeps descriptors in reserve below the process's limit
//! (see [`cap_for_descriptor_limit`]): accepting one more connection, then
//! closing it, always finds a descriptor, and so do the provider calls,
//! the database and the logs.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use metrics::{Counter, Gauge, counter, gauge};
use tokio::net::{TcpListener, TcpStream};

use super::watchdog::{Activity, Tracked};
use crate::metrics::{CONNECTIONS_CLOSED, CONNECTIONS_OPEN, CONNECTIONS_REFUSED};

/// Descriptors kept for everything but client connections (the database,
/// log files, listening sockets, idle provider connections).
const RESERVED_DESCRIPTORS: u64 = 256;
/// The pause after an accept that failed for want of resources.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The default cap for an open-files limit: half of what is left after a
/// reserve (of 256, or of half the limit when it is small), as a client
/// connection may hold a second descriptor: its provider call's connection,
/// or a realtime session's upstream socket.
pub fn cap_for_descriptor_limit(limit: u64) -> usize {
    let spare = limit.saturating_sub(RESERVED_DESCRIPTORS.min(limit / 2));
    usize::try_from(spare / 2).unwrap_or(usize::MAX).max(1)
}

/// Open connections across the workers, their cap, and their metrics.
pub(crate) struct Connections {
    cap: usize,
    open: AtomicUsize,
    /// Set when the cap refused a connection, cleared once well below it:
    /// the log says when the cap is reached, not each refusal.
    at_cap: AtomicBool,
    /// Set when a shutdown's deadline passed and the connections still open
    /// are being closed.
    cutting: AtomicBool,
    /// Connections a shutdown's deadline closed: with a request in flight,
    /// and waiting for one (idle, or its headers or body still arriving).
    cut_busy: AtomicUsize,
    cut_waiting: AtomicUsize,
    open_gauge: Gauge,
    refused_over_cap: Counter,
    accept_failed: Counter,
    closed_header_timeout: Counter,
    closed_idle: Counter,
    closed_shutdown: Counter,
}

/// A place under the cap, held for as long as its connection's socket is open.
pub(crate) struct Slot(Arc<Connections>);

/// Why the server closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// A request's headers did not arrive in time.
    HeaderTimeout,
    /// No request came in time.
    IdleTimeout,
}

impl Connections {
    pub(crate) fn new(cap: Option<usize>) -> Arc<Self> {
        let closed = |reason: &'static str| counter!(CONNECTIONS_CLOSED, "reason" => reason);
        Arc::new(Connections {
            cap: cap.unwrap_or(usize::MAX),
            open: AtomicUsize::new(0),
            at_cap: AtomicBool::new(false),
            cutting: AtomicBool::new(false),
            cut_busy: AtomicUsize::new(0),
            cut_waiting: AtomicUsize::new(0),
            open_gauge: gauge!(CONNECTIONS_OPEN),
            refused_over_cap: counter!(CONNECTIONS_REFUSED, "reason" => "limit"),
            accept_failed: counter!(CONNECTIONS_REFUSED, "reason" => "accept_error"),
            closed_header_timeout: closed("header_timeout"),
            closed_idle: closed("idle_timeout"),
            closed_shutdown: closed("shutdown_deadline"),
        })
    }

    /// A place for a new connection, or `None` over the cap (counted).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Slot> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.cap {
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.refused_over_cap.increment(1);
            if !self.at_cap.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    cap = self.cap,
                    "the connection cap is reached: new connections are closed at once"
                );
            }
            return None;
        }
        self.open_gauge.increment(1.0);
        Some(Slot(self.clone()))
    }

    pub(crate) fn record_closed(&self, why: Closed) {
        match why {
            Closed::HeaderTimeout => self.closed_header_timeout.increment(1),
            Closed::IdleTimeout => self.closed_idle.increment(1),
        }
    }

    /// The shutdown deadline has passed: the connections dropped from now
    /// on are cut.
    pub(crate) fn begin_cutting(&self) {
        self.cutting.store(true, Ordering::Release);
    }

    /// A connection dropped before it ended: counted when the shutdown
    /// deadline cut it.
    pub(crate) fn record_cut(&self, busy: bool) {
        if !self.cutting.load(Ordering::Acquire) {
            return;
        }
        self.closed_shutdown.increment(1);
        let tally = if busy {
            &self.cut_busy
        } else {
            &self.cut_waiting
        };
        tally.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections the shutdown deadline closed: (with a request in flight,
    /// waiting for one).
    pub(crate) fn cut(&self) -> (usize, usize) {
        (
            self.cut_busy.load(Ordering::Relaxed),
            self.cut_waiting.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let connections = &self.0;
        let was = connections.open.fetch_sub(1, Ordering::AcqRel);
        connections.open_gauge.decrement(1.0);
        // Below nine tenths of the cap, reaching it again is news.
        if was <= connections.cap / 10 * 9 {
            connections.at_cap.store(false, Ordering::Relaxed);
        }
    }
}

/// The next connection admitted under the cap, its read activity watched
/// (see [`super::watchdog`]). Connections over the cap are closed as they
/// come; an accept that fails for want of descriptors or memory is counted
/// and retried after a pause.
pub(crate) async fn accept(
    listener: &TcpListener,
    connections: &Arc<Connections>,
) -> (Tracked<TcpStream>, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let Some(slot) = connections.admit() else {
                    drop(tcp);
                    // A flood of refusals must not starve the connections served here.
                    tokio::task::yield_now().await;
                    continue;
                };
                // Streams are written chunk by chunk: without TCP_NODELAY,
                // Nagle's algorithm holds small chunks back.
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::warn!(%error, "cannot set TCP_NODELAY");
                }
                return (Tracked::new(tcp, Activity::new(slot)), peer);
            }
            // The peer gave up before it was accepted: nothing to do.
            Err(error) if is_peer_error(&error) => {}
            Err(error) => {
                connections.accept_failed.increment(1);
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

fn is_peer_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_keeps_descriptors_in_reserve() {
        assert_eq!(cap_for_descriptor_limit(1024), 384);
        assert_eq!(cap_for_descriptor_limit(1_048_576), 524_160);
        // A small limit keeps half in reserve.
        assert_eq!(cap_for_descriptor_limit(256), 64);
        assert_eq!(cap_for_descriptor_limit(0), 1);
    }

    #[tokio::test]
    async fn the_cap_refuses_then_frees_places() {
        let connections = Connections::new(Some(2));
        let first = connections.admit().expect("under the cap");
        let _second = connections.admit().expect("at the cap");
        assert!(connections.admit().is_none());
        drop(first);
        assert!(connections.admit().is_some());
    }
}
