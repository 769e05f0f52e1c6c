//! Each connection's watchdog: what the connection is doing (requests in
//! flight, bytes arriving) and when it has waited too long.
//!
//! A connection is only ever timed out while no request is in flight, that
//! is, from the moment its last answer ended (the answer's last byte left,
//! or the answer was dropped) until the headers of its next request have
//! arrived. Within that time:
//! - its first request's headers must arrive within the header timeout of
//!   the accept;
//! - later, with nothing arriving, it may idle for the keep-alive timeout;
//! - once the first byte of an HTTP/1 request has arrived, its headers must
//!   follow within the header timeout. (HTTP/2 connections carry frames
//!   other than requests, pings among them: those are held to the
//!   keep-alive timeout alone.)
//!
//! Bytes that arrived while a request was still in flight (a pipelined
//! request) do not start the header clock: such a connection is held to the
//! keep-alive timeout.
//!
//! hyper's HTTP/1 `header_read_timeout` cannot express this: its timer
//! starts when a connection goes idle, so it would close every idle
//! keep-alive connection after the header timeout.
//!
//! Nothing on a request's path wakes the watchdog: it runs in a task of its
//! own that looks at the connection at least once per the shorter timeout,
//! which is often enough to meet every deadline exactly, and it gives its
//! orders (finish, close) to the connection's task through [`Activity`],
//! which that task polls for the price of an atomic load.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use http::Version;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::cap::{Closed, Slot};
use super::file_sends::{FileSends, PlainTcp};
use crate::server_policy::ServerPolicy;
use crate::watched_body::Watcher;

/// What one connection is doing; shared by its socket, its requests and its
/// watchdog. Holds the connection's place under the cap until the last of
/// them is gone (an upgraded connection's socket outlives the others).
pub(crate) struct Activity {
    accepted: Instant,
    /// Set while the connection waits for the first byte of its next request.
    awaiting_first_byte: AtomicBool,
    phase: Mutex<Phase>,
    /// The watchdog's order to the connection's task ([`Order`] as a
    /// number), and that task's waker.
    order: AtomicU8,
    order_waker: AtomicWaker,
    _slot: Slot,
}

/// What the watchdog tells a connection's task to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Order {
    /// Nothing yet.
    None = 0,
    /// Finish the requests in flight, take no more (graceful shutdown).
    Finish = 1,
    /// Close the connection now.
    Close = 2,
}

impl Order {
    fn from_u8(value: u8) -> Order {
        match value {
            0 => Order::None,
            1 => Order::Finish,
            _ => Order::Close,
        }
    }
}

struct Phase {
    in_flight: usize,
    /// A request has arrived on this connection.
    served: bool,
    http2: bool,
    /// When the last request in flight ended.
    idle_since: Instant,
    /// When the first byte after `idle_since` arrived (HTTP/1).
    first_byte: Option<Instant>,
}

