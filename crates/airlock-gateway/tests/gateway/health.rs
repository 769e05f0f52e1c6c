//! Liveness and readiness probes, and the request id.

use crate::common;

use common::Harness;
use serde_json::Value;

#[tokio::test]
async fn healthz_and_readyz_report_state() {
    let h = Harness::start().await;
    let r = h.http.get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = h.http.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ready"], true);
    assert_eq!(body["store"]["backend"], "sqlite");
    assert_eq!(body["providers"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn readyz_fails_when_the_store_is_gone() {
    let h = Harness::start().await;
    h.store.close().await;
    let r = h.http.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["store"]["ok"], false);
}

#[tokio::test]
async fn request_ids_are_kept_or_made() {
    let h = Harness::start().await;
    let r = h
        .http
        .get(h.url("/healthz"))
        .header("x-request-id", "client-id-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "client-id-1");
    let r = h
        .http
        .get(h.url("/healthz"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(made, "bad id with spaces");
    // A UUIDv7: version 7, the RFC 9562 variant, and the millisecond it
    // was made in as its first 48 bits.
    let parts: Vec<&str> = made.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('7'), "{made}");
    assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{made}");
    let made_at_ms = u64::from_str_radix(&format!("{}{}", parts[0], parts[1]), 16).unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        now_ms.abs_diff(made_at_ms) < 60_000,
        "{made} made at {made_at_ms}, now {now_ms}"
    );
    let again = h.http.get(h.url("/healthz")).send().await.unwrap();
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), made);
}

#[tokio::test]
async fn readyz_names_an_unreachable_provider_and_why() {
    // Port 1 on loopback: nothing listens, the connect is refused at once.
    let h = Harness::with(common::Setup {
        openai_base_url: Some("http://127.0.0.1:1/v1".into()),
        ..common::Setup::default()
    })
    .await;
    let readiness = |body: &Value, name: &str| {
        body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    let r = h.http.get(h.url("/readyz")).send().await.unwrap();
    // Gemini is still reachable with a usable key: ready.
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ready"], true);
    assert_eq!(readiness(&body, "gemini")["reachable"], true);
    let openai = readiness(&body, "openai");
    assert_eq!(openai["reachable"], false);
    let cause = openai["unreachable_because"].as_str().unwrap();
    assert!(
        cause.contains("127.0.0.1:1") && cause.contains("refused"),
        "{cause}"
    );

    // A request to it is a 502, and readiness still says why.
    let r = h
        .openai_post("/v1/chat/completions")
        .json(&serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let (_, body) = h.readiness().await;
    assert_eq!(readiness(&body, "openai")["reachable"], false);
}

#[tokio::test]
async fn readyz_fails_when_no_usable_provider_can_be_reached() {
    let h = Harness::with(common::Setup {
        gemini_keys: vec![],
        openai_base_url: Some("http://127.0.0.1:1/v1".into()),
        ..common::Setup::default()
    })
    .await;
    let r = h.http.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["store"]["ok"], true);
}
