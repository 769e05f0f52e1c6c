//! The provider key pool through the gateway: round-robin, rejected keys out
//! of rotation, rate-limited keys rested, and the errors when none is left.
//! The simulator rejects keys starting `bad-` and rate-limits `limited-`.

use crate::common;

use airlock_mock::Fault;
use common::{Harness, Setup};
use serde_json::{Value, json};

fn contents() -> Value {
    json!({"contents": [{"parts": [{"text": "hi"}]}]})
}

async fn generate(h: &Harness) -> reqwest::Response {
    h.gemini_post("/v1beta/models/gemini-2.5-flash:generateContent")
        .json(&contents())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn keys_are_used_round_robin() {
    let h = Harness::with(Setup {
        gemini_keys: vec!["k-one", "k-two", "k-three"],
        ..Setup::default()
    })
    .await;
    for _ in 0..6 {
        assert_eq!(generate(&h).await.status(), 200);
    }
    let seen = h.mock.server.requests_by_key();
    for key in ["k-one", "k-two", "k-three"] {
        assert_eq!(seen.get(key), Some(&2), "{seen:?}");
    }
}

#[tokio::test]
async fn a_rejected_key_leaves_the_rotation_and_never_leaks() {
    let h = Harness::with(Setup {
        gemini_keys: vec!["bad-key-1", "good-key"],
        ..Setup::default()
    })
    .await;
    for _ in 0..5 {
        let response = generate(&h).await;
        assert_eq!(response.status(), 200);
        assert!(!response.text().await.unwrap().contains("bad-key-1"));
    }
    let seen = h.mock.server.requests_by_key();
    assert_eq!(
        seen.get("bad-key-1"),
        Some(&1),
        "tried once, then out of rotation: {seen:?}"
    );
    assert_eq!(seen.get("good-key"), Some(&5));
    let (_, ready) = h.readiness().await;
    let keys = &ready["providers"][0]["keys"];
    assert_eq!(keys[0], json!({"id": "gemini#0", "state": "rejected"}));
    assert_eq!(keys[1], json!({"id": "gemini#1", "state": "active"}));
    assert!(!ready.to_string().contains("good-key"));
}

#[tokio::test]
async fn a_rate_limited_key_moves_the_request_to_the_next() {
    let h = Harness::with(Setup {
        openai_keys: vec!["limited-1", "fine-2"],
        ..Setup::default()
    })
    .await;
    for _ in 0..3 {
        let response = h
            .openai_post("/v1/chat/completions")
            .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let seen = h.mock.server.requests_by_key();
    assert_eq!(
        seen.get("limited-1"),
        Some(&1),
        "rested after its 429: {seen:?}"
    );
    assert_eq!(seen.get("fine-2"), Some(&3));
}

#[tokio::test]
async fn all_keys_rate_limited_gives_429_with_retry_after_in_each_protocol() {
    let h = Harness::with(Setup {
        gemini_keys: vec!["limited-a", "limited-b"],
        ..Setup::default()
    })
    .await;
    let response = generate(&h).await;
    assert_eq!(response.status(), 429);
    assert!(
        response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");

    let response = h
        .openai_post("/v1/chat/completions")
        .json(
            &json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn all_keys_rejected_gives_503_without_the_keys() {
    let h = Harness::with(Setup {
        openai_keys: vec!["bad-secret-one", "denied-secret-two"],
        ..Setup::default()
    })
    .await;
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let text = response.text().await.unwrap();
    assert!(text.contains("no usable key"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    let ready = h.http.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "the gemini provider is still usable");
}

#[tokio::test]
async fn a_gemini_key_rests_for_the_delay_in_retry_info() {
    // Google says how long to wait in the body's RetryInfo, not in a
    // Retry-After header; 7 s is not the pool's default rest (1 s).
    let h = Harness::with(Setup {
        gemini_keys: vec!["key-a", "key-b"],
        ..Setup::default()
    })
    .await;
    h.mock.server.set_fault(Some(Fault::RateLimit {
        retry_after_secs: 7,
    }));
    let response = generate(&h).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((6..=7).contains(&retry_after), "{retry_after}");
    // The provider is fine again, but both keys still rest for the delay
    // Google asked: nothing is sent upstream.
    h.mock.server.set_fault(None);
    let seen = h.mock.server.requests_seen();
    let response = generate(&h).await;
    assert_eq!(response.status(), 429);
    assert_eq!(h.mock.server.requests_seen(), seen);
}