impl Activity {
    pub(crate) fn new(slot: Slot) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Activity {
            accepted: now,
            awaiting_first_byte: AtomicBool::new(false),
            phase: Mutex::new(Phase {
                in_flight: 0,
                served: false,
                http2: false,
                idle_since: now,
                first_byte: None,
            }),
            order: AtomicU8::new(Order::None as u8),
            order_waker: AtomicWaker::new(),
            _slot: slot,
        })
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on_read(&self) {
        if self.awaiting_first_byte.swap(false, Ordering::AcqRel) {
            self.phase().first_byte = Some(Instant::now());
        }
    }

    /// A request has arrived (its headers read); it is in flight until the
    /// returned guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>, version: Version) -> InFlight {
        let mut phase = self.phase();
        phase.in_flight += 1;
        phase.served = true;
        phase.http2 |= version == Version::HTTP_2;
        self.awaiting_first_byte.store(false, Ordering::Release);
        InFlight(self.clone())
    }

    fn end(&self) {
        let mut phase = self.phase();
        phase.in_flight = phase.in_flight.saturating_sub(1);
        if phase.in_flight == 0 {
            phase.idle_since = Instant::now();
            phase.first_byte = None;
            self.awaiting_first_byte.store(true, Ordering::Release);
        }
    }

    /// Tells the connection's task to do `order` (an order never goes back:
    /// a closed connection is not then merely finished).
    pub(crate) fn order(&self, order: Order) {
        let previous = self.order.fetch_max(order as u8, Ordering::AcqRel);
        if previous < order as u8 {
            self.order_waker.wake();
        }
    }

    /// The connection task's side: resolves with the next order past `seen`.
    pub(crate) fn next_order<'a>(
        &'a self,
        seen: &'a mut Order,
    ) -> impl Future<Output = Order> + 'a {
        std::future::poll_fn(move |cx| {
            let order = Order::from_u8(self.order.load(Ordering::Acquire));
            if order > *seen {
                *seen = order;
                return Poll::Ready(order);
            }
            self.order_waker.register(cx.waker());
            // An order given between the load and the registration.
            let order = Order::from_u8(self.order.load(Ordering::Acquire));
            if order > *seen {
                *seen = order;
                return Poll::Ready(order);
            }
            Poll::Pending
        })
    }

    pub(crate) fn is_http2(&self) -> bool {
        self.phase().http2
    }

    pub(crate) fn is_busy(&self) -> bool {
        self.phase().in_flight > 0
    }

    /// When the connection's wait runs out, and which timeout that is;
    /// `None` while a request is in flight.
    fn deadline(&self, policy: &ServerPolicy) -> Option<(Instant, Closed)> {
        let phase = self.phase();
        if phase.in_flight > 0 {
            None
        } else if !phase.served {
            Some((self.accepted + policy.header_timeout, Closed::HeaderTimeout))
        } else if let (Some(first_byte), false) = (phase.first_byte, phase.http2) {
            Some((first_byte + policy.header_timeout, Closed::HeaderTimeout))
        } else {
            Some((
                phase.idle_since + policy.keep_alive_timeout,
                Closed::IdleTimeout,
            ))
        }
    }

    /// Resolves when the connection has waited too long (see the module
    /// documentation), with the timeout that ran out.
    pub(crate) async fn expired(&self, policy: &ServerPolicy) -> Closed {
        // No phase lasts less than this: a deadline that a change of phase
        // brings is at least this far from the change, so looking again
        // this often meets it exactly.
        // (At least a millisecond, so that a zero timeout cannot spin.)
        let look_again = policy
            .header_timeout
            .min(policy.keep_alive_timeout)
            .max(std::time::Duration::from_millis(1));
        loop {
            let now = Instant::now();
            let wake = match self.deadline(policy) {
                Some((at, why)) if at <= now => return why,
                Some((at, _)) => at.min(now + look_again),
                None => now + look_again,
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

/// A request in flight on its connection, until dropped: with its answer's
/// body, which tells when the answer ended.
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

impl Watcher for InFlight {
    fn ended(self, _complete: bool) {}
}

/// A connection's socket, telling its [`Activity`] when bytes arrive.
pub(crate) struct Tracked<IO> {
    io: IO,
    activity: Arc<Activity>,
}

impl<IO> Tracked<IO> {
    pub(crate) fn new(io: IO, activity: Arc<Activity>) -> Self {
        Tracked { io, activity }
    }

    /// The same connection over another socket type wrapping this one.
    pub(crate) fn map<Other>(self, wrap: impl FnOnce(IO) -> Other) -> Tracked<Other> {
        Tracked {
            io: wrap(self.io),
            activity: self.activity,
        }
    }
}

/// A socket whose connection's [`Activity`] is known.
pub(crate) trait Watched {
    fn activity(&self) -> &Arc<Activity>;

    /// Where answers register bytes to be sent from their files, on a
    /// socket that can (see [`super::file_sends`]).
    fn file_sends(&self) -> Option<&FileSends> {
        None
    }

    /// Whether the connection is TLS (its requests then carry [`OverTls`]).
    fn encrypted(&self) -> bool {
        false
    }
}

/// A request's extension when it came over TLS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverTls;

impl Watched for Tracked<TcpStream> {
    fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl Watched for Tracked<PlainTcp> {
    fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    fn file_sends(&self) -> Option<&FileSends> {
        Some(self.io.file_sends())
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connections::cap::Connections;
    use std::time::Duration;

    fn policy() -> ServerPolicy {
        ServerPolicy {
            header_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            ..ServerPolicy::default()
        }
    }

    fn activity() -> Arc<Activity> {
        Activity::new(Connections::new(None).admit().unwrap())
    }

    #[tokio::test]
    async fn each_phase_has_its_own_deadline() {
        let policy = policy();
        let activity = activity();
        // The first request: headers within the header timeout of the accept.
        let (at, why) = activity.deadline(&policy).unwrap();
        assert_eq!(
            (at, why),
            (
                activity.accepted + policy.header_timeout,
                Closed::HeaderTimeout
            )
        );
        let request = activity.begin(Version::HTTP_11);
        assert!(
            activity.deadline(&policy).is_none(),
            "never while in flight"
        );
        drop(request);
        // Idle between requests: the keep-alive timeout.
        let (_, why) = activity.deadline(&policy).unwrap();
        assert_eq!(why, Closed::IdleTimeout);
        // A byte of the next request: its headers within the header timeout.
        activity.on_read();
        let (_, why) = activity.deadline(&policy).unwrap();
        assert_eq!(why, Closed::HeaderTimeout);
    }

    #[tokio::test]
    async fn http2_frames_between_requests_do_not_start_the_header_clock() {
        let policy = policy();
        let activity = activity();
        drop(activity.begin(Version::HTTP_2));
        activity.on_read();
        let (_, why) = activity.deadline(&policy).unwrap();
        assert_eq!(why, Closed::IdleTimeout);
    }
}
