//! Cluster mode: realtime sessions per key and per project counted across
//! instances in Redis (`max_sessions_per_key`, `max_sessions_per_project`),
//! each session's place held under its instance's lease, so a killed
//! instance's sessions stop counting once its heartbeat is gone.

use std::sync::Arc;

use airlock_cluster::{Check, Cluster, Outcome, SettleItem};

use super::registry::OpenRefusal;
use crate::limits::WhenDown;
use crate::tenancy::KeyGrant;

/// The counts shared by the instances, and what to do while Redis is down.
pub struct SharedSessionCounts {
    cluster: Arc<Cluster>,
    when_down: WhenDown,
}

/// Where a session's place was counted.
pub enum Counted {
    /// In Redis: given back when this is dropped.
    Shared(SharedPlace),
    /// On this instance alone (no limit to count, or Redis is down and the
    /// policy counts locally).
    Here,
}

/// A session's place in the shared counts.
pub struct SharedPlace {
    cluster: Arc<Cluster>,
    names: Vec<String>,
}

impl SharedSessionCounts {
    pub fn new(cluster: Arc<Cluster>, when_down: WhenDown) -> Self {
        SharedSessionCounts { cluster, when_down }
    }

    /// Takes a place for a session of `grant` within the limits.
    pub async fn take(
        &self,
        grant: Option<&KeyGrant>,
        per_key: Option<u32>,
        per_project: Option<u32>,
    ) -> Result<Counted, OpenRefusal> {
        let Some(grant) = grant else {
            return Ok(Counted::Here);
        };
        let scopes = [
            ("key", &grant.key.id, per_key),
            ("project", &grant.project.id, per_project),
        ];
        let limited: Vec<(&'static str, String, u32)> = scopes
            .into_iter()
            .filter_map(|(scope, id, max)| Some((scope, format!("sessions:{scope}:{id}"), max?)))
            .collect();
        if limited.is_empty() {
            return Ok(Counted::Here);
        }
        let checks: Vec<Check> = limited
            .iter()
            .map(|(_, name, max)| Check::Concurrency {
                name: name.clone(),
                max: *max,
            })
            .collect();
        match self.cluster.admit(&checks).await {
            Ok(Outcome::Refused { index, .. }) => {
                let (scope, _, limit) = limited[index];
                Err(OpenRefusal::TooMany { scope, limit })
            }
            Ok(_) => Ok(Counted::Shared(SharedPlace {
                cluster: self.cluster.clone(),
                names: limited.into_iter().map(|(_, name, _)| name).collect(),
            })),
            Err(_) => {
                let policy = match self.when_down {
                    WhenDown::Local => "local",
                    WhenDown::Refuse => "refuse",
                };
                metrics::counter!("airlock_redis_fallbacks_total", "policy" => policy).increment(1);
                match self.when_down {
                    WhenDown::Local => Ok(Counted::Here),
                    WhenDown::Refuse => Err(OpenRefusal::Unavailable),
                }
            }
        }
    }
}

impl Drop for SharedPlace {
    fn drop(&mut self) {
        let items: Vec<SettleItem> = self
            .names
            .drain(..)
            .map(|name| SettleItem::Concurrency { name })
            .collect();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let cluster = self.cluster.clone();
        runtime.spawn(async move {
            // Not given back: the place goes with this instance's lease.
            if let Err(error) = cluster.settle(&items).await {
                tracing::warn!(%error, "releasing a realtime session's shared place failed");
            }
        });
    }
}
