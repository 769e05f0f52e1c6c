//! Rate-based bans, as Cloud Armor's `rate_based_ban`: a client address
//! that sends more than a threshold of requests within a window is refused
//! for a while, whatever key it uses. In cluster mode the counts and bans
//! are shared in Redis (an address banned by one instance is banned by
//! all); while Redis is down, each instance counts alone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock_cluster::{BanVerdict, Cluster};

use super::buckets::Buckets;

/// When to ban and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanPolicy {
    /// Requests allowed within `window`...
    pub requests: u64,
    pub window: Duration,
    /// ...before the address is refused for this long.
    pub ban: Duration,
}

pub struct Bans {
    policy: BanPolicy,
    counts: Buckets,
    banned: Mutex<HashMap<IpAddr, Instant>>,
    shared: Option<Arc<Cluster>>,
}

impl Bans {
    pub fn new(policy: BanPolicy) -> Self {
        Bans {
            policy,
            counts: Buckets::default(),
            banned: Mutex::default(),
            shared: None,
        }
    }

    /// Counts and bans in Redis, shared by every instance.
    pub fn shared(mut self, cluster: Arc<Cluster>) -> Self {
        self.shared = Some(cluster);
        self
    }

    /// Counts a request from `ip`; `Err` holds how long it stays banned.
    pub async fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if let Some(cluster) = &self.shared {
            let policy = &self.policy;
            let address = ip.to_string();
            match cluster
                .check_ban(&address, policy.requests, policy.window, policy.ban)
                .await
            {
                Ok(BanVerdict::Allowed) => return Ok(()),
                Ok(BanVerdict::Banned { left, new }) => {
                    if new {
                        tracing::warn!(%ip, ban_secs = policy.ban.as_secs(), "client address banned for exceeding the request rate");
                    }
                    return Err(left);
                }
                Err(_) => {
                    metrics::counter!("airlock_redis_fallbacks_total", "policy" => "local")
                        .increment(1);
                }
            }
        }
        self.check_locally(ip, Instant::now())
    }

    /// Counts a request from `ip` on this instance alone.
    fn check_locally(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let Ok(mut banned) = self.banned.lock() else {
            return Ok(());
        };
        if let Some(until) = banned.get(&ip) {
            if *until > now {
                return Err(*until - now);
            }
            banned.remove(&ip);
        }
        let decision = self.counts.take(
            &ip.to_string(),
            self.policy.requests,
            self.policy.window,
            1,
            now,
        );
        if decision.allowed {
            return Ok(());
        }
        tracing::warn!(%ip, ban_secs = self.policy.ban.as_secs(), "client address banned for exceeding the request rate");
        banned.retain(|_, until| *until > now);
        banned.insert(ip, now + self.policy.ban);
        Err(self.policy.ban)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_past_the_threshold_then_forgives() {
        let bans = Bans::new(BanPolicy {
            requests: 3,
            window: Duration::from_secs(60),
            ban: Duration::from_secs(600),
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(bans.check_locally(ip, start).is_ok());
        }
        assert_eq!(bans.check_locally(ip, start), Err(Duration::from_secs(600)));
        assert!(
            bans.check_locally(other, start).is_ok(),
            "other addresses are not affected"
        );
        let later = start + Duration::from_secs(300);
        assert_eq!(bans.check_locally(ip, later), Err(Duration::from_secs(300)));
        assert!(
            bans.check_locally(ip, start + Duration::from_secs(601))
                .is_ok()
        );
    }
}
