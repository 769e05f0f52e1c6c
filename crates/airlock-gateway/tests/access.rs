//! Project keys through the gateway: scopes, expiry, revocation, limits
//! (exactly the allowed number admitted), concurrency, and budgets.

mod common;

use airlock_gateway::clock::now_ms;
use airlock_store::{Budget, BudgetPeriod, KeySettings, Limits};
use common::{Harness, Setup, admin, project_key as key};
use serde_json::{Value, json};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 20})
}

async fn post_chat(h: &Harness, secret: &str, model: &str) -> reqwest::Response {
    h.http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(secret)
        .json(&chat(model))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_project_key_works_and_is_logged_with_its_project() {
    let h = Harness::with(Setup {
        master_key: None,
        ..Setup::default()
    })
    .await;
    let secret = key(&h, "story", Limits::default(), KeySettings::default(), None).await;
    assert_eq!(post_chat(&h, &secret, "gpt-4o-mini").await.status(), 200);
    // Once keys exist, a request without one is refused even with no master key.
    let anonymous = h
        .http
        .post(h.url("/v1/chat/completions"))
        .json(&chat("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let records = h.stop().await;
    let ok = records.iter().find(|r| r.status == 200).unwrap();
    assert!(ok.project_id.as_deref().unwrap().starts_with("proj_"));
    assert!(ok.api_key_id.as_deref().unwrap().starts_with("key_"));
    assert!(ok.cost_usd.unwrap() > 0.0, "gpt-4o-mini has a list price");
}

#[tokio::test]
async fn expired_revoked_and_wrongly_scoped_keys_are_refused() {
    let h = Harness::start().await;
    let expired = key(
        &h,
        "p",
        Limits::default(),
        KeySettings::default(),
        Some(now_ms() - 1),
    )
    .await;
    let r = post_chat(&h, &expired, "gpt-4o-mini").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("expired"));

    let scoped = KeySettings {
        models: vec!["gemini-*".into()],
        ..KeySettings::default()
    };
    let gemini_only = key(&h, "p", Limits::default(), scoped, None).await;
    assert_eq!(
        post_chat(&h, &gemini_only, "gemini-2.5-flash")
            .await
            .status(),
        200
    );
    let r = post_chat(&h, &gemini_only, "gpt-4o-mini").await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_allowed");
    let r = h
        .http
        .post(h.url("/v1beta/models/gpt-4o:generateContent"))
        .header("x-goog-api-key", &gemini_only)
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");

    let revocable = key(&h, "p", Limits::default(), KeySettings::default(), None).await;
    assert_eq!(post_chat(&h, &revocable, "gpt-4o-mini").await.status(), 200);
    let id = h.store.keys(None).await.unwrap().last().unwrap().id.clone();
    h.store.revoke_key(&id, &admin()).await.unwrap();
    h.tenancy.reload().await.unwrap();
    let r = post_chat(&h, &revocable, "gpt-4o-mini").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("revoked"));
}

#[tokio::test]
async fn a_burst_against_a_request_limit_admits_exactly_the_limit() {
    let h = Harness::start().await;
    let limits = Limits {
        rpm: Some(5),
        ..Limits::default()
    };
    let secret = key(
        &h,
        "burst",
        Limits::default(),
        KeySettings {
            limits,
            ..KeySettings::default()
        },
        None,
    )
    .await;
    let responses =
        futures_util::future::join_all((0..12).map(|_| post_chat(&h, &secret, "gpt-4o-mini")))
            .await;
    let ok = responses.iter().filter(|r| r.status() == 200).count();
    assert_eq!(ok, 5);
    let refused = responses.iter().find(|r| r.status() == 429).unwrap();
    let headers = refused.headers();
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(headers["x-ratelimit-limit-requests"], "5");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
    assert!(headers.contains_key("x-ratelimit-reset-requests"));
    let admitted = responses.iter().find(|r| r.status() == 200).unwrap();
    assert_eq!(admitted.headers()["x-ratelimit-limit-requests"], "5");
}

#[tokio::test]
async fn a_project_limit_binds_all_its_keys_and_gemini_gets_resource_exhausted() {
    let h = Harness::start().await;
    let project_limits = Limits {
        rpm: Some(3),
        ..Limits::default()
    };
    let first = key(
        &h,
        "shared",
        project_limits.clone(),
        KeySettings::default(),
        None,
    )
    .await;
    let second = key(&h, "shared", project_limits, KeySettings::default(), None).await;
    assert_eq!(post_chat(&h, &first, "gpt-4o-mini").await.status(), 200);
    assert_eq!(post_chat(&h, &second, "gpt-4o-mini").await.status(), 200);
    assert_eq!(post_chat(&h, &first, "gpt-4o-mini").await.status(), 200);
    let r = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .header("x-goog-api-key", &second)
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
}

#[tokio::test]
async fn a_token_limit_counts_the_estimate_and_settles_on_real_usage() {
    let h = Harness::start().await;
    // Each request is estimated at about 40 tokens (body / 4 + max_tokens 20)
    // and really uses far fewer, so settling refunds the difference.
    let limits = Limits {
        tpm: Some(100),
        ..Limits::default()
    };
    let secret = key(
        &h,
        "tokens",
        Limits::default(),
        KeySettings {
            limits,
            ..KeySettings::default()
        },
        None,
    )
    .await;
    let mut admitted = 0;
    let refused = loop {
        let response = post_chat(&h, &secret, "gpt-4o-mini").await;
        if response.status() != 200 {
            break response;
        }
        admitted += 1;
        assert!(admitted < 20, "the token limit never refused");
    };
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-ratelimit-limit-tokens"], "100");
    assert!(
        admitted > 2,
        "without settling only two estimates fit in 100 tokens; admitted {admitted}"
    );
}

#[tokio::test]
async fn concurrent_requests_over_the_limit_are_refused() {
    let h = Harness::start().await;
    h.mock.server.set_latency(airlock_mock::Latency {
        first_token: std::time::Duration::from_millis(300),
        per_chunk: std::time::Duration::ZERO,
    });
    let limits = Limits {
        max_concurrent: Some(2),
        ..Limits::default()
    };
    let secret = key(
        &h,
        "conc",
        Limits::default(),
        KeySettings {
            limits,
            ..KeySettings::default()
        },
        None,
    )
    .await;
    let responses =
        futures_util::future::join_all((0..4).map(|_| post_chat(&h, &secret, "gpt-4o-mini"))).await;
    let ok = responses.iter().filter(|r| r.status() == 200).count();
    assert_eq!(ok, 2, "two at a time");
    assert!(responses.iter().any(|r| r.status() == 429));
    // Slots are released when requests end.
    assert_eq!(post_chat(&h, &secret, "gpt-4o-mini").await.status(), 200);
}

#[tokio::test]
async fn an_exhausted_budget_refuses_without_inviting_retries() {
    let h = Harness::start().await;
    let budget = Budget {
        usd: 0.000_000_1,
        period: BudgetPeriod::Day,
    };
    let limits = Limits {
        budget: Some(budget),
        ..Limits::default()
    };
    let secret = key(
        &h,
        "budget",
        Limits::default(),
        KeySettings {
            limits,
            ..KeySettings::default()
        },
        None,
    )
    .await;
    assert_eq!(
        post_chat(&h, &secret, "gpt-4o").await.status(),
        200,
        "nothing spent yet"
    );
    let r = post_chat(&h, &secret, "gpt-4o").await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-should-retry"], "false");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_quota");
    // The budget's use is a metric, for the budget-near-its-limit alert.
    let metrics = h
        .http
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let used = metrics
        .lines()
        .find(|l| l.starts_with("airlock_budget_used_ratio{") && l.contains("scope=\"key\""))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .expect("airlock_budget_used_ratio for the key");
    assert!(used >= 1.0, "{used}");
}

