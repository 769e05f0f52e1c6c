//! Liveness and readiness probes, and the request id.

mod common;

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
    let made = r.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(made, "bad id with spaces");
    assert_eq!(made.len(), 36);
}
