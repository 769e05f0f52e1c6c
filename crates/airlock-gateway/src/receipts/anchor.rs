//! Anchoring: the latest checkpoint published outside Airlock at an
//! interval, to a webhook (an external transparency log, a ledger, an
//! archive), signed as every Airlock webhook is (`x-airlock-signature`).
//! A checkpoint is published once the log has grown past the last one
//! published; a failed delivery is tried again at the next interval.

use std::sync::Arc;
use std::time::Duration;

use airlock_receipts::Hash;
use serde_json::json;

use super::Receipts;
use crate::webhook::{self, Outcome, Webhook};

/// Where and how often checkpoints are published.
pub struct Anchor {
    webhook: Webhook,
    interval: Duration,
}

/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Waits before a delivery's second and third attempts.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];

impl Anchor {
    /// Checks the URL (http or https, with a host), the secret (not empty)
    /// and the interval (not zero).
    pub fn new(url: &str, secret: &str, interval: Duration) -> Result<Anchor, String> {
        if interval.is_zero() {
            return Err("the anchor interval must be more than zero".into());
        }
        let webhook = Webhook::new(webhook::client()?, url, secret, TIMEOUT, "anchor webhook")?;
        Ok(Anchor { webhook, interval })
    }
}

/// Publishes the latest checkpoint every interval while the gateway runs.
pub(super) fn spawn(receipts: Arc<Receipts>) -> Option<tokio::task::JoinHandle<()>> {
    let interval = receipts.anchor.as_ref()?.interval;
    Some(tokio::spawn(async move {
        let mut published = 0;
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            published = publish(&receipts, published).await;
        }
    }))
}

/// Publishes the latest checkpoint if it is larger than `published`;
/// gives the size now published.
async fn publish(receipts: &Receipts, published: u64) -> u64 {
    let Some(anchor) = &receipts.anchor else {
        return published;
    };
    let checkpoint = match receipts.latest().await {
        Ok(Some(checkpoint)) if checkpoint.size > published => checkpoint,
        Ok(_) => return published,
        Err(error) => {
            tracing::warn!(%error, "cannot read the checkpoint to anchor; trying at the next interval");
            return published;
        }
    };
    let body = json!({
        "type": "receipts.checkpoint",
        "origin": receipts.origin,
        "size": checkpoint.size,
        "root_hash": Hash::to_base64(&checkpoint.root),
        "checkpoint": checkpoint.note,
    })
    .to_string();
    let (outcome, attempts) = anchor
        .webhook
        .post_with_retry(body.as_bytes(), &[], &RETRY_DELAYS)
        .await;
    match outcome {
        Outcome::Delivered(_) => {
            tracing::info!(size = checkpoint.size, webhook = %anchor.webhook.origin(), "receipts checkpoint anchored");
            checkpoint.size
        }
        Outcome::Refused(status) => {
            tracing::warn!(status = status.as_u16(), webhook = %anchor.webhook.origin(), "the anchor webhook refused the checkpoint; trying at the next interval");
            published
        }
        Outcome::GaveUp(reason) => {
            tracing::warn!(reason, attempts, webhook = %anchor.webhook.origin(), "the anchor webhook did not take the checkpoint; trying at the next interval");
            published
        }
    }
}
