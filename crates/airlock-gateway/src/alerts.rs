//! Budget alerts: a signed webhook POST when a scope's spend crosses 50 %,
//! 80 % and 100 % of its budget.
//!
//! [`BudgetAlerts::spend_changed`] is called on the request path after a
//! request's cost is added to a scope's spend. It decides, in memory, which
//! thresholds the change crossed and queues one alert per threshold on a
//! bounded channel; one background task delivers them in order. The caller
//! never waits: a full queue drops the alert and logs it.
//!
//! An alert is sent at most once per (scope, period start, threshold) in this
//! process. Crossing is judged from the totals before and after the change,
//! so a restarted process does not repeat alerts for thresholds its scopes
//! had already passed.
//!
//! Deliveries are signed webhooks ([`crate::webhook`]); each carries the
//! alert's id in `x-airlock-alert-id`, the same for every attempt.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch};
use url::Url;

use crate::clock;
use crate::webhook::{self, Outcome, Webhook};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-airlock-signature";
/// The header carrying the alert's id (the same for each attempt).
pub const ALERT_ID_HEADER: &str = "x-airlock-alert-id";
/// The thresholds, in percent of the budget.
pub const THRESHOLDS: [u8; 3] = [50, 80, 100];
/// How many times one alert is tried before it is given up.
pub const MAX_ATTEMPTS: usize = 3;
/// The wait before the second and the third attempt.
pub const RETRY_DELAYS: [Duration; MAX_ATTEMPTS - 1] =
    [Duration::from_millis(500), Duration::from_secs(2)];
/// Alerts waiting for delivery beyond this many are dropped.
const QUEUE_CAPACITY: usize = 1024;

/// Where alerts go and how they are signed.
#[derive(Clone)]
pub struct WebhookConfig {
    /// An `http` or `https` URL.
    pub url: String,
    /// The HMAC-SHA256 key of the signatures; must not be empty.
    pub secret: String,
    /// Limit for one attempt (connect, send and the answer's headers).
    pub timeout: Duration,
}

impl WebhookConfig {
    /// The default [`WebhookConfig::timeout`].
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A config with the default timeout.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            secret: secret.into(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = Url::parse(&self.url)
            .map(|url| origin(&url))
            .unwrap_or_else(|_| "<invalid>".into());
        f.debug_struct("WebhookConfig")
            .field("url", &url)
            .field("secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Whose spend crossed a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertScope<'a> {
    Project { id: &'a str, name: &'a str },
    Key { id: &'a str, project_name: &'a str },
}

impl AlertScope<'_> {
    fn kind(&self) -> &'static str {
        match self {
            AlertScope::Project { .. } => "project",
            AlertScope::Key { .. } => "key",
        }
    }

    fn id(&self) -> &str {
        match self {
            AlertScope::Project { id, .. } | AlertScope::Key { id, .. } => id,
        }
    }

    fn project(&self) -> &str {
        match self {
            AlertScope::Project { name, .. } => name,
            AlertScope::Key { project_name, .. } => project_name,
        }
    }
}

/// Sends budget alerts to one webhook. Cloning is cheap and clones share the
/// queue, the delivery task and the record of alerts already sent.
#[derive(Clone)]
pub struct BudgetAlerts {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BudgetAlerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BudgetAlerts")
            .field("webhook", &self.inner.delivery.webhook.origin())
            .finish_non_exhaustive()
    }
}

struct Inner {
    delivery: Arc<Delivery>,
    queue: mpsc::Sender<Alert>,
    /// Taken (and the delivery task started) by the first alert queued, so
    /// that [`BudgetAlerts::new`] needs no Tokio runtime.
    receiver: Mutex<Option<mpsc::Receiver<Alert>>>,
    /// Alerts queued or being delivered.
    pending: Arc<watch::Sender<usize>>,
    /// Per scope (kind, id): the latest period start seen and the thresholds
    /// already alerted in it (bit i for `THRESHOLDS[i]`).
    sent: Mutex<Sent>,
}

