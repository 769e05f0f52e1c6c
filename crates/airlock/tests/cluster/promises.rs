//! What must hold across three instances exactly as on one.

use std::time::{Duration, Instant};

use airlock_providers::pricing::{PriceTable, UsageForCost};
use airlock_store::Store;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Instance, MASTER_KEY, Mock, Shared, redis_url};

/// A simulator answering after `first_token_ms`, and three instances on
/// fresh shared state, `extra` added to their configuration.
async fn three(first_token_ms: u64, extra: &str) -> (Mock, Shared, Vec<Instance>) {
    let mock = Mock::start(first_token_ms);
    let shared = Shared::new(&mock, redis_url(), extra).await;
    let instances = shared.three();
    (mock, shared, instances)
}

/// Creates project `name` with `limits` and a key with `key_limits` on the
/// first instance, and waits until every instance knows the key (the
/// others hear of it by pub/sub, within milliseconds): asking for the model
/// list counts against no limit.
async fn new_key(
    instances: &[Instance],
    name: &str,
    limits: Value,
    key_limits: Value,
) -> (String, String) {
    let (id, secret) = instances[0].project_key(name, limits, key_limits).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    for instance in instances {
        loop {
            let listed = instance
                .http
                .get(instance.url("/v1/models"))
                .bearer_auth(&secret)
                .send()
                .await
                .unwrap();
            if listed.status() == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never knew the new key",
                instance.addr
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    (id, secret)
}

/// Asks each instance until it refuses the `revoked` key (401), failing
/// once a second has passed since `revoked_at`.
async fn refused_everywhere_within_a_second(
    instances: &[Instance],
    revoked: &str,
    revoked_at: Instant,
) {
    for instance in instances {
        while instance.chat(revoked).await.0 != 401 {
            assert!(
                revoked_at.elapsed() <= Duration::from_secs(1),
                "instance {} still admits the revoked key",
                instance.addr
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `count` chat completions with `key`, spread round-robin over the
/// instances, all at once; their statuses.
async fn burst(instances: &[Instance], key: &str, count: usize) -> Vec<u16> {
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..count {
        let (http, url) = (
            instances[i % instances.len()].http.clone(),
            instances[i % instances.len()].url("/v1/chat/completions"),
        );
        let key = key.to_string();
        requests.spawn(async move {
            let response = http
                .post(url)
                .bearer_auth(key)
                .json(&crate::harness::chat_body())
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        });
    }
    requests.join_all().await
}

#[tokio::test]
async fn a_key_limited_to_n_a_minute_is_admitted_exactly_n_times_across_three_instances() {
    let (_mock, _shared, instances) = three(0, "").await;
    let (_, key) = new_key(&instances, "rpm", json!({}), json!({"rpm": 12})).await;
    let statuses = burst(&instances, &key, 45).await;
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(admitted, 12, "{statuses:?}");
    assert_eq!(refused, 33, "{statuses:?}");
    // Not one instance's count: each of them refuses now.
    for instance in &instances {
        let (status, retry_after) = instance.chat(&key).await;
        assert_eq!(status, 429);
        assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);
    }
}

#[tokio::test]
async fn fifty_concurrent_requests_over_three_instances_overspend_a_budget_by_no_more_than_a_reservation()
 {
    // Each answer takes a second, so all fifty are in flight together.
    let (_mock, shared, instances) = three(1_000, "").await;
    // What the gateway reserves for one of these requests: its body at four
    // bytes a token, and all the output it allows (`max_tokens` 20).
    let body = crate::harness::chat_body();
    let reserve = PriceTable::builtin()
        .cost_usd(
            "gpt-4o-mini",
            &UsageForCost {
                input_tokens: (serde_json::to_vec(&body).unwrap().len() as u64).div_ceil(4),
                output_tokens: 20,
                images: 1,
                ..UsageForCost::default()
            },
        )
        .unwrap();
    let budget = 5.0 * reserve;
    let (key_id, key) = new_key(
        &instances,
        "budget",
        json!({"budget": {"usd": budget, "period": "day"}}),
        json!({}),
    )
    .await;
    let statuses = burst(&instances, &key, 50).await;
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // Without shared reservations all fifty would be admitted (nothing is
    // spent until the first ends); with them, five reservations fill it.
    assert!(
        (1..=5).contains(&admitted),
        "{admitted} admitted: {statuses:?}"
    );
    let store = Store::open(&shared.database_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let spent = loop {
        let records = store.recent_request_records(1_000).await.unwrap();
        let mine: Vec<_> = records
            .iter()
            .filter(|r| {
                r.api_key_id.as_deref() == Some(key_id.as_str())
                    && r.operation == "chat.completions"
            })
            .collect();
        if mine.len() == 50 {
            break mine.iter().filter_map(|r| r.cost_usd).sum::<f64>();
        }
        assert!(Instant::now() < deadline, "{} of 50 records", mine.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(spent > 0.0);
    assert!(
        spent <= budget + reserve,
        "spent {spent} of a budget of {budget}: over by more than one reservation ({reserve})"
    );
}

#[tokio::test]
async fn a_key_revoked_on_one_instance_is_refused_by_the_others_within_a_second() {
    let (_mock, _shared, instances) = three(0, "").await;
    let (key_id, key) = new_key(&instances, "revoke", json!({}), json!({})).await;
    for instance in &instances {
        assert_eq!(instance.chat(&key).await.0, 200);
    }
    let (status, body) = instances[0]
        .admin_call(Method::POST, &format!("/keys/{key_id}/revoke"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    refused_everywhere_within_a_second(&instances[1..], &key, Instant::now()).await;
}

#[tokio::test]
async fn a_key_revoked_with_the_cli_is_refused_by_the_running_instances_within_a_second() {
    let (_mock, shared, instances) = three(0, "").await;
    let (key_id, key) = new_key(&instances, "cli-revoke", json!({}), json!({})).await;
    for instance in &instances {
        assert_eq!(instance.chat(&key).await.0, 200);
    }
    let revoked = shared
        .command(&["keys", "revoke", &key_id])
        .output()
        .unwrap();
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    refused_everywhere_within_a_second(&instances, &key, Instant::now()).await;
}

#[tokio::test]
async fn a_token_minted_on_one_instance_works_on_another_and_its_use_count_holds() {
    let (_mock, _shared, instances) = three(0, "").await;
    let (_, key) = new_key(&instances, "tokens", json!({}), json!({})).await;
    let minted: Value = instances[0]
        .http
        .post(instances[0].url("/v1/realtime/client_secrets"))
        .bearer_auth(&key)
        .json(&json!({"expires_after": {"anchor": "created_at", "seconds": 600}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["value"].as_str().unwrap();
    for instance in &instances[1..] {
        assert_eq!(instance.chat(token).await.0, 200, "minted elsewhere");
    }
    // A Gemini token with two uses: spent on two instances, refused on the third.
    let minted: Value = instances[1]
        .http
        .post(instances[1].url("/v1alpha/auth_tokens"))
        .header("x-goog-api-key", &key)
        .json(&json!({"uses": 2}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["name"].as_str().unwrap();
    assert_eq!(instances[2].chat(token).await.0, 200);
    assert_eq!(instances[0].chat(token).await.0, 200);
    let (status, _) = instances[1].chat(token).await;
    assert_eq!(status, 401, "its two uses are spent, wherever they were");
}

#[tokio::test]
async fn an_address_banned_on_one_instance_is_banned_on_all() {
    let ban = "[server.ban]\nrequests = 4\nwindow_secs = 60\nban_secs = 600\n";
    let (_mock, _shared, instances) = three(0, ban).await;
    for i in 0..4 {
        assert_eq!(instances[i % 3].chat(MASTER_KEY).await.0, 200);
    }
    let (status, retry_after) = instances[1].chat(MASTER_KEY).await;
    assert_eq!(status, 429);
    assert!(retry_after.unwrap().parse::<u64>().unwrap() > 590);
    for instance in &instances {
        assert_eq!(instance.chat(MASTER_KEY).await.0, 429, "{}", instance.addr);
    }
}

#[tokio::test]
async fn a_killed_instances_places_in_flight_expire_and_the_others_keep_serving() {
    // Answers take four seconds: the killed instance's requests are in
    // flight when it dies.
    let (_mock, shared, mut instances) = three(4_000, "").await;
    let (key_id, key) = new_key(
        &instances,
        "leases",
        json!({}),
        json!({"max_concurrent": 2}),
    )
    .await;
    let (_, other) = new_key(&instances, "others", json!({}), json!({})).await;
    // Two requests held on the first instance fill the key's two places.
    let held: Vec<_> = (0..2)
        .map(|_| {
            let (http, url, key) = (
                instances[0].http.clone(),
                instances[0].url("/v1/chat/completions"),
                key.clone(),
            );
            tokio::spawn(async move {
                let _ = http
                    .post(url)
                    .bearer_auth(key)
                    .json(&crate::harness::chat_body())
                    .send()
                    .await;
            })
        })
        .collect();
    let counter = format!("inflight:key:{key_id}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while shared.redis_count(&counter) != 2 {
        assert!(Instant::now() < deadline, "the held requests never counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    instances[0].kill();
    for task in held {
        let _ = task.await;
    }
    // Still counted until the dead instance's lease (2 s) runs out.
    assert_eq!(instances[1].chat(&key).await.0, 429);
    // The others keep serving meanwhile...
    assert_eq!(instances[2].chat(&other).await.0, 200);
    // ...and once the lease has run out, the places are free.
    let deadline = Instant::now() + Duration::from_secs(20);
    for attempt in 0.. {
        let (status, _) = instances[1 + attempt % 2].chat(&key).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(
            Instant::now() < deadline,
            "the killed instance's places never came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_admin_listener_serves_the_operators_routes_and_the_public_port_does_not() {
    let mock = Mock::start(0);
    let shared = Shared::new(&mock, redis_url(), "").await;
    let instance = shared.instance(0);
    for path in ["/metrics", "/healthz", "/readyz"] {
        let public = instance.http.get(instance.url(path)).send().await.unwrap();
        assert_eq!(public.status(), 404, "{path} on the public port");
        let admin = instance
            .http
            .get(instance.admin_url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(admin.status(), 200, "{path} on the admin port");
    }
    let public = instance
        .http
        .get(instance.url("/admin/v1/projects"))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let (status, _) = instance
        .admin_call(Method::GET, "/projects", Value::Null)
        .await;
    assert_eq!(status, 200);
    // The API stays on the public port, and not on the admin one.
    assert_eq!(instance.chat(MASTER_KEY).await.0, 200);
    let on_admin = instance
        .http
        .post(instance.admin_url("/v1/chat/completions"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(on_admin.status(), 404);
    // `airlock health` probes it, as the container's health check does.
    let probe = crate::common::airlock()
        .args(["health", "--url", &instance.admin_url("/healthz")])
        .status()
        .unwrap();
    assert!(probe.success());
    let probe = crate::common::airlock()
        .args(["health", "--url", &instance.url("/healthz")])
        .status()
        .unwrap();
    assert!(!probe.success(), "a 404 is not healthy");
}
