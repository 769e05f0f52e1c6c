//! Publishable keys for browsers: accepted only from the project's origins,
//! with CORS answered per allowlist (never a wildcard), and operation scopes.

use crate::common;

use airlock_gateway::tenancy::manage::{self, ManageError, NewKey};
use airlock_store::{Actor, KeyKind, ProjectSettings};
use common::Harness;
use serde_json::{Value, json};

const APP: &str = "https://app.example.com";

async fn setup() -> (Harness, String) {
    let h = Harness::start().await;
    let actor = Actor {
        name: "test".into(),
        remote_addr: None,
    };
    let settings = ProjectSettings {
        allowed_origins: vec![APP.into(), "https://*.widgets.example".into()],
        ..ProjectSettings::default()
    };
    manage::create_project(&h.store, "widget", settings, &actor)
        .await
        .unwrap();
    let new = NewKey {
        kind: Some(KeyKind::Publishable),
        operations: vec!["chat.completions".into()],
        ..NewKey::default()
    };
    let (key, secret) = manage::create_key(&h.store, "widget", new, &actor)
        .await
        .unwrap();
    assert_eq!(key.kind, KeyKind::Publishable);
    assert!(secret.starts_with("pk_"));
    h.tenancy.reload().await.unwrap();
    (h, secret)
}

fn chat() -> Value {
    json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn publishable_keys_work_only_from_allowed_origins() {
    let (h, key) = setup().await;
    let send = |origin: Option<(&'static str, &'static str)>| {
        let mut request = h
            .http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&chat());
        if let Some((name, value)) = origin {
            request = request.header(name, value);
        }
        request.send()
    };
    let ok = send(Some(("origin", APP))).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["access-control-allow-origin"], APP);
    assert!(
        ok.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-request-id")
    );
    assert!(
        ok.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    assert_eq!(
        send(Some(("origin", "https://shop.widgets.example")))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(Some(("referer", "https://app.example.com/story?id=1")))
            .await
            .unwrap()
            .status(),
        200
    );

    for refused in [
        Some(("origin", "https://evil.test")),
        Some(("origin", "https://app.example.com.evil.test")),
        None,
    ] {
        let response = send(refused).await.unwrap();
        assert_eq!(response.status(), 403, "{refused:?}");
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "origin_not_allowed");
    }
}

#[tokio::test]
async fn preflights_are_answered_per_allowlist() {
    let (h, _) = setup().await;
    let preflight = |origin: &'static str| {
        h.http
            .request(reqwest::Method::OPTIONS, h.url("/v1/chat/completions"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-stainless-os",
            )
            .send()
    };
    let allowed = preflight(APP).await.unwrap();
    assert_eq!(allowed.status(), 204);
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], APP);
    assert_eq!(
        headers["access-control-allow-headers"],
        "authorization, content-type, x-stainless-os"
    );
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert_ne!(headers["access-control-allow-origin"], "*");
    let refused = preflight("https://evil.test").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn operation_scopes_are_enforced() {
    let (h, key) = setup().await;
    let response = h
        .http
        .post(h.url("/v1/embeddings"))
        .bearer_auth(&key)
        .header("origin", APP)
        .json(&json!({"model": "gemini-embedding-001", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "operation_not_allowed");
}

#[tokio::test]
async fn a_publishable_key_needs_origins_and_origins_must_be_origins() {
    let h = Harness::start().await;
    let actor = Actor {
        name: "test".into(),
        remote_addr: None,
    };
    manage::create_project(&h.store, "bare", ProjectSettings::default(), &actor)
        .await
        .unwrap();
    let new = NewKey {
        kind: Some(KeyKind::Publishable),
        ..NewKey::default()
    };
    assert!(matches!(
        manage::create_key(&h.store, "bare", new, &actor).await,
        Err(ManageError::Unfit(_))
    ));
    let bad = ProjectSettings {
        allowed_origins: vec!["app.example.com/path".into()],
        ..ProjectSettings::default()
    };
    assert!(matches!(
        manage::create_project(&h.store, "bad", bad, &actor).await,
        Err(ManageError::Invalid(_))
    ));
    let unknown_operation = NewKey {
        operations: vec!["launch".into()],
        ..NewKey::default()
    };
    assert!(matches!(
        manage::create_key(&h.store, "bare", unknown_operation, &actor).await,
        Err(ManageError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_widgets_usage_by_day_shows_its_requests_errors_spend_and_origins() {
    let (h, key) = setup().await;
    let key_id = h
        .store
        .keys(None)
        .await
        .unwrap()
        .into_iter()
        .find(|stored| stored.kind == KeyKind::Publishable)
        .unwrap()
        .id;
    for origin in [APP, APP, "https://shop.widgets.example"] {
        let ok = h
            .http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .header("origin", origin)
            .json(&chat())
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    }
    // Outside the key's scopes: an error, still the widget's.
    let refused = h
        .http
        .post(h.url("/v1/embeddings"))
        .bearer_auth(&key)
        .header("origin", APP)
        .json(&json!({"model": "text-embedding-3-small", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    // Usage is read from the request log, written in batches: a bound so a
    // regression fails instead of hanging; not a timing assertion.
    let usage = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let usage: Value = h
                .http
                .get(h.url(&format!("/admin/v1/keys/{key_id}/usage")))
                .bearer_auth(common::MASTER_KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if usage["totals"]["requests"] == 4 {
                break usage;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the four requests reach the usage report");
    assert_eq!(usage["key"]["kind"], "publishable");
    let today = &usage["data"][0];
    let day = airlock_gateway::clock::now_ms() / 86_400_000;
    assert_eq!(today["day"], airlock_store::day_string(day));
    assert_eq!(today["requests"], 4);
    assert_eq!(today["errors"], 1);
    assert_eq!(
        today["origins"],
        json!({APP: 3, "https://shop.widgets.example": 1})
    );
    assert!(today["tokens_in"].as_i64().unwrap() > 0);
    assert!(today["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(usage["totals"]["requests"], 4);
    let missing = h
        .http
        .get(h.url("/admin/v1/keys/key_nope/usage"))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad_day = h
        .http
        .get(h.url(&format!("/admin/v1/keys/{key_id}/usage?since=yesterday")))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_day.status(), 400);
}