/// (scope kind, scope id) → (period start, thresholds alerted).
type Sent = HashMap<(&'static str, String), (i64, u8)>;

/// What the delivery task needs, without the queue's sender (so dropping the
/// last [`BudgetAlerts`] ends the task).
struct Delivery {
    webhook: Webhook,
    retry_delays: [Duration; MAX_ATTEMPTS - 1],
    /// The latest alerts tried, newest last (what the dashboard lists).
    recent: Mutex<VecDeque<serde_json::Value>>,
}

/// How many tried alerts [`BudgetAlerts::recent`] remembers.
const RECENT_ALERTS: usize = 100;

/// One alert waiting for delivery.
#[derive(Debug, Clone)]
struct Alert {
    threshold: u8,
    scope: &'static str,
    id: String,
    project: String,
    budget_usd: f64,
    spent_usd: f64,
    period: &'static str,
    period_start_ms: i64,
}

impl BudgetAlerts {
    /// Checks the config (an `http`/`https` URL with a host, a non-empty
    /// secret, a non-zero timeout) and builds the HTTP client. Needs no
    /// runtime: the delivery task starts with the first alert.
    pub fn new(config: WebhookConfig) -> Result<Self, String> {
        Self::build(config, QUEUE_CAPACITY, RETRY_DELAYS)
    }

    fn build(
        config: WebhookConfig,
        capacity: usize,
        retry_delays: [Duration; MAX_ATTEMPTS - 1],
    ) -> Result<Self, String> {
        let webhook = Webhook::new(
            webhook::client()?,
            &config.url,
            &config.secret,
            config.timeout,
            "budget alert webhook",
        )?;
        let (queue, receiver) = mpsc::channel(capacity);
        let delivery = Delivery {
            webhook,
            retry_delays,
            recent: Mutex::default(),
        };
        Ok(BudgetAlerts {
            inner: Arc::new(Inner {
                delivery: Arc::new(delivery),
                queue,
                receiver: Mutex::new(Some(receiver)),
                pending: Arc::new(watch::Sender::new(0)),
                sent: Mutex::default(),
            }),
        })
    }

    /// Called after a request's cost is added to a scope's spend; `before`
    /// and `after` are that scope's totals for the period starting at
    /// `period_start_ms` (Unix milliseconds, UTC), `period` is `"day"` or
    /// `"month"`.
    ///
    /// Queues one alert per threshold the change crossed (`before` below it,
    /// `after` at or above it) and not yet alerted for this scope and period,
    /// lowest first. Never waits: delivery happens in the background, and an
    /// alert that finds the queue full is dropped and logged. Budgets that are
    /// zero, negative or not finite never alert.
    pub fn spend_changed(
        &self,
        scope: AlertScope<'_>,
        budget_usd: f64,
        period: &'static str,
        period_start_ms: i64,
        before: f64,
        after: f64,
    ) {
        let thresholds = self.crossed(scope, budget_usd, period_start_ms, before, after);
        if thresholds.is_empty() {
            return;
        }
        let Some(queue) = self.start() else {
            tracing::warn!(
                scope = scope.kind(),
                id = scope.id(),
                "budget alert dropped: no Tokio runtime to deliver it"
            );
            return;
        };
        for threshold in thresholds {
            let alert = Alert {
                threshold,
                scope: scope.kind(),
                id: scope.id().to_owned(),
                project: scope.project().to_owned(),
                budget_usd,
                spent_usd: after,
                period,
                period_start_ms,
            };
            self.inner.pending.send_modify(|n| *n += 1);
            if let Err(error) = queue.try_send(alert) {
                self.inner.pending.send_modify(|n| *n -= 1);
                let reason = match error {
                    mpsc::error::TrySendError::Full(_) => "the queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the delivery task has stopped",
                };
                tracing::warn!(
                    threshold_percent = threshold,
                    scope = scope.kind(),
                    id = scope.id(),
                    webhook = %self.inner.delivery.webhook.origin(),
                    "budget alert dropped: {reason}"
                );
            }
        }
    }

    /// The latest alerts tried since this process started, newest first.
    pub fn recent(&self) -> Vec<serde_json::Value> {
        let recent = self.inner.delivery.recent.lock();
        let recent = recent.unwrap_or_else(PoisonError::into_inner);
        recent.iter().rev().cloned().collect()
    }

    /// Waits until every alert queued so far is delivered or given up. Each
    /// alert may take up to three attempts of [`WebhookConfig::timeout`] plus
    /// the retry delays; callers bounding shutdown wrap this in a timeout.
    pub async fn flush(&self) {
        let mut pending = self.inner.pending.subscribe();
        // The sender lives in `self.inner`, so this cannot fail.
        let _ = pending.wait_for(|&n| n == 0).await;
    }

    /// The thresholds that this change crosses and that were not alerted yet
    /// for this scope and period, marked as alerted.
    fn crossed(
        &self,
        scope: AlertScope<'_>,
        budget_usd: f64,
        period_start_ms: i64,
        before: f64,
        after: f64,
    ) -> Vec<u8> {
        if !(budget_usd.is_finite() && budget_usd > 0.0 && before.is_finite() && after.is_finite())
            || after <= before
        {
            return Vec::new();
        }
        let reached = |spend: f64, percent: u8| spend * 100.0 >= budget_usd * f64::from(percent);
        let mut crossed = Vec::new();
        let Ok(mut sent) = self.inner.sent.lock() else {
            return crossed;
        };
        let slot = sent
            .entry((scope.kind(), scope.id().to_owned()))
            .or_insert((period_start_ms, 0));
        if period_start_ms > slot.0 {
            *slot = (period_start_ms, 0);
        } else if period_start_ms < slot.0 {
            // A late report for a period already over: its alerts no longer help.
            return crossed;
        }
        for (bit, &percent) in THRESHOLDS.iter().enumerate() {
            let mask = 1u8 << bit;
            if slot.1 & mask == 0 && !reached(before, percent) && reached(after, percent) {
                slot.1 |= mask;
                crossed.push(percent);
            }
        }
        crossed
    }

    /// The queue, starting the delivery task on first use; `None` outside a
    /// Tokio runtime.
    fn start(&self) -> Option<&mpsc::Sender<Alert>> {
        let mut receiver = self.inner.receiver.lock().ok()?;
        if let Some(rx) = receiver.take() {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                *receiver = Some(rx);
                return None;
            };
            runtime.spawn(deliver_all(
                rx,
                self.inner.delivery.clone(),
                self.inner.pending.clone(),
            ));
        }
        Some(&self.inner.queue)
    }
}

