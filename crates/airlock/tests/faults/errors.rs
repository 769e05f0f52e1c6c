//! Error answers and resets from the primary provider. At error rates of
//! 10, 50 and 100 % every request is answered; a route with a fallback
//! answers every one, a route without answers what its retries win and a
//! clear error otherwise; no request is retried more than `max_retries`
//! times and all retries stay within the retry budget. A client's mistake
//! answered by the provider (400, 404) is passed on, neither retried nor
//! fallen back. A connection reset is retried, then fallen back.
//!
//! Requests go one at a time here, with `/metrics` read between them, so
//! each request's calls, retries and fallbacks are known exactly.

use std::collections::HashSet;

use serde_json::json;

use crate::harness::{
    BY_BACKUP, BY_PRIMARY, Gateway, Mock, Setup, assert_logged_once, await_logged, record,
};
use crate::memory::RssWatch;
use crate::metrics::Metrics;

/// What one request did, from `/metrics` read before and after it.
struct Spent {
    calls: f64,
    retries: f64,
    fallbacks: f64,
}

impl Spent {
    fn between(before: &Metrics, after: &Metrics) -> Spent {
        Spent {
            calls: after.calls("primary") - before.calls("primary"),
            retries: after.retries("primary") - before.retries("primary"),
            fallbacks: after.all_fallbacks() - before.all_fallbacks(),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn at_10_50_and_100_percent_errors_every_request_is_answered_within_its_retries_and_budget() {
    const REQUESTS: usize = 40;
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    for (rate, solo_successes_at_least) in [(0.1, REQUESTS / 2 - 1), (0.5, 1), (1.0, 0)] {
        primary.clear_rules().await;
        primary
            .add_rule(json!({"provider": "openai", "fault": "status=503", "rate": rate}))
            .await;
        let dir = tempfile::tempdir().unwrap();
        let mut setup = Setup::new(&primary, &backup);
        // The breaker stays out of the way (`outage` covers it): every
        // request shows its own retries.
        setup.failures_to_open = 0;
        let max_retries = f64::from(setup.max_retries);
        let gateway = Gateway::start(&setup, dir.path(), &[]);
        let memory = RssWatch::start(gateway.pid());

        let mut sent = Vec::new();
        let (mut solo_ok, mut by_backup) = (0, 0);
        let mut before = gateway.metrics().await;
        for i in 0..REQUESTS {
            // Both routes share the primary, its budget and its failures.
            let model = if i % 2 == 0 { "smart" } else { "solo" };
            let id = format!("rate-{rate}-{i}");
            let answer = gateway.chat(model, &id).await;
            let after = gateway.metrics().await;
            let spent = Spent::between(&before, &after);
            before = after;
            let what = format!("{id} ({model}): {answer:?}");
            // A request that failed on the primary with retries left in its
            // policy may only have been refused them by a spent budget,
            // whose reserve alone is ten retries.
            let primary_failed = answer.served_by.as_deref() == Some(BY_BACKUP)
                || (model == "solo" && answer.status != 200);
            if primary_failed && spent.retries < max_retries {
                let retried = before.retries("primary");
                assert!(
                    retried >= 10.0,
                    "{what}: gave up after {retried} retries in all"
                );
            }
            assert!(
                spent.retries <= max_retries,
                "{what}: retried {}",
                spent.retries
            );
            assert_eq!(
                spent.calls,
                spent.retries + 1.0,
                "{what}: one call and its retries"
            );
            match model {
                "smart" => {
                    assert_eq!(answer.status, 200, "{what}");
                    assert!(answer.is_acknowledged_completion(), "{what}");
                    if answer.served_by.as_deref() == Some(BY_BACKUP) {
                        by_backup += 1;
                        assert_eq!(spent.fallbacks, 1.0, "{what}");
                    } else {
                        assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY), "{what}");
                        assert_eq!(spent.fallbacks, 0.0, "{what}");
                    }
                }
                _ => {
                    assert_eq!(spent.fallbacks, 0.0, "{what}: solo has no fallback");
                    assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY), "{what}");
                    if answer.status == 200 {
                        solo_ok += 1;
                        assert!(answer.is_acknowledged_completion(), "{what}");
                    } else {
                        // The provider's own error, relayed: it says what failed.
                        assert_eq!(answer.status, 503, "{what}");
                        assert!(!answer.error_message().is_empty(), "{what}");
                    }
                }
            }
            sent.push(id);
        }
        let metrics = gateway.metrics().await;
        eprintln!(
            "error rate {rate}: solo answered {solo_ok} of {}, smart fell back {by_backup} times, {} retries",
            REQUESTS / 2,
            metrics.retries("primary")
        );
        // Retries add at most budget_percent of the calls, plus a reserve of ten.
        let budget = 10.0 + f64::from(setup.budget_percent) / 100.0 * REQUESTS as f64;
        let retries = metrics.retries("primary");
        assert!(
            retries <= budget.floor(),
            "{rate}: {retries} retries, budget {budget}"
        );
        assert!(
            solo_ok >= solo_successes_at_least,
            "{rate}: {solo_ok} solo answers"
        );
        if rate == 1.0 {
            assert_eq!(solo_ok, 0);
            assert_eq!(by_backup, REQUESTS / 2, "every smart request fell back");
            assert_eq!(metrics.fallbacks("errors"), (REQUESTS / 2) as f64);
            assert!(retries >= 10.0, "the reserve was used: {retries}");
        } else {
            assert!(retries > 0.0, "{rate}: failures were retried");
        }

