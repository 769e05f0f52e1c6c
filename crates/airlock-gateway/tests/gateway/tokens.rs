//! Ephemeral tokens minted through the providers' own endpoints: use counts,
//! lifetimes, model binding, and who may mint.

use crate::common;

use airlock_gateway::tenancy::manage::{self, NewKey};
use airlock_store::{Actor, KeyKind, ProjectSettings};
use common::{Counting, Harness, MASTER_KEY};
use serde_json::{Value, json};

async fn with_keys() -> (Harness, String, String) {
    with_keys_counting(Counting::InMemory).await
}

/// A project with a secret and a publishable key, its tokens kept as
/// `counting` says (in memory, or in Redis in cluster mode).
async fn with_keys_counting(counting: Counting) -> (Harness, String, String) {
    let h = Harness::with(counting.setup(common::Setup::default()).await).await;
    let actor = Actor {
        name: "test".into(),
        remote_addr: None,
    };
    let settings = ProjectSettings {
        allowed_origins: vec!["https://app.example.com".into()],
        ..ProjectSettings::default()
    };
    manage::create_project(&h.store, "live", settings, &actor)
        .await
        .unwrap();
    let (_, secret) = manage::create_key(&h.store, "live", NewKey::default(), &actor)
        .await
        .unwrap();
    let publishable = NewKey {
        kind: Some(KeyKind::Publishable),
        ..NewKey::default()
    };
    let (_, publishable) = manage::create_key(&h.store, "live", publishable, &actor)
        .await
        .unwrap();
    h.tenancy.reload().await.unwrap();
    (h, secret, publishable)
}

// Tokens kept in memory, and in Redis (cluster mode).
crate::in_memory_and_in_redis!(
    gemini_tokens_count_their_uses_and_keep_to_their_model,
    openai_client_secrets_act_as_their_key_within_bounds,
    a_token_is_refused_once_its_key_is_revoked,
);

async fn generate(h: &Harness, key: &str, model: &str) -> u16 {
    h.http
        .post(h.url(&format!("/v1beta/models/{model}:generateContent")))
        .header("x-goog-api-key", key)
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn gemini_tokens_count_their_uses_and_keep_to_their_model(counting: Counting) {
    let (h, secret, _) = with_keys_counting(counting).await;
    let response = h
        .http
        .post(h.url("/v1alpha/auth_tokens"))
        .header("x-goog-api-key", &secret)
        .json(&json!({"uses": 2, "bidiGenerateContentSetup": {"model": "models/gemini-2.5-flash"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    let name = token["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("auth_tokens/"));
    assert_eq!(token["uses"], 2);
    assert!(token["expireTime"].as_str().unwrap().ends_with('Z'));

    assert_eq!(
        generate(&h, &name, "gemini-2.5-pro").await,
        403,
        "bound to gemini-2.5-flash"
    );
    assert_eq!(generate(&h, &name, "gemini-2.5-flash").await, 200);
    // The third use is refused (the refused call above spent one too).
    assert_eq!(generate(&h, &name, "gemini-2.5-flash").await, 401);
    // google-genai sends tokens as `Authorization: Token ...` on Live; accepted too.
    let minted = h
        .http
        .post(h.url("/v1alpha/auth_tokens"))
        .header("x-goog-api-key", &secret)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let second = minted.json::<Value>().await.unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let r = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .header("authorization", format!("Token {second}"))
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let records = h.stop().await;
    let via_token = records.iter().find(|r| r.status == 200).unwrap();
    assert!(
        via_token
            .project_id
            .as_deref()
            .unwrap()
            .starts_with("proj_"),
        "tokens carry their key's project"
    );
}

#[tokio::test]
async fn token_lifetimes_are_bounded() {
    let (h, secret, _) = with_keys().await;
    let far = "2099-01-01T00:00:00Z";
    let r = h
        .http
        .post(h.url("/v1alpha/auth_tokens"))
        .header("x-goog-api-key", &secret)
        .json(&json!({"expireTime": far}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let r = h
        .http
        .post(h.url("/v1/realtime/client_secrets"))
        .bearer_auth(&secret)
        .json(&json!({"expires_after": {"anchor": "created_at", "seconds": 7200}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["param"], "expires_after.seconds");
    let r = h
        .http
        .post(h.url("/v1/realtime/client_secrets"))
        .bearer_auth(&secret)
        .json(&json!({"colour": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

async fn openai_client_secrets_act_as_their_key_within_bounds(counting: Counting) {
    let (h, secret, _) = with_keys_counting(counting).await;
    let r = h
        .http
        .post(h.url("/v1/realtime/client_secrets"))
        .bearer_auth(&secret)
        .json(&json!({"expires_after": {"anchor": "created_at", "seconds": 600}, "session": {"type": "realtime", "model": "gpt-4o"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let value = body["value"].as_str().unwrap().to_string();
    assert!(value.starts_with("ek_"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expires_at = body["expires_at"].as_i64().unwrap();
    assert!((now + 590..=now + 601).contains(&expires_at));
    assert_eq!(body["session"]["model"], "gpt-4o");
    let chat = |model: &str| {
        h.http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(&value)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            chat("gpt-4o").await.unwrap().status(),
            200,
            "no use count: any number within the lifetime"
        );
    }
    assert_eq!(chat("gpt-4o-mini").await.unwrap().status(), 403);
}

#[tokio::test]
async fn only_secret_keys_and_the_master_key_mint() {
    let (h, _, publishable) = with_keys().await;
    let r = h
        .http
        .post(h.url("/v1/realtime/client_secrets"))
        .bearer_auth(&publishable)
        .header("origin", "https://app.example.com")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = h
        .http
        .post(h.url("/v1alpha/auth_tokens"))
        .header("x-goog-api-key", MASTER_KEY)
        .json(&json!({"uses": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let r = h
        .http
        .post(h.url("/v1alpha/auth_tokens"))
        .header("x-goog-api-key", &token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a token cannot mint tokens");
    let r = h
        .http
        .post(h.url("/v1alpha/auth_tokens"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn a_token_is_refused_once_its_key_is_revoked(counting: Counting) {
    let (h, secret, _) = with_keys_counting(counting).await;
    let minted: Value = h
        .http
        .post(h.url("/v1alpha/auth_tokens"))
        .header("x-goog-api-key", &secret)
        .json(&json!({"uses": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["name"].as_str().unwrap().to_string();
    assert_eq!(generate(&h, &token, "gemini-2.5-flash").await, 200);
    let actor = Actor {
        name: "test".into(),
        remote_addr: None,
    };
    let key = h
        .store
        .keys(None)
        .await
        .unwrap()
        .into_iter()
        .find(|key| key.kind == KeyKind::Secret)
        .unwrap();
    manage::revoke_key(&h.store, &key.id, &actor).await.unwrap();
    h.tenancy.reload().await.unwrap();
    let refused = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .header("x-goog-api-key", &token)
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("revoked"), "{message}");
}
