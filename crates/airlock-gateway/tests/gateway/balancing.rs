//! Routes over several deployments of one model: requests spread by
//! weight, or toward the deployment that answers fastest; a deployment
//! that fails is retried on another at once, and passed over while its
//! circuit is open.

use crate::common;
use crate::resilience::{chat, metric, quick};

use std::collections::HashMap;
use std::time::Duration;

use airlock_gateway::resilience::{Balance, BreakerPolicy};
use airlock_mock::{Fault, FaultRule, Side};
use common::{Harness, Setup};

/// How many of `requests` sequential chat requests for `model` each
/// `provider/model` served (all must succeed).
async fn served_by(h: &Harness, model: &str, requests: usize) -> HashMap<String, usize> {
    let mut served = HashMap::new();
    for _ in 0..requests {
        let response = chat(h, model).await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        let by = response.headers()["x-airlock-served-by"]
            .to_str()
            .unwrap()
            .to_string();
        *served.entry(by).or_insert(0) += 1;
    }
    served
}

#[tokio::test]
async fn weighted_balancing_spreads_requests_by_weight() {
    let h = Harness::with(Setup {
        balanced: vec![(
            "assistant",
            Balance::Weighted,
            vec![("openai", "gpt-4o", 3), ("gemini", "gemini-2.5-flash", 1)],
        )],
        ..Setup::default()
    })
    .await;
    let served = served_by(&h, "assistant", 200).await;
    let openai = served.get("openai/gpt-4o").copied().unwrap_or(0);
    let gemini = served.get("gemini/gemini-2.5-flash").copied().unwrap_or(0);
    assert_eq!(openai + gemini, 200, "{served:?}");
    // 3:1 over 200 draws: 150 expected, six standard deviations either side.
    assert!((113..=187).contains(&openai), "{served:?}");
    let records = h.stop().await;
    let logged_openai = records
        .iter()
        .filter(|r| r.provider.as_deref() == Some("openai"))
        .count();
    assert_eq!(
        logged_openai, openai,
        "the log names the deployment that served"
    );
}

#[tokio::test]
async fn latency_balancing_sends_requests_to_the_faster_deployment() {
    let h = Harness::with(Setup {
        balanced: vec![(
            "assistant",
            Balance::Latency,
            vec![("openai", "gpt-4o", 1), ("gemini", "gemini-2.5-flash", 1)],
        )],
        ..Setup::default()
    })
    .await;
    h.mock.server.add_fault_rule(FaultRule {
        provider: Some(Side::Gemini),
        fault: Fault::SlowHeaders(Duration::from_millis(150)),
        times: None,
        rate: None,
    });
    let served = served_by(&h, "assistant", 40).await;
    let slow = served.get("gemini/gemini-2.5-flash").copied().unwrap_or(0);
    // Weighted alone would send about 20 there; once its latency is seen
    // the faster deployment wins every draw.
    assert!(slow <= 3, "{served:?}");
}

#[tokio::test]
async fn a_failing_deployment_is_retried_on_another_and_passed_over_once_its_circuit_opens() {
    let h = Harness::with(Setup {
        balanced: vec![(
            "assistant",
            Balance::Weighted,
            vec![("dead", "gpt-4o", 1), ("openai", "gpt-4o", 1)],
        )],
        retries: quick(1, 0),
        breaker: BreakerPolicy {
            failures_to_open: 2,
            open_for: Duration::from_secs(60),
        },
        ..Setup::default()
    })
    .await;
    let served = served_by(&h, "assistant", 30).await;
    assert_eq!(served.get("openai/gpt-4o"), Some(&30), "{served:?}");
    assert_eq!(
        h.mock.server.requests_seen(),
        30,
        "each answered by one call to the live deployment"
    );
    // Two calls reached the dead deployment before its circuit opened;
    // after that none did, so no more retries were needed.
    let retries = metric(&h, "airlock_upstream_retries_total{provider=\"dead\"").await;
    assert!(retries >= 2.0, "{retries}");
    assert_eq!(
        metric(&h, "airlock_circuit_open{provider=\"dead\"}").await,
        1.0
    );
    let records = h.stop().await;
    assert_eq!(records.len(), 30, "each request logged once");
    assert!(
        records
            .iter()
            .all(|r| r.provider.as_deref() == Some("openai") && r.status == 200)
    );
}
