//! Project keys through the gateway: scopes, expiry, revocation, limits
//! (exactly the allowed number admitted), concurrency, and budgets.

use crate::common;

use airlock_gateway::clock::now_ms;
use airlock_store::{Budget, BudgetPeriod, KeySettings, Limits};
use common::{Counting, Harness, Setup, admin, project_key as key};
use serde_json::{Value, json};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 20})
}

// The limit tests, each run counting in memory and in Redis (cluster mode).
crate::in_memory_and_in_redis!(
    a_burst_against_a_request_limit_admits_exactly_the_limit,
    a_project_limit_binds_all_its_keys_and_gemini_gets_resource_exhausted,
    a_token_limit_counts_the_estimate_and_settles_on_real_usage,
    concurrent_requests_over_the_limit_are_refused,
    an_exhausted_budget_refuses_without_inviting_retries,
    concurrent_requests_racing_a_budget_overspend_by_at_most_those_in_flight,
    an_address_over_the_ban_threshold_is_refused_for_the_ban,
    ip_limits_count_each_client_address_across_the_projects_keys,
);

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

async fn a_burst_against_a_request_limit_admits_exactly_the_limit(counting: Counting) {
    let h = Harness::with(counting.setup(Setup::default()).await).await;
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

async fn a_project_limit_binds_all_its_keys_and_gemini_gets_resource_exhausted(counting: Counting) {
    let h = Harness::with(counting.setup(Setup::default()).await).await;
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

async fn a_token_limit_counts_the_estimate_and_settles_on_real_usage(counting: Counting) {
    let h = Harness::with(counting.setup(Setup::default()).await).await;
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

async fn concurrent_requests_over_the_limit_are_refused(counting: Counting) {
    let h = Harness::with(counting.setup(Setup::default()).await).await;
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

async fn an_exhausted_budget_refuses_without_inviting_retries(counting: Counting) {
    let h = Harness::with(counting.setup(Setup::default()).await).await;
    let budget = Budget {
        usd: 0.000_000_1,
        period: BudgetPeriod::Day,
    };
    let limits = Limits {
        budget: Some(budget.clone()),
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
    // The budget's use is a metric, for the budget-near-its-limit alert. The
    // recorder is process-wide: read this key's own line.
    let key_id = key_id_of_project(&h, "budget").await;
    let metrics = h.metrics_text().await;
    let id_label = format!("id=\"{key_id}\"");
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("airlock_budget_used_ratio{")
                && l.contains("scope=\"key\"")
                && l.contains(&id_label)
        })
        .collect();
    assert_eq!(lines.len(), 1, "one line for the key {key_id}: {lines:?}");
    let used: f64 = lines[0].rsplit(' ').next().unwrap().parse().unwrap();
    let records = h.stop().await;
    let spent: f64 = records.iter().filter_map(|r| r.cost_usd).sum();
    assert!(spent > 0.0);
    let expected = spent / budget.usd;
    assert!(
        (used - expected).abs() <= expected * 1e-9,
        "the key's ratio is its spend over its budget: {used} against {expected}"
    );
    assert!(used >= 1.0, "{used}");
}

/// The id of the only key of the project named `project`.
async fn key_id_of_project(h: &Harness, project: &str) -> String {
    let project = h.store.project_by_name(project).await.unwrap().unwrap();
    let keys = h.store.keys(Some(&project.id)).await.unwrap();
    assert_eq!(keys.len(), 1);
    keys[0].id.clone()
}

/// An OpenAI upstream that holds every chat completion until the test lets
/// one go, so the test knows exactly which requests are in flight. Each
/// answer reports [`HELD_USAGE`] tokens in and out.
struct HeldUpstream {
    base_url: String,
    /// One message per request that reached the upstream.
    arrived: tokio::sync::mpsc::UnboundedReceiver<()>,
    release: std::sync::Arc<tokio::sync::Semaphore>,
}

const HELD_USAGE: u64 = 1000;

impl HeldUpstream {
    async fn start() -> HeldUpstream {
        let (arrivals, arrived) = tokio::sync::mpsc::unbounded_channel();
        let release = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let gate = release.clone();
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move || {
                let gate = gate.clone();
                let arrivals = arrivals.clone();
                async move {
                    arrivals.send(()).unwrap();
                    gate.acquire().await.unwrap().forget();
                    axum::Json(json!({
                        "id": "chatcmpl-held", "object": "chat.completion", "created": 0,
                        "model": "gpt-4o",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "ok"}}],
                        "usage": {"prompt_tokens": HELD_USAGE, "completion_tokens": HELD_USAGE,
                                  "total_tokens": 2 * HELD_USAGE},
                    }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        HeldUpstream {
            base_url,
            arrived,
            release,
        }
    }

    /// Waits until `count` more requests have reached the upstream, that is
    /// were admitted; fails at once if one finishes instead (it was refused:
    /// `finished` carries each request's status as it ends).
    async fn admitted(
        &mut self,
        count: usize,
        finished: &mut tokio::sync::mpsc::UnboundedReceiver<u16>,
    ) {
        for _ in 0..count {
            tokio::select! {
                arrived = self.arrived.recv() => arrived.unwrap(),
                status = finished.recv() => panic!("refused ({status:?}) while under the budget"),
                // A bound so a regression fails instead of hanging; not a timing assertion.
                () = tokio::time::sleep(std::time::Duration::from_secs(30)) => {
                    panic!("the request never reached the upstream")
                }
            }
        }
    }

    /// Lets `count` held requests answer.
    fn release(&self, count: usize) {
        self.release.add_permits(count);
    }
}

/// The status of the next request to finish.
async fn next_status(finished: &mut tokio::sync::mpsc::UnboundedReceiver<u16>) -> u16 {
    // A bound so a regression fails instead of hanging; not a timing assertion.
    tokio::time::timeout(std::time::Duration::from_secs(30), finished.recv())
        .await
        .expect("a request finishes")
        .unwrap()
}

async fn concurrent_requests_racing_a_budget_overspend_by_at_most_those_in_flight(
    counting: Counting,
) {
    let mut upstream = HeldUpstream::start().await;
    let h = Harness::with(
        counting
            .setup(Setup {
                openai_base_url: Some(upstream.base_url.clone()),
                ..Setup::default()
            })
            .await,
    )
    .await;
    // Every request costs the same; the budget holds two and a half.
    let usage = airlock_providers::pricing::UsageForCost {
        input_tokens: HELD_USAGE,
        output_tokens: HELD_USAGE,
        ..Default::default()
    };
    let cost = airlock_providers::pricing::PriceTable::builtin()
        .cost_usd("gpt-4o", &usage)
        .unwrap();
    let budget = Budget {
        usd: 2.5 * cost,
        period: BudgetPeriod::Month,
    };
    let limits = Limits {
        budget: Some(budget.clone()),
        ..Limits::default()
    };
    let secret = key(&h, "race", limits, KeySettings::default(), None).await;
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<u16>();
    let spawn_request = || {
        let (http, url, secret, done) = (
            h.http.clone(),
            h.url("/v1/chat/completions"),
            secret.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let response = http
                .post(url)
                .bearer_auth(secret)
                .json(&chat("gpt-4o"))
                .send()
                .await
                .unwrap();
            done.send(response.status().as_u16()).unwrap();
        })
    };
    // Four requests in flight at once, all admitted: nothing is spent yet.
    for _ in 0..4 {
        spawn_request();
    }
    upstream.admitted(4, &mut finished).await;
    // Each one that ends adds its cost; while the spend is under the budget
    // new requests are admitted.
    for spent_after in 1..=2 {
        upstream.release(1);
        assert_eq!(next_status(&mut finished).await, 200);
        assert!(
            f64::from(spent_after) * cost < budget.usd,
            "the setup: still under"
        );
        spawn_request();
        upstream.admitted(1, &mut finished).await;
    }
    // The third to end crosses the budget: it and the three still held were
    // in flight when it was crossed.
    upstream.release(1);
    assert_eq!(next_status(&mut finished).await, 200);
    let in_flight_at_crossing = 4;
    // From then on every request is refused, before it goes upstream.
    for _ in 0..3 {
        // Bounded: a request wrongly admitted would wait at the upstream.
        let refused = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            post_chat(&h, &secret, "gpt-4o"),
        )
        .await
        .expect("refused at once, never held upstream");
        assert_eq!(refused.status(), 429);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "insufficient_quota");
    }
    assert!(
        upstream.arrived.try_recv().is_err(),
        "a refused request reached the upstream"
    );
    // Those in flight finish normally.
    upstream.release(3);
    for _ in 0..3 {
        assert_eq!(next_status(&mut finished).await, 200);
    }

    let records = h.stop().await;
    assert_eq!(records.iter().filter(|r| r.status == 200).count(), 6);
    assert_eq!(records.iter().filter(|r| r.status == 429).count(), 3);
    let spent: f64 = records.iter().filter_map(|r| r.cost_usd).sum();
    let relative = |a: f64, b: f64| (a - b).abs() <= b * 1e-9;
    assert!(relative(spent, 6.0 * cost), "{spent} against {cost} each");
    // The documented bound: the overspend is at most what was in flight
    // when the budget was crossed (and here it is overspent).
    assert!(spent > budget.usd);
    assert!(
        spent <= budget.usd + f64::from(in_flight_at_crossing) * cost,
        "spent {spent}, budget {}, {in_flight_at_crossing} in flight at {cost} each",
        budget.usd
    );
}

async fn an_address_over_the_ban_threshold_is_refused_for_the_ban(counting: Counting) {
    let policy = airlock_gateway::limits::BanPolicy {
        requests: 3,
        window: std::time::Duration::from_secs(60),
        ban: std::time::Duration::from_secs(600),
    };
    let h = Harness::with(
        counting
            .setup(Setup {
                bans: Some(policy),
                ..Setup::default()
            })
            .await,
    )
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

/// A chat request with `secret` from `client`, as a task, so that several
/// can be in flight at once.
fn spawn_chat(
    h: &Harness,
    client: &reqwest::Client,
    secret: &str,
    model: &str,
) -> tokio::task::JoinHandle<reqwest::Response> {
    let request = client
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(secret)
        .json(&chat(model));
    tokio::spawn(async move { request.send().await.unwrap() })
}

async fn ip_limits_count_each_client_address_across_the_projects_keys(counting: Counting) {
    let h = Harness::with(counting.setup(Setup::default()).await).await;
    // As the admin API documents it: a project with per-address limits.
    let first = common::admin_project_key(&h, "kiosk", json!({"ip_limits": {"rpm": 2}})).await;
    let second = common::admin_key(&h, "kiosk").await;
    let other_project = common::admin_project_key(&h, "backoffice", json!({})).await;
    // Every request of these tests comes from 127.0.0.1; this client from 127.0.0.2.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();

    // Two keys, one address: the address's allowance is shared.
    assert_eq!(post_chat(&h, &first, "gpt-4o-mini").await.status(), 200);
    assert_eq!(post_chat(&h, &second, "gpt-4o-mini").await.status(), 200);
    let refused = post_chat(&h, &first, "gpt-4o-mini").await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["x-ratelimit-limit-requests"], "2");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("the ip limit on requests"), "{message}");
    let gemini = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .header("x-goog-api-key", &second)
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(gemini.status(), 429);
    let body: Value = gemini.json().await.unwrap();
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");

    // Another address has its own allowance, with the same keys.
    let from_elsewhere = elsewhere
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&second)
        .json(&chat("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(from_elsewhere.status(), 200);
    // The limit is the project's: another project's keys are not held to it.
    for _ in 0..3 {
        assert_eq!(
            post_chat(&h, &other_project, "gpt-4o-mini").await.status(),
            200
        );
    }
}

#[tokio::test]
async fn a_project_queue_holds_the_extra_request_until_a_place_is_free() {
    let mut upstream = common::HeldUpstream::start().await;
    let h = Harness::with(Setup {
        openai_base_url: Some(upstream.base_url.clone()),
        ..Setup::default()
    })
    .await;
    let queue = json!({"queue": {"max_in_flight": 1, "max_waiting": 1, "timeout_secs": 120}});
    let queued = common::admin_project_key(&h, "queued", queue).await;
    let other_project = common::admin_project_key(&h, "unqueued", json!({})).await;

    let first = spawn_chat(&h, &h.http, &queued, "gpt-4o-mini");
    let first_upstream = upstream.arrival().await;
    // The one place is taken: of two more, one waits and the other finds
    // the wait queue (one waiter) full, and is refused at once.
    let mut second = spawn_chat(&h, &h.http, &queued, "gpt-4o-mini");
    let mut third = spawn_chat(&h, &h.http, &queued, "gpt-4o-mini");
    let one_refused = async {
        tokio::select! {
            refused = &mut second => (refused.unwrap(), third),
            refused = &mut third => (refused.unwrap(), second),
        }
    };
    // A bound so a regression fails instead of hanging; not a timing assertion.
    let (refused, waiting) = tokio::time::timeout(std::time::Duration::from_secs(60), one_refused)
        .await
        .expect("one of the two is refused while the other waits");
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "queue_full");
    assert_eq!(body["error"]["type"], "api_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("waited too long"), "{message}");
    assert_eq!(upstream.seen(), 1, "the waiting request is not sent yet");

    // Another project's request is not queued behind this one.
    let other = spawn_chat(&h, &h.http, &other_project, "gpt-4o-mini");
    upstream.arrival().await.release();
    assert_eq!(other.await.unwrap().status(), 200);
    assert!(!waiting.is_finished());

    // When the place is free the waiting request goes upstream and succeeds.
    first_upstream.release();
    assert_eq!(first.await.unwrap().status(), 200);
    upstream.arrival().await.release();
    assert_eq!(waiting.await.unwrap().status(), 200);
    assert_eq!(upstream.seen(), 3);
}

#[tokio::test]
async fn a_project_queue_wait_is_bounded_and_refused_with_retry_after() {
    let mut upstream = common::HeldUpstream::start().await;
    let h = Harness::with(Setup {
        openai_base_url: Some(upstream.base_url.clone()),
        ..Setup::default()
    })
    .await;
    let queue = json!({"queue": {"max_in_flight": 1, "max_waiting": 8, "timeout_secs": 1}});
    let secret = common::admin_project_key(&h, "patient", queue).await;

    let first = spawn_chat(&h, &h.http, &secret, "gpt-4o-mini");
    let first_upstream = upstream.arrival().await;
    // The project's queue holds all its requests, whatever the provider:
    // this one (for the simulator's Gemini) waits its second, then is
    // refused in Google's shape.
    let r = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .header("x-goog-api-key", &secret)
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAVAILABLE");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("waited too long"), "{message}");
    assert_eq!(h.mock.server.requests_seen(), 0, "never sent upstream");

    first_upstream.release();
    assert_eq!(first.await.unwrap().status(), 200);
    // The place is free again.
    let r = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .header("x-goog-api-key", &secret)
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
