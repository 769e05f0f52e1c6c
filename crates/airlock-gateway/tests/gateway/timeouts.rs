//! A route's own timeouts over its provider's: the wait for the answer's
//! headers and the whole call, each a 504 in the caller's protocol naming
//! the timeout that fired, or, once a stream has begun, an error event
//! that ends it.

use crate::common;
use crate::resilience::chat;

use std::time::{Duration, Instant};

use airlock_gateway::routing::RouteTimeouts;
use airlock_mock::{Fault, FaultRule, Latency, Side};
use common::{Harness, Setup};
use serde_json::{Value, json};

fn slow_headers(h: &Harness, side: Side, after: Duration) {
    h.mock.server.add_fault_rule(FaultRule {
        provider: Some(side),
        fault: Fault::SlowHeaders(after),
        times: None,
        rate: None,
    });
}

fn with_timeouts(timeouts: RouteTimeouts) -> Setup {
    Setup {
        route_timeouts: vec![("smart", timeouts)],
        ..Setup::default()
    }
}

#[tokio::test]
async fn a_route_first_byte_timeout_answers_504_naming_it() {
    let h = Harness::with(with_timeouts(RouteTimeouts {
        first_byte: Some(Duration::from_millis(300)),
        ..RouteTimeouts::default()
    }))
    .await;
    slow_headers(&h, Side::OpenAi, Duration::from_secs(3));
    let started = Instant::now();
    let response = chat(&h, "smart").await;
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not the provider's 30 s"
    );
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("first-byte timeout"), "{message}");
    // Another route to the same provider keeps the provider's own wait.
    let response = chat(&h, "gpt-4o").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_route_total_timeout_bounds_a_complete_answer() {
    let h = Harness::with(with_timeouts(RouteTimeouts {
        total: Some(Duration::from_millis(400)),
        ..RouteTimeouts::default()
    }))
    .await;
    h.mock.server.set_latency(Latency {
        first_token: Duration::from_secs(3),
        per_chunk: Duration::ZERO,
    });
    let response = chat(&h, "smart").await;
    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("total timeout"), "{message}");
    let records = h.stop().await;
    assert_eq!(records[0].status, 504);
}

#[tokio::test]
async fn a_route_total_timeout_ends_a_stream_with_an_error_event() {
    let h = Harness::with(with_timeouts(RouteTimeouts {
        total: Some(Duration::from_millis(500)),
        ..RouteTimeouts::default()
    }))
    .await;
    h.mock.server.set_latency(Latency {
        first_token: Duration::ZERO,
        per_chunk: Duration::from_millis(100),
    });
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&json!({
            "model": "smart",
            "stream": true,
            "max_tokens": 200,
            "messages": [{"role": "user", "content": "Tell me a long story."}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .expect("the stream ends")
        .unwrap();
    let events = common::sse_data(&body);
    assert!(events.len() > 2, "some chunks came first: {body}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    let message = last["error"]["message"].as_str().unwrap();
    assert!(message.contains("total timeout"), "{message}");
    let records = h.stop().await;
    assert_eq!(records[0].outcome, "upstream_timed_out");
}
