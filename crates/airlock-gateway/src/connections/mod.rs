//! Client connections on one worker: accepted under the cap ([`cap`]),
//! served by hyper (HTTP/1.1 with upgrades, and h2) with each request's body
//! guarded ([`crate::body_guard`]), timed out while they wait too long for a
//! request ([`watchdog`]), and closed when a graceful shutdown outlasts its
//! deadline.
//!
//! On shutdown a worker stops accepting and asks each connection to finish
//! (an idle HTTP/1 connection closes, an h2 connection is sent GOAWAY, a
//! request in flight is answered); connections still open when the grace
//! period ends are closed and counted. A connection upgraded to a WebSocket
//! is no longer hyper's and is not among them: realtime sessions have their
//! own drain.

mod cap;
mod file_sends;
mod watchdog;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use cap::cap_for_descriptor_limit;
pub(crate) use cap::{Connections, accept};
pub use file_sends::{FileBytes, FileSends};
pub(crate) use watchdog::{Activity, OverTls, Tracked, Watched};

use crate::body_guard::BodyGuard;
use crate::server_policy::ServerPolicy;
use file_sends::PlainTcp;
use watchdog::Order;

/// How long an h2 connection told to go away (GOAWAY) may take to close.
const GO_AWAY_GRACE: Duration = Duration::from_secs(5);
/// How long an h2 keep-alive ping may go unanswered before the connection
/// is taken for dead.
const PING_TIMEOUT: Duration = Duration::from_secs(20);

/// Plain TCP connections admitted under the cap.
pub(crate) struct PlainListener {
    listener: TcpListener,
    connections: Arc<Connections>,
}

impl PlainListener {
    pub(crate) fn new(listener: TcpListener, connections: Arc<Connections>) -> Self {
        PlainListener {
            listener,
            connections,
        }
    }
}

impl Listener for PlainListener {
    type Io = Tracked<PlainTcp>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, peer) = accept(&self.listener, &self.connections).await;
        (tcp.map(PlainTcp::new), peer)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// What every connection of a server is served with.
#[derive(Clone)]
pub(crate) struct Served {
    pub app: Router,
    pub policy: Arc<ServerPolicy>,
    pub connections: Arc<Connections>,
    pub bodies: Arc<BodyGuard>,
    pub stop: watch::Receiver<bool>,
}

/// Serves `listener`'s connections until `stop` is set, then lets them
/// finish for the policy's grace period and closes those still open.
pub(crate) async fn serve<L>(mut listener: L, served: Served)
where
    L: Listener<Addr = SocketAddr>,
    L::Io: Watched + AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = TowerToHyperService::new(served.app.clone());
    let (policy, connections) = (served.policy.clone(), served.connections.clone());
    let mut open = JoinSet::new();
    let stopping = stopped(served.stop.clone());
    let mut stopping = std::pin::pin!(stopping);
    loop {
        tokio::select! {
            (io, peer) = listener.accept() => {
                open.spawn(serve_connection(io, peer, app.clone(), served.clone()));
            }
            Some(_) = open.join_next(), if !open.is_empty() => {}
            () = &mut stopping => break,
        }
    }
    drop(listener);
    let finished = async { while open.join_next().await.is_some() {} };
    if tokio::time::timeout(policy.shutdown_grace, finished)
        .await
        .is_err()
    {
        // Each connection counts itself as it is dropped (`Cut`).
        connections.begin_cutting();
        open.shutdown().await;
    }
}

/// Logs how the connections' shutdown went, once every worker has finished.
pub(crate) fn report_shutdown(connections: &Connections, grace: Duration) {
    match connections.cut() {
        (0, 0) => tracing::info!("every connection finished within the shutdown grace period"),
        (busy, waiting) => tracing::warn!(
            cut = busy + waiting,
            with_a_request_in_flight = busy,
            waiting_for_a_request = waiting,
            grace_secs = grace.as_secs_f64(),
            "connections still open when the shutdown grace period ended were closed"
        ),
    }
}

async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    app: TowerToHyperService<Router>,
    served: Served,
) where
    I: Watched + AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = io.activity().clone();
    let watchdog = AbortOnDrop(tokio::spawn(keep_watch(
        activity.clone(),
        served.policy.clone(),
        served.connections.clone(),
        served.stop.clone(),
    )));
    let file_sends = io.file_sends().cloned();
    let encrypted = io.encrypted();
    let service = {
        let (activity, bodies) = (activity.clone(), served.bodies.clone());
        hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let in_flight = activity.begin(request.version());
            let (mut parts, body) = request.into_parts();
            // The admin API's audit entries and address bans read it.
            parts.extensions.insert(ConnectInfo(peer));
            if encrypted {
                parts.extensions.insert(OverTls);
            }
            // HTTP/1 only: h2 copies bodies into its frames.
            if let Some(sends) = file_sends
                .as_ref()
                .filter(|_| parts.version < http::Version::HTTP_2)
            {
                parts.extensions.insert(sends.clone());
            }
            let (answer, share) = match bodies.guard(body) {
                Ok((body, share)) => (
                    app.call(http::Request::from_parts(parts, Body::new(body))),
                    Some(share),
                ),
                Err(empty) => (
                    app.call(http::Request::from_parts(parts, Body::new(empty))),
                    None,
                ),
            };
            async move {
                let response = answer.await?;
                drop(share);
                Ok::<_, Infallible>(
                    response.map(|body| crate::watched_body::watch(body, in_flight)),
                )
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The watchdog times requests' headers (see `watchdog`).
    builder.http1().header_read_timeout(None);
    builder
        .http2()
        // WebSockets over h2 (RFC 8441), as axum's own server offers them.
        .enable_connect_protocol()
        .timer(TokioTimer::new())
        .keep_alive_interval(served.policy.keep_alive_timeout)
        .keep_alive_timeout(PING_TIMEOUT);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    // Declared after the connection, so dropped before it: it sees the
    // requests the connection still had in flight.
    let mut cut = Cut {
        connections: served.connections.clone(),
        activity: activity.clone(),
        armed: true,
    };
    let mut seen = Order::None;
    loop {
        tokio::select! {
            _ = connection.as_mut() => break,
            order = activity.next_order(&mut seen) => match order {
                Order::Finish => connection.as_mut().graceful_shutdown(),
                Order::Close | Order::None => break,
            },
        }
    }
    // Ended by itself, not cut.
    cut.armed = false;
    drop(watchdog);
}

/// A connection's watchdog (see [`watchdog`]): tells the connection to
/// finish when the server stops, and to close when it waited too long (an
/// h2 connection is first sent GOAWAY).
async fn keep_watch(
    activity: Arc<Activity>,
    policy: Arc<ServerPolicy>,
    connections: Arc<Connections>,
    stop: watch::Receiver<bool>,
) {
    let why = tokio::select! {
        why = activity.expired(&policy) => why,
        () = stopped(stop) => {
            activity.order(Order::Finish);
            // Finishing, it may still wait too long (a request's headers).
            activity.expired(&policy).await
        }
    };
    connections.record_closed(why);
    if activity.is_http2() {
        activity.order(Order::Finish);
        tokio::time::sleep(GO_AWAY_GRACE).await;
    }
    activity.order(Order::Close);
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts its connection as cut by the shutdown deadline when the
/// connection's task is dropped before it ended.
struct Cut {
    connections: Arc<Connections>,
    activity: Arc<Activity>,
    armed: bool,
}

impl Drop for Cut {
    fn drop(&mut self) {
        if self.armed {
            self.connections.record_cut(self.activity.is_busy());
        }
    }
}

/// Resolves once the flag is set (or its sender is gone).
async fn stopped(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}