        let records = await_logged(&sent, || gateway.logged()).await;
        let all: HashSet<String> = sent.iter().cloned().collect();
        assert_logged_once(&records, &sent, &all);
        for record in &records {
            let expected = if record.status == 200 { "ok" } else { "error" };
            assert_eq!(record.outcome, expected, "{record:?}");
            assert_eq!(record.upstream_model.as_deref(), Some("gpt-4o-mini"));
        }
        let fell_back = records
            .iter()
            .filter(|r| r.provider.as_deref() == Some("backup"))
            .count();
        assert_eq!(
            fell_back, by_backup,
            "the log names the provider that served"
        );
        memory.assert_bounded(&format!("error rate {rate}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_error_answered_by_the_provider_is_neither_retried_nor_fallen_back() {
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(&Setup::new(&primary, &backup), dir.path(), &[]);
    for status in [400, 404] {
        primary
            .add_rule(
                json!({"provider": "openai", "fault": format!("status={status}"), "times": 3}),
            )
            .await;
        for i in 0..3 {
            let before = gateway.metrics().await;
            // `smart` falls back on errors, timeouts and rate limits: not this.
            let answer = gateway.chat("smart", &format!("client-{status}-{i}")).await;
            let spent = Spent::between(&before, &gateway.metrics().await);
            assert_eq!(answer.status, status, "{answer:?}");
            assert!(!answer.error_message().is_empty());
            assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY));
            assert_eq!(
                (spent.calls, spent.retries, spent.fallbacks),
                (1.0, 0.0, 0.0),
                "one call, as it came"
            );
        }
    }
    let metrics = gateway.metrics().await;
    assert_eq!(
        metrics.circuit_opened("primary"),
        0.0,
        "the provider answered"
    );
    assert_eq!(
        gateway
            .chat("smart", "client-after")
            .await
            .served_by
            .as_deref(),
        Some(BY_PRIMARY)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_reset_before_the_answer_is_retried_then_fallen_back() {
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::new(&primary, &backup);
    // Six failed calls in a row here: the circuit stays out of it.
    setup.failures_to_open = 0;
    let gateway = Gateway::start(&setup, dir.path(), &[]);

    // Once: the retry gets the answer.
    primary
        .add_rule(json!({"provider": "openai", "fault": "reset", "times": 1}))
        .await;
    let before = gateway.metrics().await;
    let answer = gateway.chat("solo", "reset-once").await;
    let spent = Spent::between(&before, &gateway.metrics().await);
    assert!(answer.is_acknowledged_completion(), "{answer:?}");
    assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY));
    assert_eq!((spent.calls, spent.retries), (2.0, 1.0));

    // Every time: after its retries the route falls back...
    primary
        .add_rule(json!({"provider": "openai", "fault": "reset"}))
        .await;
    let before = gateway.metrics().await;
    let answer = gateway.chat("smart", "reset-always").await;
    let after = gateway.metrics().await;
    let spent = Spent::between(&before, &after);
    assert!(answer.is_acknowledged_completion(), "{answer:?}");
    assert_eq!(answer.served_by.as_deref(), Some(BY_BACKUP));
    assert_eq!(
        (spent.calls, spent.retries, spent.fallbacks),
        (
            f64::from(setup.max_retries) + 1.0,
            f64::from(setup.max_retries),
            1.0
        )
    );
    assert_eq!(after.fallbacks("errors") - before.fallbacks("errors"), 1.0);

    // ...and a route without a fallback says the provider is unreachable.
    let answer = gateway.chat("solo", "reset-solo").await;
    assert_eq!(answer.status, 502, "{answer:?}");
    let message = answer.error_message();
    assert!(
        message.contains("primary") && message.contains("unreachable"),
        "{message}"
    );

    let ids = ["reset-once", "reset-always", "reset-solo"].map(String::from);
    let records = await_logged(&ids, || gateway.logged()).await;
    assert_eq!(
        record(&records, "reset-once").provider.as_deref(),
        Some("primary")
    );
    assert_eq!(
        record(&records, "reset-always").provider.as_deref(),
        Some("backup")
    );
    assert_eq!(record(&records, "reset-solo").status, 502);
}

/// A provider that sends its headers and then cuts the connection before
/// the body of a complete (not streamed) answer: nothing has reached the
/// client, so the gateway may still retry or fall back, as it does for a
/// reset before the headers.
#[tokio::test(flavor = "multi_thread")]
async fn a_reset_after_the_headers_of_a_complete_answer_is_retried_or_fallen_back() {
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(&Setup::new(&primary, &backup), dir.path(), &[]);
    primary
        .add_rule(json!({"provider": "openai", "fault": "disconnect-after=0"}))
        .await;
    let answer = gateway.chat("smart", "cut-after-headers").await;
    assert!(answer.is_acknowledged_completion(), "{answer:?}");
    assert_eq!(answer.served_by.as_deref(), Some(BY_BACKUP));
}
