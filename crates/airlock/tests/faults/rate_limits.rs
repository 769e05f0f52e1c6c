//! 429 storms with `Retry-After`. A provider asking to wait longer than
//! `max_delay_ms` is not retried but fallen back from at once (and a route
//! that does not fall back on rate limits passes the 429 on, with its
//! `Retry-After`); one asking for less is retried, never before the delay
//! it asked for, and its one key is not called while it rests. Rate limits
//! never open the circuit.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinSet;

use crate::harness::{
    BY_BACKUP, BY_PRIMARY, Gateway, Mock, Setup, assert_logged_once, await_logged,
};
use crate::memory::RssWatch;

/// Requests in a storm: more than the retry budget's reserve of ten, where
/// nothing is retried.
const STORM: usize = 12;
/// Requests in a storm that is retried: fewer than the reserve.
const RETRIED_STORM: usize = 8;

/// `n` concurrent chat completions for `model`, ids `{prefix}-{i}`.
async fn storm(
    gateway: &std::sync::Arc<Gateway>,
    n: usize,
    model: &str,
    prefix: &str,
) -> Vec<crate::harness::Answer> {
    let mut requests = JoinSet::new();
    for i in 0..n {
        let gateway = gateway.clone();
        let (model, id) = (model.to_string(), format!("{prefix}-{i}"));
        requests.spawn(async move { gateway.chat(&model, &id).await });
    }
    requests.join_all().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_storm_asking_longer_than_max_delay_falls_back_at_once_without_retrying() {
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::new(&primary, &backup);
    assert!(setup.max_delay_ms < 3000);
    let gateway = std::sync::Arc::new(Gateway::start(&setup, dir.path(), &[]));
    let memory = RssWatch::start(gateway.pid());
    primary
        .add_rule(json!({"provider": "openai", "fault": "rate-limit=3"}))
        .await;

    let before = gateway.metrics().await;
    let answers = storm(&gateway, STORM, "smart", "storm-long").await;
    let after = gateway.metrics().await;
    for answer in &answers {
        assert!(answer.is_acknowledged_completion(), "{answer:?}");
        assert_eq!(answer.served_by.as_deref(), Some(BY_BACKUP), "{answer:?}");
        assert!(
            answer.took < Duration::from_millis(2500),
            "fell back without waiting the 3 s asked: {:?}",
            answer.took
        );
    }
    assert_eq!(after.retries("primary") - before.retries("primary"), 0.0);
    assert_eq!(
        after.fallbacks("rate_limits") - before.fallbacks("rate_limits"),
        STORM as f64
    );
    // One call each at most: none was made again.
    let calls = after.calls("primary") - before.calls("primary");
    assert!((1.0..=STORM as f64).contains(&calls), "{calls} calls");
    assert_eq!(
        after.circuit_opened("primary"),
        0.0,
        "rate limits do not open the circuit"
    );

    // A route that falls back on errors only passes the 429 on, at once.
    let answer = gateway.chat("smart-on-errors", "storm-errors-only").await;
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY));
    let retry_after: u64 = answer.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=3).contains(&retry_after), "{retry_after}");
    assert!(!answer.error_message().is_empty());
    assert!(
        answer.took < Duration::from_millis(2500),
        "{:?}",
        answer.took
    );
    // So does a route with no fallback.
    let answer = gateway.chat("solo", "storm-solo").await;
    assert_eq!(answer.status, 429, "{answer:?}");
    assert!(answer.retry_after.is_some());

    let mut ids: Vec<String> = (0..STORM).map(|i| format!("storm-long-{i}")).collect();
    ids.extend(["storm-errors-only", "storm-solo"].map(String::from));
    let records = await_logged(&ids, || gateway.logged()).await;
    let sent: HashSet<String> = ids.iter().cloned().collect();
    assert_logged_once(&records, &ids, &sent);
    for record in records.iter().filter(|r| r.id.starts_with("storm-long")) {
        assert_eq!(record.provider.as_deref(), Some("backup"), "{record:?}");
    }
    memory.assert_bounded("429 storm, long Retry-After");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_storm_asking_less_than_max_delay_is_retried_after_at_least_that_delay() {
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::new(&primary, &backup);
    assert!(setup.max_delay_ms > 1000);
    let gateway = std::sync::Arc::new(Gateway::start(&setup, dir.path(), &[]));

    // One request: a 429 asking for 1 s, then the answer.
    primary
        .add_rule(json!({"provider": "openai", "fault": "rate-limit=1", "times": 1}))
        .await;
    let before = gateway.metrics().await;
    let answer = gateway.chat("smart", "short-one").await;
    let after = gateway.metrics().await;
    assert!(answer.is_acknowledged_completion(), "{answer:?}");
    assert_eq!(
        answer.served_by.as_deref(),
        Some(BY_PRIMARY),
        "retried, not fallen back"
    );
    assert!(
        answer.took >= Duration::from_secs(1),
        "retried after {:?}",
        answer.took
    );
    assert_eq!(
        after.sum(
            "airlock_upstream_retries_total",
            &[("provider", "primary"), ("trigger", "rate_limits")]
        ) - before.sum(
            "airlock_upstream_retries_total",
            &[("provider", "primary"), ("trigger", "rate_limits")]
        ),
        1.0
    );
    assert_eq!(after.all_fallbacks() - before.all_fallbacks(), 0.0);
    assert_eq!(after.calls("primary") - before.calls("primary"), 2.0);

    // A storm: the first request's 429 rests the one key for 1 s; the
    // requests that come while it rests wait it out and are answered by
    // the primary, which is not called until the rest is over.
    primary
        .add_rule(json!({"provider": "openai", "fault": "rate-limit=1", "times": 1}))
        .await;
    let before = gateway.metrics().await;
    let first = {
        let gateway = gateway.clone();
        tokio::spawn(async move { gateway.chat("smart", "short-storm-first").await })
    };
    let limited = |m: &crate::metrics::Metrics| {
        m.sum(
            "airlock_upstream_requests_total",
            &[("provider", "primary"), ("status", "429")],
        )
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while limited(&gateway.metrics().await) == limited(&before) {
        assert!(std::time::Instant::now() < deadline, "the 429 never came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answers = storm(&gateway, RETRIED_STORM, "smart", "short-storm").await;
    let first = first.await.unwrap();
    let after = gateway.metrics().await;
    assert!(first.took >= Duration::from_secs(1), "{first:?}");
    for answer in answers.iter().chain([&first]) {
        assert!(answer.is_acknowledged_completion(), "{answer:?}");
        assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY), "{answer:?}");
    }
    // Each storm request came within moments of the 429 and waited out
    // (most of) the second it asked for.
    for answer in &answers {
        assert!(
            answer.took >= Duration::from_millis(500),
            "answered {:?} after it was sent, while the key rested",
            answer.took
        );
    }
    let retries = after.retries("primary") - before.retries("primary");
    let most = f64::from(setup.max_retries) * (RETRIED_STORM + 1) as f64;
    assert!(
        retries >= (RETRIED_STORM + 1) as f64 && retries <= most,
        "{retries} retries"
    );
    assert_eq!(after.all_fallbacks() - before.all_fallbacks(), 0.0);
    assert_eq!(
        after.calls("primary") - before.calls("primary"),
        RETRIED_STORM as f64 + 2.0,
        "the 429, then one call per request: none while the key rested"
    );
    assert_eq!(after.circuit_opened("primary"), 0.0);
}
