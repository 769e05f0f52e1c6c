//! A provider slower than `upstream_timeout_secs` (1 s here): its first
//! byte comes after 3 s, or its headers come and its body never does. The
//! client gets a 504 that names the timeout, in about the timeout and
//! not after the provider's delay, or the fallback's answer when its route
//! falls back on timeouts; a timed-out call is not retried, and a route
//! that does not fall back on timeouts does not.

use std::time::Duration;

use serde_json::json;

use crate::harness::{BY_BACKUP, BY_PRIMARY, Gateway, Mock, Setup, await_logged, record};

/// How long the provider makes its caller wait, well over the timeout.
const SLOW_MS: u64 = 3000;

/// Answered in about the timeout, not after the provider's delay.
fn in_about_the_timeout(took: Duration) -> bool {
    took >= Duration::from_millis(900) && took < Duration::from_millis(SLOW_MS - 500)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_byte_slower_than_the_upstream_timeout_is_a_504_naming_it_or_a_fallback() {
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::new(&primary, &backup);
    assert_eq!(setup.upstream_timeout_secs, 1);
    let gateway = Gateway::start(&setup, dir.path(), &[]);
    primary
        .add_rule(json!({"provider": "openai", "fault": format!("slow-headers-ms={SLOW_MS}")}))
        .await;

    let before = gateway.metrics().await;
    let answer = gateway.chat("solo", "slow-solo").await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(in_about_the_timeout(answer.took), "{:?}", answer.took);
    let message = answer.error_message();
    assert!(
        message.contains("timeout") && message.contains("primary"),
        "{message}"
    );
    let after = gateway.metrics().await;
    assert_eq!(
        after.retries("primary") - before.retries("primary"),
        0.0,
        "not retried"
    );
    assert_eq!(after.calls("primary") - before.calls("primary"), 1.0);

    // A route that falls back on timeouts (the default) answers from its fallback...
    let answer = gateway.chat("smart", "slow-smart").await;
    assert!(answer.is_acknowledged_completion(), "{answer:?}");
    assert_eq!(answer.served_by.as_deref(), Some(BY_BACKUP));
    assert!(in_about_the_timeout(answer.took), "{:?}", answer.took);
    let later = gateway.metrics().await;
    assert_eq!(
        later.fallbacks("timeouts") - after.fallbacks("timeouts"),
        1.0
    );

    // ...one that falls back on errors only does not.
    let answer = gateway.chat("smart-on-errors", "slow-errors-only").await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY));
    let last = gateway.metrics().await;
    assert_eq!(last.all_fallbacks() - later.all_fallbacks(), 0.0);

    let ids = ["slow-solo", "slow-smart", "slow-errors-only"].map(String::from);
    let records = await_logged(&ids, || gateway.logged()).await;
    let solo = record(&records, "slow-solo");
    assert_eq!((solo.status, solo.outcome.as_str()), (504, "error"));
    let smart = record(&records, "slow-smart");
    assert_eq!(
        (smart.status, smart.provider.as_deref()),
        (200, Some("backup"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complete_answer_whose_body_stalls_is_a_504_within_the_timeout_not_a_hang() {
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(&Setup::new(&primary, &backup), dir.path(), &[]);
    // The headers come at once, the body never.
    primary
        .add_rule(json!({"provider": "openai", "fault": "stall-after=0"}))
        .await;
    let answer = gateway.chat("solo", "stalled-body").await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(in_about_the_timeout(answer.took), "{:?}", answer.took);
    let message = answer.error_message();
    assert!(message.contains("timeout"), "{message}");
    let ids = ["stalled-body".to_string()];
    let records = await_logged(&ids, || gateway.logged()).await;
    assert_eq!(record(&records, "stalled-body").status, 504);
}
