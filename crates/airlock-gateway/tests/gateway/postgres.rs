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
    let ready: serde_json::Value = h
        .http
        .get(h.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
