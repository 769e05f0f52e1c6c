//! End users through the gateway: a verified ID token names the user, who
//! gets the project's per-user limits and appears in the request log.

use crate::common;

use airlock_gateway::tenancy::manage::{self, NewKey};
use airlock_store::{Actor, Limits, ProjectSettings};
use common::end_user_tokens::{Signer, jwks_server, serve_jwks, trusting};
use common::{Harness, Setup};
use serde_json::{Value, json};

#[tokio::test]
async fn end_users_get_their_own_limits_and_are_logged() {
    let signer = Signer::new();
    let h = Harness::with(Setup {
        end_users: Some(trusting(jwks_server(signer.jwk()).await)),
        ..Setup::default()
    })
    .await;
    let actor = Actor {
        name: "test".into(),
        remote_addr: None,
    };
    let settings = ProjectSettings {
        end_user_limits: Limits {
            rpm: Some(2),
            ..Limits::default()
        },
        ..ProjectSettings::default()
    };
    manage::create_project(&h.store, "story", settings, &actor)
        .await
        .unwrap();
    let (_, secret) = manage::create_key(&h.store, "story", NewKey::default(), &actor)
        .await
        .unwrap();
    h.tenancy.reload().await.unwrap();

    let chat = |user_token: Option<String>| {
        let mut request = h
            .http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(
                &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
            );
        if let Some(token) = user_token {
            request = request.header("x-airlock-user-token", token);
        }
        request.send()
    };
    assert_eq!(
        chat(Some(signer.token("alice"))).await.unwrap().status(),
        200
    );
    assert_eq!(
        chat(Some(signer.token("alice"))).await.unwrap().status(),
        200
    );
    let refused = chat(Some(signer.token("alice"))).await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("end user"),
        "{body}"
    );
    assert_eq!(
        chat(Some(signer.token("bob"))).await.unwrap().status(),
        200,
        "bob has his own limit"
    );
    assert_eq!(
        chat(None).await.unwrap().status(),
        200,
        "no token: the key's and project's limits only"
    );

    let forged = Signer::new().token("mallory");
    let response = chat(Some(forged)).await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("end-user token"),
        "{body}"
    );

    let records = h.stop().await;
    let users: Vec<Option<&str>> = records
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.end_user.as_deref())
        .collect();
    assert_eq!(users, [Some("alice"), Some("alice"), Some("bob"), None]);
}

#[tokio::test]
async fn a_user_token_without_configured_issuers_is_refused() {
    let h = Harness::start().await;
    let response = h
        .openai_post("/v1/chat/completions")
        .header("x-airlock-user-token", "a.b.c")
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_503_until_its_keys_can_be_fetched() {
    let signer = Signer::new();
    // The identity provider is down: nothing listens on its address yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let h = Harness::with(Setup {
        end_users: Some(trusting(format!("http://{addr}/jwks"))),
        ..Setup::default()
    })
    .await;
    let token = signer.token("alice");
    let chat = || {
        h.openai_post("/v1/chat/completions")
            .header("x-airlock-user-token", &token)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let retry_after = |response: &reqwest::Response| -> u64 {
        response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };

    // A valid token that cannot be checked yet: the gateway's failure, in
    // the caller's protocol, with when to come back.
    let refused = chat().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!((1..=2).contains(&retry_after(&refused)), "{refused:?}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "issuer_unavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("signing keys are unavailable") && message.contains("could not connect"),
        "{message}"
    );
    assert!(!message.contains("127.0.0.1"), "{message}");
    let refused = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:generateContent")
        .header("x-airlock-user-token", &token)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(retry_after(&refused) >= 1);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAVAILABLE", "{body}");

    // The identity provider comes back: the same token is accepted within
    // the short backoff, not after the 30 s refresh interval.
    serve_jwks(
        tokio::net::TcpListener::bind(addr).await.unwrap(),
        signer.jwk(),
    );
    let back = std::time::Instant::now();
    loop {
        let response = chat().await.unwrap();
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(
            back.elapsed() < std::time::Duration::from_secs(8),
            "still refused {:?} after the issuer came back",
            back.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // With its keys cached, a token signed by a key the issuer does not
    // have is the client's problem again: 401.
    let forged = Signer::new().token("mallory");
    let response = h
        .openai_post("/v1/chat/completions")
        .header("x-airlock-user-token", forged)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let records = h.stop().await;
    let users: Vec<Option<&str>> = records.iter().map(|r| r.end_user.as_deref()).collect();
    assert_eq!(users, [Some("alice")], "refused requests are not logged");
}
