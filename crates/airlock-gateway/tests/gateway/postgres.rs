//! The gateway on PostgreSQL: requests are logged there as on SQLite.

use crate::common;

use airlock_store::Store;
use common::{Harness, Setup};
use serde_json::json;

#[tokio::test]
async fn requests_are_logged_to_postgres() {
    let url = airlock_store::testing::fresh_postgres_database().await;
    let store = Store::open(&url).await.unwrap();
    let h = Harness::with(Setup {
        store: Some(store),
        ..Setup::default()
    })
    .await;
    let (_, ready) = h.readiness().await;
    assert_eq!(ready["store"]["backend"], "postgres");
    for _ in 0..3 {
        let r = h
            .openai_post("/v1/chat/completions")
            .json(&json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let records = h.stop().await;
    assert_eq!(records.len(), 3);
    assert!(
        records
            .iter()
            .all(|r| r.provider.as_deref() == Some("gemini") && r.tokens_in.is_some())
    );
}

/// A conversation outlives the instance that served it: a new gateway on the
/// same database (an empty cache) reads the chain back and sends it all.
#[tokio::test]
async fn a_conversation_is_continued_by_another_instance_from_postgres() {
    let url = airlock_store::testing::fresh_postgres_database().await;
    let on_postgres = |store: Store| Setup {
        store: Some(store),
        ..Setup::default()
    };
    let first = Harness::with(on_postgres(Store::open(&url).await.unwrap())).await;
    let mut previous = serde_json::Value::Null;
    for turn in ["one", "two"] {
        let answer: serde_json::Value = first
            .openai_post("/v1/responses")
            .json(&json!({"model": "gpt-4o-mini", "input": turn, "previous_response_id": previous}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        previous = answer["id"].clone();
    }
    first.stop().await;

    let second = Harness::with(on_postgres(Store::open(&url).await.unwrap())).await;
    // A read on the new instance finds the turn in the database alone.
    let id = previous.as_str().unwrap();
    let read = second
        .http
        .get(second.url(&format!("/v1/responses/{id}")))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<serde_json::Value>().await.unwrap()["id"], id);
    let r = second
        .openai_post("/v1/responses")
        .json(&json!({"model": "gpt-4o-mini", "input": "three", "previous_response_id": previous}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let upstream = second
        .mock
        .server
        .received()
        .into_iter()
        .rev()
        .find(|request| request.path == "/v1/responses")
        .unwrap()
        .body;
    let input = upstream["input"].as_array().unwrap();
    // one, its answer, two, its answer, three.
    assert_eq!(input.len(), 5, "{upstream}");
    assert_eq!(input[0]["content"], "one");
    assert_eq!(input[2]["content"], "two");
    assert_eq!(input[4]["content"], "three");
}

/// A conversation object made on one instance is used by another from
/// PostgreSQL, each turn's record names it, and the admin API lists it.
#[tokio::test]
async fn a_conversation_object_is_used_by_another_instance_from_postgres() {
    let url = airlock_store::testing::fresh_postgres_database().await;
    let on_postgres = |store: Store| Setup {
        store: Some(store),
        ..Setup::default()
    };
    let first = Harness::with(on_postgres(Store::open(&url).await.unwrap())).await;
    let made: serde_json::Value = first
        .openai_post("/v1/conversations")
        .json(&json!({"items": [{"role": "user", "content": "My name is Ada."}], "metadata": {"k": "v"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap().to_string();
    first.stop().await;

    let second = Harness::with(on_postgres(Store::open(&url).await.unwrap())).await;
    let r = second
        .openai_post("/v1/responses")
        .json(&json!({"model": "gpt-4o-mini", "input": "What is my name?", "conversation": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let upstream = second
        .mock
        .server
        .received()
        .into_iter()
        .rev()
        .find(|request| request.path == "/v1/responses")
        .unwrap()
        .body;
    assert_eq!(upstream["input"][0]["content"], "My name is Ada.");
    let items: serde_json::Value = second
        .http
        .get(second.url(&format!("/v1/conversations/{id}/items")))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["data"].as_array().unwrap().len(), 3, "{items}");
    let shown: serde_json::Value = second
        .http
        .get(second.url(&format!("/admin/v1/conversations/{id}")))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["api"], "conversations");
    assert_eq!(shown["metadata"], json!({"k": "v"}));
    assert_eq!(shown["items"].as_array().unwrap().len(), 3);
    assert_eq!(shown["turns"].as_array().unwrap().len(), 1);
    let records = second.stop().await;
    let turn = records.iter().find(|r| r.operation == "responses").unwrap();
    assert_eq!(turn.conversation_id.as_deref(), Some(id.as_str()));
}
