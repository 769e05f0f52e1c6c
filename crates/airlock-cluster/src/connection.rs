//! The connection to Redis: one multiplexed connection that reconnects by
//! itself with backoff, a bound on every call so a dead server fails
//! requests fast instead of hanging them, the instance's heartbeat, and
//! whether Redis answers (`airlock_redis_up`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::ClusterError;

/// How to reach Redis and how this instance appears there.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
    pub url: String,
    /// Every key and channel starts with this and a colon, so several
    /// gateways (or tests) can share one Redis.
    pub key_prefix: String,
    /// How long an instance's counts outlive its last heartbeat.
    pub lease: Duration,
    /// The longest a call may take before it counts as a failure.
    pub timeout: Duration,
}

/// This instance's handle on the shared state.
pub struct Cluster {
    pub(crate) connection: ConnectionManager,
    pub(crate) client: redis::Client,
    pub(crate) prefix: String,
    /// Random, per process: names this instance's counts.
    pub(crate) instance: String,
    lease: Duration,
    up: AtomicBool,
    /// When the last "Redis unreachable" warning was logged (ms).
    last_warned_ms: AtomicI64,
}

impl Cluster {
    /// Prepares the connection (made on first use, so a Redis that is down
    /// at start delays nothing: calls fail until it is back). A URL that
    /// cannot be parsed is an error now.
    pub fn new(settings: &ClusterSettings) -> Result<Arc<Cluster>, ClusterError> {
        let client = redis::Client::open(settings.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(settings.timeout))
            .set_connection_timeout(Some(settings.timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(2));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        let cluster = Arc::new(Cluster {
            connection,
            client,
            prefix: settings.key_prefix.clone(),
            instance: format!("{:016x}", fastrand::u64(..)),
            lease: settings.lease,
            up: AtomicBool::new(true),
            last_warned_ms: AtomicI64::new(0),
        });
        metrics::gauge!("airlock_redis_up").set(1.0);
        Ok(cluster)
    }

    /// This instance's name in the shared counts.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// Sends one heartbeat now, then keeps sending them (three per lease)
    /// until the cluster is dropped. Returns the first heartbeat's outcome.
    pub async fn start_heartbeat(self: &Arc<Self>) -> Result<(), ClusterError> {
        let first = self.heartbeat().await;
        let weak = Arc::downgrade(self);
        let every = self.lease / 3;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(cluster) = weak.upgrade() else {
                    return;
                };
                let _ = cluster.heartbeat().await;
            }
        });
        first
    }

    async fn heartbeat(&self) -> Result<(), ClusterError> {
        let key = self.key(&["instance", &self.instance]);
        let mut connection = self.connection.clone();
        let result: Result<(), ClusterError> = redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("PX")
            .arg(self.lease.as_millis() as u64)
            .query_async(&mut connection)
            .await
            .map_err(ClusterError::from);
        self.observe(&result);
        result
    }

    /// Records whether a call reached Redis: the `airlock_redis_up` gauge,
    /// an error counter, and a warning at most every ten seconds.
    pub(crate) fn observe<T>(&self, result: &Result<T, ClusterError>) {
        match result {
            Ok(_) => {
                if !self.up.swap(true, Ordering::AcqRel) {
                    metrics::gauge!("airlock_redis_up").set(1.0);
                    tracing::info!("Redis answers again");
                }
            }
            Err(error) => {
                metrics::counter!("airlock_redis_errors_total").increment(1);
                if self.up.swap(false, Ordering::AcqRel) {
                    metrics::gauge!("airlock_redis_up").set(0.0);
                }
                let now = now_ms();
                let last = self.last_warned_ms.load(Ordering::Acquire);
                if now - last >= 10_000
                    && self
                        .last_warned_ms
                        .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    tracing::error!(%error, "Redis is unreachable: shared limits fall back to the failure policy");
                }
            }
        }
    }

    /// How long this instance's counts outlive its last heartbeat.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Whether the last call reached Redis.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