#[tokio::test]
async fn concurrent_requests_racing_a_budget_overspend_by_at_most_those_in_flight() {
    let h = Harness::start().await;
    let budget = Budget {
        usd: 0.000_000_1,
        period: BudgetPeriod::Month,
    };
    let limits = Limits {
        budget: Some(budget),
        ..Limits::default()
    };
    let secret = key(&h, "race", limits, KeySettings::default(), None).await;
    let first =
        futures_util::future::join_all((0..8).map(|_| post_chat(&h, &secret, "gpt-4o"))).await;
    let admitted = first.iter().filter(|r| r.status() == 200).count();
    assert!((1..=8).contains(&admitted));
    // Every request after the race sees the spend and is refused.
    for _ in 0..3 {
        assert_eq!(post_chat(&h, &secret, "gpt-4o").await.status(), 429);
    }
}

#[tokio::test]
async fn an_address_over_the_ban_threshold_is_refused_for_the_ban() {
    let policy = airlock_gateway::limits::BanPolicy {
        requests: 3,
        window: std::time::Duration::from_secs(60),
        ban: std::time::Duration::from_secs(600),
    };
    let h = Harness::with(Setup {
        bans: Some(policy),
        ..Setup::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            h.openai_post("/v1/chat/completions")
                .json(&chat("gpt-4o-mini"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    // Even a wrong key counts, and even the master key is refused while banned.
    let r = h
        .openai_post("/v1/chat/completions")
        .json(&chat("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 590 && retry_after <= 600, "{retry_after}");
    let r = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .header("x-goog-api-key", common::MASTER_KEY)
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(
        h.http.get(h.url("/healthz")).send().await.unwrap().status(),
        200,
        "probes are not banned"
    );
}

#[tokio::test]
async fn crossing_budget_thresholds_sends_signed_alerts() {
    use airlock_gateway::alerts::{BudgetAlerts, WebhookConfig};
    use airlock_gateway::webhook::verify;
    use std::sync::{Arc, Mutex};

    let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: http::HeaderMap, body: String| {
            let store = store.clone();
            async move {
                let signature = headers["x-airlock-signature"].to_str().unwrap().to_string();
                store.lock().unwrap().push((signature, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let alerts = BudgetAlerts::new(WebhookConfig::new(url, "hook-secret")).unwrap();
    let h = Harness::with(Setup {
        alerts: Some(alerts.clone()),
        ..Setup::default()
    })
    .await;
    let budget = Budget {
        usd: 0.000_01,
        period: BudgetPeriod::Day,
    };
    let limits = Limits {
        budget: Some(budget),
        ..Limits::default()
    };
    let secret = key(
        &h,
        "alerted",
        Limits::default(),
        KeySettings {
            limits,
            ..KeySettings::default()
        },
        None,
    )
    .await;
    assert_eq!(post_chat(&h, &secret, "gpt-4o").await.status(), 200);
    tokio::time::timeout(std::time::Duration::from_secs(30), alerts.flush())
        .await
        .unwrap();

    let received = received.lock().unwrap().clone();
    let thresholds: Vec<u64> = received
        .iter()
        .map(|(_, body)| {
            serde_json::from_str::<Value>(body).unwrap()["threshold_percent"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(thresholds, [50, 80, 100]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (signature, body) in &received {
        assert!(verify("hook-secret", signature, body.as_bytes(), now, 300));
        let alert: Value = serde_json::from_str(body).unwrap();
        assert_eq!(alert["scope"], "key");
        assert_eq!(alert["project"], "alerted");
        assert_eq!(alert["period"], "day");
    }
}

#[tokio::test]
async fn a_full_upstream_queue_refuses_with_retry_after() {
    let policy = airlock_store::QueuePolicy {
        max_in_flight: 1,
        max_waiting: 1,
        timeout_secs: 30,
    };
    let queues = [("openai".to_string(), policy)].into_iter().collect();
    let h = Harness::with(Setup {
        provider_queues: queues,
        ..Setup::default()
    })
    .await;
    h.mock.server.set_latency(airlock_mock::Latency {
        first_token: std::time::Duration::from_millis(300),
        per_chunk: std::time::Duration::ZERO,
    });
    let send = || {
        h.openai_post("/v1/chat/completions")
            .json(&chat("gpt-4o-mini"))
            .send()
    };
    let responses: Vec<reqwest::Response> = futures_util::future::join_all((0..3).map(|_| send()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "one in flight, one waiting: {statuses:?}"
    );
    let refused = responses
        .iter()
        .find(|r| r.status() == 503)
        .expect("the third finds the queue full");
    assert_eq!(refused.headers()["retry-after"], "1");
    // Gemini models are on another provider: not queued behind OpenAI.
    assert_eq!(
        post_chat(&h, common::MASTER_KEY, "gemini-2.5-flash")
            .await
            .status(),
        200
    );
}
