//! W3C trace context: a client's `traceparent` reaches the provider.

use crate::common;

use common::{Harness, Setup};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// An OpenAI-protocol upstream that answers one chat completion and reports
/// the request head it received.
async fn capturing_upstream() -> (String, oneshot::Receiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (head_tx, head_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buffer).await.unwrap();
            assert!(n > 0, "connection closed before the request head");
            received.extend_from_slice(&buffer[..n]);
        }
        let body = json!({
            "id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        })
        .to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        let _ = head_tx.send(String::from_utf8_lossy(&received).to_lowercase());
    });
    (format!("http://{addr}/v1"), head_rx)
}

#[tokio::test]
async fn the_clients_trace_context_is_propagated_upstream() {
    let (base_url, head) = capturing_upstream().await;
    let h = Harness::with(Setup {
        openai_base_url: Some(base_url),
        ..Setup::default()
    })
    .await;
    let response = h
        .openai_post("/v1/chat/completions")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("tracestate", "vendor=abc")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let head = head.await.unwrap();
    assert!(
        head.contains("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{head}"
    );
    assert!(head.contains("tracestate: vendor=abc"), "{head}");
    // The client's own key never travels upstream; the provider key does.
    assert!(
        head.contains("authorization: bearer openai-key-a"),
        "{head}"
    );
    assert!(!head.contains(common::MASTER_KEY), "{head}");
}
