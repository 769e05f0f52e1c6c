//! The failure policy, with a Redis the test starts and stops itself.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Instance, Mock, PrivateRedis, ServerCertificate, Shared};

/// Asks until `instance` answers `key` with `want` (bounded), as Redis's
/// loss or return is noticed; that answer's `Retry-After`.
async fn settles_on(instance: &Instance, key: &str, want: u16) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, retry_after) = instance.chat(key).await;
        if status == want {
            return retry_after;
        }
        assert!(
            Instant::now() < deadline,
            "{} never answered {want} (last {status})",
            instance.addr
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn by_default_limits_fall_back_to_local_counts_and_budgets_refuse_while_redis_is_down() {
    let mock = Mock::start(0);
    let mut redis = PrivateRedis::start();
    let shared = Shared::new(&mock, redis.url(), "").await;
    let instance = shared.instance(0);
    let (_, limited) = instance
        .project_key("limited", json!({}), json!({"rpm": 1000}))
        .await;
    let (_, budgeted) = instance
        .project_key(
            "budgeted",
            json!({"budget": {"usd": 100.0, "period": "month"}}),
            json!({}),
        )
        .await;
    assert_eq!(instance.chat(&limited).await.0, 200);
    assert_eq!(instance.chat(&budgeted).await.0, 200);
    assert_eq!(instance.metric("airlock_redis_up").await, Some(1.0));

    redis.stop();
    // A budget is not risked: 503 with Retry-After...
    let retry_after = settles_on(&instance, &budgeted, 503).await;
    assert_eq!(retry_after.as_deref(), Some("1"));
    // ...while a rate limit is counted here alone, loudly.
    assert_eq!(instance.chat(&limited).await.0, 200);
    assert_eq!(instance.metric("airlock_redis_up").await, Some(0.0));
    assert!(
        instance
            .metric("airlock_redis_fallbacks_total{policy=\"local\"}")
            .await
            .is_some_and(|n| n >= 1.0)
    );
    assert!(
        instance
            .metric("airlock_redis_fallbacks_total{policy=\"refuse\"}")
            .await
            .is_some_and(|n| n >= 1.0)
    );

    // Back: the connection is made again by itself.
    redis.start_again();
    settles_on(&instance, &budgeted, 200).await;
    assert_eq!(instance.metric("airlock_redis_up").await, Some(1.0));
}

#[tokio::test]
async fn with_limits_set_to_refuse_a_limited_key_is_refused_while_redis_is_down() {
    let mock = Mock::start(0);
    let mut redis = PrivateRedis::start();
    let mut shared = Shared::new(&mock, redis.url(), "").await;
    shared.cluster_lines = "limits_when_redis_down = \"refuse\"".into();
    let instance = shared.instance(0);
    let (_, limited) = instance
        .project_key("limited", json!({}), json!({"rpm": 1000}))
        .await;
    let (_, unlimited) = instance.project_key("free", json!({}), json!({})).await;
    assert_eq!(instance.chat(&limited).await.0, 200);
    redis.stop();
    let retry_after = settles_on(&instance, &limited, 503).await;
    assert_eq!(retry_after.as_deref(), Some("1"));
    // A key with no limits asks nothing of Redis: it is served.
    assert_eq!(instance.chat(&unlimited).await.0, 200);
}

#[tokio::test]
async fn a_redis_asking_for_a_password_is_used_with_it_and_the_password_is_never_logged() {
    let mock = Mock::start(0);
    let password = "s3cret-redis-password";
    let redis = PrivateRedis::with_password(password);
    let url = format!("redis://:{password}@127.0.0.1:{}", redis.port);
    let shared = Shared::new(&mock, url, "").await;
    let (instance, log) = shared.instance_logged(0);
    let (key_id, key) = instance
        .project_key("locked", json!({}), json!({"max_concurrent": 5}))
        .await;
    assert_eq!(instance.chat(&key).await.0, 200);
    assert_eq!(instance.metric("airlock_redis_up").await, Some(1.0));
    // Counted in that Redis (its place already given back: the hash is
    // there, empty or gone, and no call failed).
    assert_eq!(shared.redis_count(&format!("inflight:key:{key_id}")), 0);
    assert_eq!(instance.metric("airlock_redis_errors_total").await, None);

    // With a wrong password every call fails: the policy applies, and
    // neither password is written anywhere.
    let wrong = format!("redis://:not-the-{password}@127.0.0.1:{}", redis.port);
    let shared = Shared::new(&mock, wrong, "").await;
    let (refused, refused_log) = shared.instance_logged(0);
    let (_, budgeted) = refused
        .project_key(
            "budgeted",
            json!({"budget": {"usd": 100.0, "period": "month"}}),
            json!({}),
        )
        .await;
    settles_on(&refused, &budgeted, 503).await;
    drop(refused);
    drop(instance);
    for line in log.lines().iter().chain(&refused_log.lines()) {
        assert!(
            !line.contains(password),
            "a log line holds the password: {line}"
        );
    }
}

#[tokio::test]
async fn a_redis_over_tls_is_used_when_its_certificate_is_trusted_and_refused_when_not() {
    let mock = Mock::start(0);
    let certificate = ServerCertificate::make();
    let ca = certificate.ca();
    let redis = PrivateRedis::with_tls(certificate);
    let url = format!("rediss://localhost:{}", redis.port);
    let mut shared = Shared::new(&mock, url.clone(), "").await;
    // The instance trusts the test's CA (rustls reads SSL_CERT_FILE).
    shared.env = vec![("SSL_CERT_FILE".into(), ca.display().to_string())];
    let instance = shared.instance(0);
    let (_, budgeted) = instance
        .project_key(
            "over-tls",
            json!({"budget": {"usd": 100.0, "period": "month"}}),
            json!({"rpm": 100}),
        )
        .await;
    assert_eq!(instance.chat(&budgeted).await.0, 200);
    assert_eq!(instance.metric("airlock_redis_up").await, Some(1.0));
    assert_eq!(instance.metric("airlock_redis_errors_total").await, None);

    // Not trusting it, an instance never talks to it: budgets refuse.
    let untrusting = Shared::new(&mock, url, "").await;
    let (instance, log) = untrusting.instance_logged(0);
    let (_, budgeted) = instance
        .project_key(
            "untrusted",
            json!({"budget": {"usd": 100.0, "period": "month"}}),
            json!({}),
        )
        .await;
    settles_on(&instance, &budgeted, 503).await;
    assert!(
        log.lines()
            .iter()
            .any(|line| line.contains("UnknownIssuer")),
        "the log names the certificate problem"
    );
}
