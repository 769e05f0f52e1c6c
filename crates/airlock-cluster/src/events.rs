//! Change events between instances by Redis pub/sub: an instance that
//! changes projects or keys publishes, every instance (itself included)
//! hears it and reloads. A subscriber that loses its connection reconnects
//! with backoff and reports a (re)connection as an event too, since it may
//! have missed some while away.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::{Cluster, ClusterError};

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Projects or keys (a key revoked, a project's limits changed).
    Tenancy,
    /// The subscription was (re)established: anything may have changed.
    Resubscribed,
}

const TENANCY: &str = "tenancy";

impl Cluster {
    fn channel(&self) -> String {
        self.key(&["events"])
    }

    /// Tells every instance that projects or keys changed.
    pub async fn publish_tenancy_changed(&self) -> Result<(), ClusterError> {
        let mut connection = self.connection.clone();
        let result = redis::cmd("PUBLISH")
            .arg(self.channel())
            .arg(TENANCY)
            .query_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(ClusterError::from);
        self.observe(&result);
        result
    }

    /// Calls `on_event` for every event until the cluster is dropped.
    pub fn subscribe(
        self: &Arc<Self>,
        on_event: impl Fn(Event) + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let Some(cluster) = weak.upgrade() else {
                    return;
                };
                let (client, channel) = (cluster.client.clone(), cluster.channel());
                drop(cluster);
                match listen(&client, &channel, &on_event).await {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(error) => {
                        tracing::warn!(%error, "Redis change events interrupted; reconnecting");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        })
    }
}

/// Subscribes and hands events over until the connection ends.
async fn listen(
    client: &redis::Client,
    channel: &str,
    on_event: &(impl Fn(Event) + Send + Sync),
) -> Result<(), ClusterError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    on_event(Event::Resubscribed);
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        if message.get_payload::<String>().is_ok_and(|p| p == TENANCY) {
            on_event(Event::Tenancy);
        }
    }
    Err(ClusterError("the subscription's connection closed".into()))
}
