//! Whether a provider's host can be reached, for readiness: learnt from real
//! calls (an answer, or a failure to connect with its cause), and probed
//! with a TCP connect when nothing recent is known or the last news was a
//! failure, so a provider that comes back is noticed without traffic.
//!
//! Recording an answer is an atomic store (it is on every call); the lock is
//! taken only while a failure is the latest news.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use url::Url;

/// An answer this recent makes a probe needless.
const FRESH: Duration = Duration::from_secs(10);
/// How long a probe's connect may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) struct Reachability {
    epoch: Instant,
    /// When the provider last answered, in ms after `epoch` (0: never).
    last_answer_ms: AtomicU64,
    /// Whether the latest news is a failure (its cause in `cause`).
    failing: AtomicBool,
    cause: Mutex<Option<String>>,
}

impl Reachability {
    pub(crate) fn new() -> Self {
        Reachability {
            epoch: Instant::now(),
            last_answer_ms: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            cause: Mutex::new(None),
        }
    }

    /// The provider answered (whatever the status).
    pub(crate) fn answered(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.last_answer_ms.store(now.max(1), Ordering::Relaxed);
        if self.failing.load(Ordering::Relaxed) {
            self.failing.store(false, Ordering::Relaxed);
            *self.cause.lock().expect("not poisoned") = None;
        }
    }

    /// The provider could not be reached; `cause` names why (no secrets).
    pub(crate) fn failed(&self, cause: String) {
        *self.cause.lock().expect("not poisoned") = Some(cause);
        self.failing.store(true, Ordering::Relaxed);
    }

    /// Reachable, or why not: from a recent answer, or else a probe of
    /// `base_url`'s host and port.
    pub(crate) async fn check(&self, base_url: &Url) -> Result<(), String> {
        let last = self.last_answer_ms.load(Ordering::Relaxed);
        let now = self.epoch.elapsed().as_millis() as u64;
        if !self.failing.load(Ordering::Relaxed)
            && last != 0
            && now.saturating_sub(last) < FRESH.as_millis() as u64
        {
            return Ok(());
        }
        match probe(base_url).await {
            Ok(()) => {
                self.answered();
                Ok(())
            }
            Err(cause) => {
                self.failed(cause.clone());
                Err(cause)
            }
        }
    }
}

/// A TCP connect to the URL's host and port.
async fn probe(base_url: &Url) -> Result<(), String> {
    let host = base_url.host_str().ok_or("the base URL has no host")?;
    let port = base_url
        .port_or_known_default()
        .ok_or("the base URL has no port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(PROBE_TIMEOUT, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("cannot connect to {host}:{port}: {error}")),
        Err(_) => Err(format!(
            "no connection to {host}:{port} within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// An error and its causes, outermost first ("error sending request: client
/// error (Connect): tcp connect error: Connection refused"), each told once.
pub(crate) fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let told = cause.to_string();
        if !text.contains(&told) {
            text.push_str(": ");
            text.push_str(&told);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failure_is_news_until_a_probe_or_an_answer_says_otherwise() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let reachability = Reachability::new();
        reachability.failed("connection refused".into());
        // The failure is not trusted forever: the probe finds the port open.
        assert_eq!(reachability.check(&url).await, Ok(()));
        drop(listener);
        // A recent answer needs no probe, even with the port now closed.
        assert_eq!(reachability.check(&url).await, Ok(()));
        reachability.failed("connection refused".into());
        let cause = reachability.check(&url).await.unwrap_err();
        assert!(cause.starts_with("cannot connect to 127.0.0.1:"), "{cause}");
        reachability.answered();
        assert_eq!(reachability.check(&url).await, Ok(()));
    }

    #[test]
    fn causes_are_joined_once_each() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(
            with_causes(&Outer(io)),
            "error sending request: Connection refused"
        );
    }
}
