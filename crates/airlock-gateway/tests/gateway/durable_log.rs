//! A durable request log: by the time the client has the whole answer
//! (complete JSON, an error, or a stream to its end), the request's record
//! is in the write-ahead log, synced (or already through it, in the
//! database).

use std::time::{Duration, Instant};

use airlock_store::RequestRecord;
use airlock_store::testing::wal_records;
use serde_json::json;

use crate::common::{Harness, Setup, request_id};

/// How long the WAL's writer gathers a group: a record whose append the
/// answer did not wait for would not be in the WAL yet when it arrived.
const LINGER: Duration = Duration::from_millis(300);

async fn durable() -> Harness {
    Harness::with(Setup {
        durable_log: Some(LINGER),
        ..Setup::default()
    })
    .await
}

/// The request's record if it is durable: in the WAL, or already out of it
/// because the database has it (read in that order, so a record moving on
/// meanwhile is still found).
async fn durable_record(h: &Harness, id: &str) -> Option<RequestRecord> {
    let wal = h.wal_dir.as_ref().unwrap().join("requests");
    if let Some(record) = wal_records::<RequestRecord>(&wal)
        .into_iter()
        .find(|record| record.id == id)
    {
        return Some(record);
    }
    let in_db = h.store.recent_request_records(1000).await.unwrap();
    in_db.into_iter().find(|record| record.id == id)
}

#[tokio::test]
async fn a_complete_answer_arrives_once_its_record_is_in_the_wal() {
    let h = durable().await;
    let sent = Instant::now();
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let id = request_id(&response);
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let record = durable_record(&h, &id).await.expect("in the WAL");
    assert_eq!((record.status, record.outcome.as_str()), (200, "ok"));
    assert!(!record.streamed);
    assert!(
        sent.elapsed() >= LINGER,
        "the answer waited for the group's sync"
    );
    h.stop().await;
}

#[tokio::test]
async fn an_error_answer_arrives_once_its_record_is_in_the_wal() {
    let h = durable().await;
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&json!({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let id = request_id(&response);
    assert_eq!(response.status(), 404);
    response.bytes().await.unwrap();
    let record = durable_record(&h, &id).await.expect("in the WAL");
    assert_eq!((record.status, record.outcome.as_str()), (404, "error"));
    h.stop().await;
}

#[tokio::test]
async fn a_stream_ends_once_its_record_is_in_the_wal() {
    let h = durable().await;
    // Relayed as the provider sent it, and translated from Gemini (whose
    // framer closes the stream with bytes of its own).
    for model in ["gpt-4o-mini", "fast"] {
        let response = h
            .openai_post("/v1/chat/completions")
            .json(&json!({
                "model": model,
                "stream": true,
                "messages": [{"role": "user", "content": "hi"}],
            }))
            .send()
            .await
            .unwrap();
        let id = request_id(&response);
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        assert!(body.trim_end().ends_with("data: [DONE]"), "{model}: {body}");
        let record = durable_record(&h, &id).await.expect("in the WAL");
        assert_eq!((record.status, record.outcome.as_str()), (200, "ok"));
        assert!(record.streamed);
    }
    let records = h.stop().await;
    assert_eq!(records.len(), 2, "each written once");
}
