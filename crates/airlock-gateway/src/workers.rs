//! Serving on several threads: one single-threaded Tokio runtime per worker,
//! each with its own listening socket on the same address (`SO_REUSEPORT`),
//! so the kernel spreads new connections across the workers and everything a
//! connection's requests do (the request, the provider call over that
//! thread's own connection pool, the answer, the log record's hand-off)
//! happens on one thread, with no task moved or woken across threads
//! (bench/PROFILE.md: fewer instructions and less kernel time per request
//! than the work-stealing runtime).
//!
//! Worker 0 is the runtime that calls [`crate::serve`]; the others are
//! threads started here, which end when serving has stopped and realtime
//! sessions have drained.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::oneshot;

/// Pending connections a socket holds before they are accepted (tokio's own
/// `TcpListener::bind` uses the same).
const BACKLOG: i32 = 1024;

/// Listening sockets bound to one address: one per worker.
pub struct Listeners {
    sockets: Vec<std::net::TcpListener>,
    local_addr: SocketAddr,
}

impl Listeners {
    /// Binds `workers` sockets (at least one) to `addr`. Port 0 is resolved
    /// by the first and the others share the port it got. An address another
    /// process already listens on is refused, as a plain bind would refuse
    /// it, although the sockets share their port among themselves.
    pub fn bind(addr: SocketAddr, workers: usize) -> io::Result<Self> {
        let local_addr = {
            // Without SO_REUSEPORT: fails if anything listens there already.
            let probe = std::net::TcpListener::bind(addr)?;
            probe.local_addr()?
        };
        let sockets = (0..workers.max(1))
            .map(|_| shared_port_socket(local_addr))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Listeners {
            sockets,
            local_addr,
        })
    }

    /// One listener already bound, served by the calling runtime alone.
    pub fn single(listener: tokio::net::TcpListener) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        Ok(Listeners {
            sockets: vec![listener.into_std()?],
            local_addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub(crate) fn into_sockets(self) -> Vec<std::net::TcpListener> {
        self.sockets
    }
}

fn shared_port_socket(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Runs what `work` makes on a new thread with its own single-threaded
/// runtime; the returned future ends with its result.
pub(crate) fn on_own_thread<F, Fut>(
    index: usize,
    work: F,
) -> impl Future<Output = io::Result<()>> + use<F, Fut>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = io::Result<()>>,
{
    let (done, finished) = oneshot::channel();
    let started = std::thread::Builder::new()
        .name(format!("airlock-worker-{index}"))
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| runtime.block_on(work()));
            let _ = done.send(result);
        });
    async move {
        started?;
        finished
            .await
            .unwrap_or_else(|_| Err(io::Error::other("a worker thread ended without a result")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn workers_share_the_port_the_first_socket_got() {
        let listeners = Listeners::bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let port = listeners.local_addr().port();
        assert_ne!(port, 0);
        let sockets = listeners.into_sockets();
        assert_eq!(sockets.len(), 3);
        for socket in &sockets {
            assert_eq!(socket.local_addr().unwrap().port(), port);
        }
    }

    #[tokio::test]
    async fn an_address_in_use_is_refused() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let error = Listeners::bind(taken.local_addr().unwrap(), 2)
            .err()
            .expect("the port is taken");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    }

    #[tokio::test]
    async fn a_second_gateway_cannot_join_a_running_ones_port() {
        let first = Listeners::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let error = Listeners::bind(first.local_addr(), 2)
            .err()
            .expect("the port is served");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    }
}