/// The delivery task: one alert at a time, in the order queued.
async fn deliver_all(
    mut queue: mpsc::Receiver<Alert>,
    delivery: Arc<Delivery>,
    pending: Arc<watch::Sender<usize>>,
) {
    while let Some(alert) = queue.recv().await {
        delivery.deliver(&alert).await;
        pending.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Delivery {
    async fn deliver(&self, alert: &Alert) {
        let alert_id = uuid::Uuid::new_v4().to_string();
        let body = alert_body(alert, &alert_id, clock::unix_secs());
        let headers = [(ALERT_ID_HEADER, alert_id.as_str())];
        let (outcome, attempt) = self
            .webhook
            .post_with_retry(&body, &headers, &self.retry_delays)
            .await;
        let webhook = self.webhook.origin();
        self.remember(alert, matches!(outcome, Outcome::Delivered(_)));
        match outcome {
            Outcome::Delivered(status) => tracing::info!(
                alert_id,
                threshold_percent = alert.threshold,
                scope = alert.scope,
                id = alert.id,
                webhook,
                status = status.as_u16(),
                attempt,
                "budget alert delivered"
            ),
            // Refused (a 4xx, not retried) or given up after the last attempt.
            not_delivered => tracing::warn!(
                alert_id,
                threshold_percent = alert.threshold,
                scope = alert.scope,
                id = alert.id,
                webhook,
                attempt,
                outcome = ?not_delivered,
                "budget alert not delivered"
            ),
        }
    }
}

impl Delivery {
    fn remember(&self, alert: &Alert, delivered: bool) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() == RECENT_ALERTS {
            recent.pop_front();
        }
        recent.push_back(json!({
            "at_ms": clock::now_ms(),
            "scope": alert.scope,
            "target": alert.id,
            "project": alert.project,
            "threshold_percent": alert.threshold,
            "spent_usd": alert.spent_usd,
            "budget_usd": alert.budget_usd,
            "period": alert.period,
            "delivered": delivered,
        }));
    }
}

/// The JSON body of one alert.
fn alert_body(alert: &Alert, alert_id: &str, now: u64) -> Vec<u8> {
    let body = json!({
        "type": "budget.threshold",
        "threshold_percent": alert.threshold,
        "scope": alert.scope,
        "id": alert.id,
        "project": alert.project,
        "budget_usd": alert.budget_usd,
        "spent_usd": round_micros(alert.spent_usd),
        "period": alert.period,
        "period_start": clock::rfc3339(alert.period_start_ms),
        "sent_at": clock::rfc3339(i64::try_from(now).unwrap_or(i64::MAX / 1000) * 1000),
        "alert_id": alert_id,
    });
    serde_json::to_vec(&body).expect("a JSON value serialises")
}

/// Dollars to the micro-dollar, so sums print as `0.3`, not `0.30000000000000004`.
fn round_micros(usd: f64) -> f64 {
    (usd * 1e6).round() / 1e6
}

/// `scheme://host[:port]`: what of the webhook URL may be logged.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: AlertScope<'static> = AlertScope::Project {
        id: "p1",
        name: "acme",
    };
    /// 2026-11-01T00:00:00Z and the month after, in milliseconds.
    const NOV: i64 = 1_793_491_200_000;
    const DEC: i64 = NOV + 30 * 86_400_000;

    fn alerts() -> BudgetAlerts {
        BudgetAlerts::new(WebhookConfig::new("http://127.0.0.1:9/hook", "s")).unwrap()
    }

    #[test]
    fn a_jump_crosses_every_threshold_between() {
        let a = alerts();
        assert_eq!(a.crossed(PROJECT, 10.0, NOV, 4.0, 12.0), vec![50, 80, 100]);
    }

    #[test]
    fn thresholds_are_crossed_one_at_a_time_and_never_twice() {
        let a = alerts();
        assert!(a.crossed(PROJECT, 10.0, NOV, 0.0, 4.99).is_empty());
        assert_eq!(
            a.crossed(PROJECT, 10.0, NOV, 4.99, 5.0),
            vec![50],
            "reaching counts"
        );
        assert!(a.crossed(PROJECT, 10.0, NOV, 5.0, 7.0).is_empty());
        assert_eq!(a.crossed(PROJECT, 10.0, NOV, 7.0, 9.0), vec![80]);
        // The same change again (a concurrent request) is not resent.
        assert!(a.crossed(PROJECT, 10.0, NOV, 7.0, 9.0).is_empty());
        assert!(a.crossed(PROJECT, 10.0, NOV, 4.0, 9.5).is_empty());
        assert_eq!(a.crossed(PROJECT, 10.0, NOV, 9.5, 10.5), vec![100]);
        assert!(a.crossed(PROJECT, 10.0, NOV, 4.0, 20.0).is_empty());
    }

    #[test]
    fn a_new_period_alerts_again() {
        let a = alerts();
        assert_eq!(a.crossed(PROJECT, 10.0, NOV, 4.0, 12.0), vec![50, 80, 100]);
        assert_eq!(a.crossed(PROJECT, 10.0, DEC, 4.0, 12.0), vec![50, 80, 100]);
        assert!(a.crossed(PROJECT, 10.0, DEC, 4.0, 12.0).is_empty());
        // A late report for November alerts nothing.
        assert!(a.crossed(PROJECT, 10.0, NOV, 0.0, 12.0).is_empty());
    }

    #[test]
    fn scopes_are_told_apart() {
        let a = alerts();
        let key = AlertScope::Key {
            id: "p1",
            project_name: "acme",
        };
        let other = AlertScope::Project {
            id: "p2",
            name: "other",
        };
        assert_eq!(a.crossed(PROJECT, 10.0, NOV, 0.0, 6.0), vec![50]);
        assert_eq!(a.crossed(key, 10.0, NOV, 0.0, 6.0), vec![50]);
        assert_eq!(a.crossed(other, 10.0, NOV, 0.0, 6.0), vec![50]);
    }

    #[test]
    fn starting_above_a_threshold_does_not_alert_it() {
        // As after a restart: only what this change crosses is sent.
        let a = alerts();
        assert_eq!(a.crossed(PROJECT, 10.0, NOV, 9.0, 10.0), vec![100]);
    }

    #[test]
    fn odd_budgets_and_spends_never_alert() {
        let a = alerts();
        for (budget, before, after) in [
            (0.0, 0.0, 1.0),
            (-1.0, 0.0, 1.0),
            (f64::NAN, 0.0, 1.0),
            (f64::INFINITY, 0.0, 1.0),
            (10.0, f64::NAN, 12.0),
            (10.0, 0.0, f64::NAN),
            (10.0, 12.0, 0.0),
        ] {
            assert!(a.crossed(PROJECT, budget, NOV, before, after).is_empty());
        }
    }

    #[test]
    fn the_config_is_checked() {
        let ok = |url: &str| BudgetAlerts::new(WebhookConfig::new(url, "s")).is_ok();
        assert!(ok("https://hooks.example.com/airlock?token=abc"));
        assert!(ok("http://127.0.0.1:8080/"));
        assert!(!ok("ftp://example.com/"));
        assert!(!ok("example.com/hook"));
        assert!(!ok("file:///etc/passwd"));
        assert!(!ok(""));
        let err =
            BudgetAlerts::new(WebhookConfig::new("https://x.example/?token=abc", "")).unwrap_err();
        assert!(err.contains("secret"), "{err}");
        let mut zero = WebhookConfig::new("https://x.example/", "s");
        zero.timeout = Duration::ZERO;
        assert!(BudgetAlerts::new(zero).is_err());
        // Errors never quote the URL.
        let err = BudgetAlerts::new(WebhookConfig::new("gopher://x/?token=abc", "s")).unwrap_err();
        assert!(!err.contains("token"), "{err}");
    }

    #[test]
    fn debug_hides_the_secret_and_the_query() {
        let config = WebhookConfig::new(
            "https://u:p@hooks.example.com/T1/B2/xyz?token=abc",
            "s3cret",
        );
        let shown = format!("{config:?}");
        assert!(shown.contains("https://hooks.example.com"), "{shown}");
        for hidden in ["s3cret", "token", "abc", "xyz", "u:p"] {
            assert!(!shown.contains(hidden), "{hidden} in {shown}");
        }
        let alerts = BudgetAlerts::new(config).unwrap();
        assert!(!format!("{alerts:?}").contains("token"));
    }

    #[test]
    fn the_body_has_every_field() {
        let alert = Alert {
            threshold: 80,
            scope: "key",
            id: "k1".into(),
            project: "acme".into(),
            budget_usd: 10.0,
            spent_usd: 0.1 + 0.2,
            period: "month",
            period_start_ms: NOV,
        };
        let body = alert_body(&alert, "a-1", 1_793_500_000);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            json!({
                "type": "budget.threshold",
                "threshold_percent": 80,
                "scope": "key",
                "id": "k1",
                "project": "acme",
                "budget_usd": 10.0,
                "spent_usd": 0.3,
                "period": "month",
                "period_start": "2026-11-01T00:00:00Z",
                "sent_at": "2026-11-01T02:26:40Z",
                "alert_id": "a-1",
            })
        );
    }

    #[tokio::test]
    async fn a_full_queue_drops_without_waiting() {
        let alerts = BudgetAlerts::build(
            WebhookConfig::new("http://127.0.0.1:9/hook", "s"),
            1,
            [Duration::ZERO; MAX_ATTEMPTS - 1],
        )
        .unwrap();
        // On this single-threaded runtime the delivery task cannot run yet:
        // the first alert fills the queue, the other two are dropped.
        alerts.spend_changed(PROJECT, 10.0, "month", NOV, 4.0, 12.0);
        assert_eq!(*alerts.inner.pending.borrow(), 1);
        // The one queued is tried (nothing listens on port 9) and given up.
        alerts.flush().await;
        assert_eq!(*alerts.inner.pending.borrow(), 0);
    }
}
