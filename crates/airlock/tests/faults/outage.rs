//! The provider goes away (its process is killed: connections refused)
//! and comes back on the same port. After `failures_to_open` failed calls
//! the circuit opens: `/metrics`, `/readyz` and the admin API say so, a
//! route without a fallback is refused at once (503 `provider_unavailable`
//! with `Retry-After`, no call made), one with a fallback goes straight to
//! it. Once the provider is back and the open time has passed, one probe
//! closes the circuit and requests are served by it again.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{BY_BACKUP, BY_PRIMARY, Gateway, Mock, Setup};
use crate::memory::RssWatch;

/// The primary's entry in `/readyz`.
async fn readiness(gateway: &Gateway) -> (u16, bool, Value) {
    let (status, body) = gateway.readyz().await;
    let entry = body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "primary")
        .unwrap()
        .clone();
    (status, body["ready"].as_bool().unwrap(), entry)
}

/// The primary's circuit as the admin API shows it.
async fn admin_circuit(gateway: &Gateway) -> Value {
    let providers = gateway.admin("/providers").await;
    providers["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "primary")
        .unwrap()["circuit"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_goes_away_opens_the_circuit_and_closes_it_when_it_comes_back() {
    let mut primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::new(&primary, &backup);
    setup.max_retries = 1;
    setup.failures_to_open = 3;
    setup.open_secs = 2;
    let gateway = Gateway::start(&setup, dir.path(), &[]);
    let memory = RssWatch::start(gateway.pid());
    for i in 0..3 {
        let answer = gateway.chat("solo", &format!("before-{i}")).await;
        assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY));
    }
    let (_, _, entry) = readiness(&gateway).await;
    assert_eq!(entry["circuit"], "closed");

    primary.kill();
    // Failures until the circuit opens: each answered, quickly, saying
    // the provider cannot be reached.
    let mut failed_calls = 0.0;
    let mut n = 0;
    while gateway.metrics().await.circuit_open("primary") == 0.0 {
        assert!(
            n < 5,
            "the circuit did not open after {failed_calls} failed calls"
        );
        let before = gateway.metrics().await;
        let answer = gateway.chat("solo", &format!("down-{n}")).await;
        failed_calls += gateway.metrics().await.calls("primary") - before.calls("primary");
        assert!(matches!(answer.status, 502 | 503), "{answer:?}");
        assert!(!answer.error_message().is_empty());
        assert!(answer.took < Duration::from_secs(3), "{:?}", answer.took);
        n += 1;
    }
    assert!(
        failed_calls >= f64::from(setup.failures_to_open),
        "opened after {failed_calls} failed calls"
    );
    let metrics = gateway.metrics().await;
    assert_eq!(metrics.circuit_opened("primary"), 1.0);

    // Open: refused at once without a call, or served by the fallback.
    let answer = gateway.chat("solo", "open-solo").await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.json()["error"]["code"], "provider_unavailable");
    let retry_after: u64 = answer.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=setup.open_secs).contains(&retry_after));
    assert!(
        answer.took < Duration::from_millis(500),
        "not fast: {:?}",
        answer.took
    );
    let answer = gateway.chat("smart", "open-smart").await;
    assert!(answer.is_acknowledged_completion(), "{answer:?}");
    assert_eq!(answer.served_by.as_deref(), Some(BY_BACKUP));
    assert!(
        answer.took < Duration::from_millis(500),
        "not fast: {:?}",
        answer.took
    );
    let after = gateway.metrics().await;
    assert_eq!(
        after.calls("primary"),
        metrics.calls("primary"),
        "no call while open"
    );
    assert_eq!(after.fallbacks("errors") - metrics.fallbacks("errors"), 1.0);
    let (status, ready, entry) = readiness(&gateway).await;
    assert_eq!(entry["circuit"], "open", "{entry}");
    // The backup still serves: the gateway as a whole is ready.
    assert!(status == 200 && ready, "{entry}");
    assert_eq!(admin_circuit(&gateway).await["state"], "open");

    // Back on its port: after the open time, the first request probes,
    // succeeds and closes the circuit.
    primary.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    loop {
        let answer = gateway.chat("solo", &format!("back-{n}")).await;
        n += 1;
        if answer.status == 200 {
            assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY));
            break;
        }
        assert_eq!(
            answer.json()["error"]["code"],
            "provider_unavailable",
            "{answer:?}"
        );
        assert!(Instant::now() < deadline, "the circuit never closed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = gateway.metrics().await;
    assert_eq!(metrics.circuit_open("primary"), 0.0);
    assert_eq!(metrics.circuit_opened("primary"), 1.0, "opened once");
    let (status, ready, entry) = readiness(&gateway).await;
    assert!(status == 200 && ready);
    assert_eq!(entry["circuit"], "closed", "{entry}");
    assert_eq!(entry["reachable"], true, "{entry}");
    assert_eq!(admin_circuit(&gateway).await["state"], "closed");
    for i in 0..3 {
        let answer = gateway.chat("smart", &format!("after-{i}")).await;
        assert_eq!(answer.served_by.as_deref(), Some(BY_PRIMARY), "{answer:?}");
    }
    memory.assert_bounded("provider outage");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_every_provider_down_readiness_fails_and_requests_fail_fast() {
    let mut primary = Mock::start(&[]);
    let mut backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::new(&primary, &backup);
    setup.max_retries = 0;
    setup.failures_to_open = 2;
    setup.open_secs = 30;
    let gateway = Gateway::start(&setup, dir.path(), &[]);
    let (status, ..) = readiness(&gateway).await;
    assert_eq!(status, 200);
    primary.kill();
    backup.kill();
    // Both simulators are down: the Gemini provider (on the primary's
    // simulator) too. Open every circuit.
    for i in 0..2 {
        gateway.chat("solo", &format!("p-{i}")).await;
        gateway.chat("spare", &format!("b-{i}")).await;
        gateway
            .gemini_stream("gemini-2.5-flash", &format!("g-{i}"), true)
            .await;
    }
    let (status, ready, _) = readiness(&gateway).await;
    assert_eq!((status, ready), (503, false), "no provider can serve");
    let answer = gateway.chat("smart", "all-down").await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(
        answer.took < Duration::from_millis(500),
        "{:?}",
        answer.took
    );
    assert!(answer.retry_after.is_some());
}
