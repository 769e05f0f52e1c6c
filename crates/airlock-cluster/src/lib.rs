//! Airlock's state shared by its instances, in Redis: what must hold
//! across instances exactly (rate, concurrency and budget admission; bans;
//! ephemeral tokens and their use counts) and the events that tell every
//! instance a project or key changed.
//!
//! Every admission is one atomic Lua script, one round trip: it checks all
//! of a request's limits, then takes them all or none. Time is the Redis
//! server's, so clock skew between instances does not matter. Counts that
//! an instance holds (requests in flight, budget reservations) are kept per
//! instance beside a heartbeat key; when an instance dies its heartbeat
//! expires and the others drop its counts, so a killed instance cannot pin
//! a limit.
//!
//! The scripts touch keys they derive (the heartbeats), so this runs on a
//! single Redis (or a replicated primary), not Redis Cluster.

mod admission;
mod bans;
mod connection;
mod events;
mod tokens;

pub use admission::{Check, Outcome, RateState, SettleItem};
pub use bans::BanVerdict;
pub use connection::{Cluster, ClusterSettings};
pub use events::Event;
pub use tokens::{Redeemed, StoredToken};

/// Why a call to Redis failed: unreachable, timed out, or an answer that
/// makes no sense. The gateway applies its failure policy.
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct ClusterError(pub(crate) String);

impl From<redis::RedisError> for ClusterError {
    fn from(error: redis::RedisError) -> Self {
        // The error's text never holds the URL's password.
        ClusterError(error.to_string())
    }
}

/// Whether `url` names a Redis this crate can connect to (`redis://`,
/// `rediss://`); the error never repeats the URL (it may hold a password).
pub fn check_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err("must start with redis:// or rediss://".into());
    }
    redis::Client::open(url)
        .map(drop)
        .map_err(|error| format!("not a Redis URL ({})", error.category()))
}
