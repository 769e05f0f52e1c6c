//! Streams the client leaves before the provider reported its usage: the
//! record is `client_disconnected` (499) with estimated tokens, marked so,
//! and a cost, never silently free; a stream read to its end keeps the
//! provider's counts.

use crate::common;

use airlock_store::RequestRecord;
use common::{Harness, pace_streams, request_id};
use serde_json::json;

/// Reads `response` until it has held `events` SSE `data:` lines, then
/// drops it (the client goes away).
async fn read_then_leave(mut response: reqwest::Response, events: usize) {
    assert_eq!(response.status(), 200);
    let mut body = String::new();
    while body.matches("data: ").count() < events {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(30), response.chunk())
            .await
            .expect("a chunk in time")
            .unwrap()
            .expect("the stream goes on");
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
}

fn by_id<'a>(records: &'a [RequestRecord], id: &str) -> &'a RequestRecord {
    records
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no record {id}: {records:?}"))
}

#[tokio::test]
async fn a_stream_left_mid_way_is_recorded_with_estimated_tokens() {
    let h = Harness::start().await;
    // The simulator sends each chunk half a second after the one before.
    pace_streams(&h);
    let chat = || {
        h.openai_post("/v1/chat/completions")
            .json(&json!({"model": "gpt-4o-mini", "stream": true,
                          "messages": [{"role": "user", "content": "Tell me a long story"}]}))
            .send()
    };
    let gemini = || {
        h.gemini_post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": "Tell me a long story"}]}]}))
            .send()
    };

    // OpenAI: the usage chunk Airlock asked for comes last, so none came.
    let response = chat().await.unwrap();
    let left_openai = request_id(&response);
    read_then_leave(response, 3).await;
    // Gemini: its chunks carry the prompt's count, not the output's.
    let response = gemini().await.unwrap();
    let left_gemini = request_id(&response);
    read_then_leave(response, 2).await;
    // The same, read to the end.
    let response = chat().await.unwrap();
    let read_openai = request_id(&response);
    response.text().await.unwrap();
    let response = gemini().await.unwrap();
    let read_gemini = request_id(&response);
    response.text().await.unwrap();

    let records = h.stop().await;
    for id in [&left_openai, &left_gemini] {
        let left = by_id(&records, id);
        assert_eq!(
            (left.status, left.outcome.as_str()),
            (499, "client_disconnected"),
            "{left:?}"
        );
        assert!(left.tokens_estimated, "{left:?}");
        assert!(left.tokens_out.unwrap() > 0, "{left:?}");
        assert!(left.tokens_in.unwrap() > 0, "{left:?}");
        assert!(
            left.cost_usd.unwrap() > 0.0,
            "priced from the estimate: {left:?}"
        );
    }
    for id in [&read_openai, &read_gemini] {
        let read = by_id(&records, id);
        assert_eq!((read.status, read.outcome.as_str()), (200, "ok"));
        assert!(!read.tokens_estimated, "{read:?}");
        assert!(read.tokens_out.unwrap() > 0);
    }
    // The estimate is of what was relayed: less than the whole answer,
    // which the same request (same answer from the simulator) reported.
    for (left, read) in [(&left_openai, &read_openai), (&left_gemini, &read_gemini)] {
        let (left, read) = (by_id(&records, left), by_id(&records, read));
        assert!(left.tokens_out < read.tokens_out, "{left:?} {read:?}");
    }
    // Gemini reported the prompt's count before the client left: it is
    // kept, not estimated.
    assert_eq!(
        by_id(&records, &left_gemini).tokens_in,
        by_id(&records, &read_gemini).tokens_in
    );
}
