//! Bad input and broken peers: each gets a clear error in the caller's
//! protocol, never a panic or a hang, and is logged.

use crate::common;

use std::time::Duration;

use airlock_mock::Fault;
use common::{Harness, MASTER_KEY, Setup};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

const CHAT: &str = "/v1/chat/completions";
const GENERATE: &str = "/v1beta/models/gemini-2.5-flash:generateContent";

async fn openai_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["error"].get("type").is_some(), "OpenAI shape: {body}");
    body
}

async fn google_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], status, "Google shape: {body}");
    assert!(body["error"]["status"].is_string());
    body
}

#[tokio::test]
async fn malformed_json_is_a_400_in_each_protocol() {
    let h = Harness::start().await;
    let r = h
        .openai_post(CHAT)
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    openai_error(r, 400).await;
    let r = h
        .gemini_post(GENERATE)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let body = google_error(r, 400).await;
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let r = h
        .openai_post(CHAT)
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    openai_error(r, 400).await;
}

#[tokio::test]
async fn missing_model_names_the_parameter() {
    let h = Harness::start().await;
    let r = h
        .openai_post(CHAT)
        .json(&json!({"messages": []}))
        .send()
        .await
        .unwrap();
    let body = openai_error(r, 400).await;
    assert_eq!(body["error"]["param"], "model");
}

#[tokio::test]
async fn wrong_content_type_is_a_415() {
    let h = Harness::start().await;
    let r = h
        .openai_post(CHAT)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    openai_error(r, 415).await;
    let r = h
        .gemini_post(GENERATE)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .unwrap();
    google_error(r, 415).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let h = Harness::with(Setup {
        max_body_bytes: 1024,
        ..Setup::default()
    })
    .await;
    let big =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(4096)}]});
    let r = h.openai_post(CHAT).json(&big).send().await.unwrap();
    let body = openai_error(r, 413).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("1024"));
    let r = h
        .gemini_post(GENERATE)
        .json(&json!({"contents": [{"parts": [{"text": "x".repeat(4096)}]}]}))
        .send()
        .await
        .unwrap();
    google_error(r, 413).await;
    // The stateful APIs too: a turn, a conversation's items, an interaction.
    let text = "x".repeat(4096);
    for (path, body) in [
        ("/v1/responses", json!({"model": "gpt-4o", "input": text})),
        (
            "/v1/conversations",
            json!({"items": [{"role": "user", "content": text}]}),
        ),
    ] {
        let r = h.openai_post(path).json(&body).send().await.unwrap();
        let body = openai_error(r, 413).await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains("1024"),
            "{path}: {body}"
        );
    }
    let r = h
        .gemini_post("/v1beta/interactions")
        .json(&json!({"model": "gemini-2.5-flash", "input": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1024"),
        "{body}"
    );
    let records = h.stop().await;
    assert!(records.iter().all(|r| r.status == 413));
}

#[tokio::test]
async fn invalid_utf8_is_a_400() {
    let h = Harness::start().await;
    let mut body =
        b"{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\", \"content\": \"".to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(b"\"}]}");
    let r = h
        .openai_post(CHAT)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let error = openai_error(r, 400).await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8")
    );
    let r = h
        .gemini_post(GENERATE)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    google_error(r, 400).await;
}

#[tokio::test]
async fn unknown_models_are_404_in_each_protocol() {
    let h = Harness::start().await;
    let r = h
        .openai_post(CHAT)
        .json(&json!({"model": "no-such-model", "messages": []}))
        .send()
        .await
        .unwrap();
    let body = openai_error(r, 404).await;
    assert_eq!(body["error"]["code"], "model_not_found");
    let r = h
        .gemini_post("/v1beta/models/no-such-model:generateContent")
        .json(&json!({"contents": []}))
        .send()
        .await
        .unwrap();
    let body = google_error(r, 404).await;
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    // A routed name the provider does not know gets the provider's own 404.
    let r = h
        .gemini_post("/v1beta/models/gemini-0.1-imaginary:generateContent")
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    google_error(r, 404).await;
}

#[tokio::test]
async fn missing_or_wrong_client_keys_are_401_in_each_protocol() {
    let h = Harness::start().await;
    let chat = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let r = h.http.post(h.url(CHAT)).json(&chat).send().await.unwrap();
    openai_error(r, 401).await;
    let r = h
        .http
        .post(h.url(CHAT))
        .bearer_auth("wrong")
        .json(&chat)
        .send()
        .await
        .unwrap();
    let body = openai_error(r, 401).await;
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let r = h
        .http
        .post(h.url(GENERATE))
        .header("x-goog-api-key", "wrong")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body = google_error(r, 401).await;
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    let r = h
        .http
        .post(h.url(&format!("{GENERATE}?key=wrong")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    google_error(r, 401).await;
    let r = h.http.get(h.url("/v1beta/models")).send().await.unwrap();
    google_error(r, 401).await;
    // Health probes need no key.
    assert_eq!(
        h.http.get(h.url("/healthz")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        h.mock.server.requests_seen(),
        0,
        "nothing reached the provider"
    );
}

#[tokio::test]
async fn model_names_with_path_tricks_are_refused() {
    let h = Harness::start().await;
    for path in [
        "/v1beta/models/..%2F..%2Fv1%2Fmodels:generateContent",
        "/v1beta/models/gemini%2F..%2Fx:generateContent",
        "/v1beta/models/../../etc/passwd:generateContent",
        "/v1beta/models/a%2Fb",
    ] {
        let r = h
            .http
            .post(h.url(path))
            .header("x-goog-api-key", MASTER_KEY)
            .json(&json!({"contents": []}))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 400 | 404),
            "{path}: {}",
            r.status()
        );
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["status"].is_string(), "{path}: {body}");
    }
    assert_eq!(h.mock.server.requests_seen(), 0);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_errors_in_the_right_shape() {
    let h = Harness::start().await;
    let r = h
        .openai_post("/v1/nothing-here")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    openai_error(r, 404).await;
    let r = h
        .gemini_get("/v1beta/models/gemini-2.5-flash:generateContent")
        .send()
        .await
        .unwrap();
    google_error(r, 405).await;
    let r = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:selfDestruct")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    google_error(r, 400).await;
    // An API this gateway does not serve (yet) is a 404 naming it.
    let r = h
        .openai_post("/v1/fine_tuning/jobs")
        .json(&json!({"model": "gpt-4o-mini", "training_file": "file-abc"}))
        .send()
        .await
        .unwrap();
    let body = openai_error(r, 404).await;
    assert_eq!(
        body["error"]["message"],
        "no route for POST /v1/fine_tuning/jobs"
    );
    // A known path with the wrong method is a 405 in the caller's protocol,
    // with the methods it does accept.
    let r = h
        .http
        .get(h.url(CHAT))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    let body = openai_error(r, 405).await;
    assert_eq!(
        body["error"]["message"],
        "/v1/chat/completions does not accept GET"
    );
    let r = h
        .http
        .delete(h.url("/v1beta/models"))
        .header("x-goog-api-key", MASTER_KEY)
        .send()
        .await
        .unwrap();
    google_error(r, 405).await;
    let r = h.http.put(h.url("/healthz")).send().await.unwrap();
    openai_error(r, 405).await;
}

#[tokio::test]
async fn an_unreachable_provider_is_a_502() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let h = Harness::with(Setup {
        openai_base_url: Some(format!("http://{addr}/v1")),
        ..Setup::default()
    })
    .await;
    let r = h
        .openai_post(CHAT)
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    let body = openai_error(r, 502).await;
    assert!(!body.to_string().contains("openai-key-a"));
}

#[tokio::test]
async fn an_upstream_that_dies_mid_stream_ends_the_client_stream_with_an_error_event() {
    let h = Harness::start().await;
    h.mock
        .server
        .set_fault(Some(Fault::DisconnectAfterChunks(1)));
    let gemini = json!({"contents": [{"parts": [{"text": "a long story please"}]}]});
    let chat = |model: &str| json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "a long story please"}]});
    // Each protocol's stream ends well-formed, its last event an error the
    // SDKs raise, after what arrived before the break.
    let cases = [
        (
            h.gemini_post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
                .json(&gemini),
            "data: {\"error\":{\"code\":503",
        ),
        (
            h.gemini_post("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
                .json(&gemini),
            ",\r\n{\"error\":{\"code\":503",
        ),
        (
            h.openai_post("/v1/chat/completions")
                .json(&chat("gpt-4o-mini")),
            "data: {\"error\":{\"message\"",
        ),
        (
            h.openai_post("/v1/chat/completions")
                .json(&chat("gemini-2.5-flash")),
            "data: {\"error\":{\"message\"",
        ),
        (
            h.openai_post("/v1/responses").json(
                &json!({"model": "gemini-2.5-flash", "input": "a long story", "stream": true}),
            ),
            "event: error\ndata: {\"type\":\"error\",\"code\":\"stream_interrupted\"",
        ),
    ];
    for (request, ending) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response
            .text()
            .await
            .expect("a well-formed end, not a cut connection");
        let last = body.trim_end().rsplit("\n\n").next().unwrap_or_default();
        assert!(body.contains(ending), "{ending}: {body}");
        assert!(last.contains("broke off"), "the error comes last: {last}");
        // What came before the break is there too.
        assert!(body.find(ending).unwrap() > 0, "{body}");
    }
    h.mock.server.set_fault(None);
    let records = h.stop().await;
    assert_eq!(records.len(), 5);
    assert!(records.iter().all(|r| r.outcome == "upstream_disconnected"));
}

/// An OpenAI-protocol upstream that sends one SSE event and then holds the
/// stream open, reporting when the gateway closes the connection.
async fn hanging_upstream() -> (String, oneshot::Receiver<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed_tx, closed_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0u8; 65536];
        let _ = socket.read(&mut buffer).await.unwrap();
        let event = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let chunk = format!("{head}{:x}\r\n{event}\r\n", event.len());
        socket.write_all(chunk.as_bytes()).await.unwrap();
        // Wait for the gateway to hang up.
        while let Ok(n) = socket.read(&mut buffer).await {
            if n == 0 {
                break;
            }
        }
        let _ = closed_tx.send(());
    });
    (format!("http://{addr}/v1"), closed_rx)
}

#[tokio::test]
async fn a_stalled_upstream_stream_is_ended_with_an_error_event_and_cancelled() {
    let (base_url, upstream_closed) = hanging_upstream().await;
    let h = Harness::with(Setup {
        openai_base_url: Some(base_url),
        stream_idle_timeout: std::time::Duration::from_millis(300),
        ..Setup::default()
    })
    .await;
    let response = h
        .openai_post(CHAT)
        .json(&json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A bound on the wait so a regression fails instead of hanging.
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), response.text())
        .await
        .expect("the stalled stream is ended")
        .expect("well-formed");
    assert!(body.contains("\"hi\""), "what came before: {body}");
    let last = body.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("data: {\"error\""), "{last}");
    assert!(last.contains("sent nothing for"), "{last}");
    tokio::time::timeout(std::time::Duration::from_secs(10), upstream_closed)
        .await
        .expect("the upstream call is cancelled")
        .unwrap();
    let records = h.stop().await;
    assert_eq!(records[0].outcome, "upstream_stalled");
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_cancels_the_upstream_and_is_logged() {
    let (base_url, upstream_closed) = hanging_upstream().await;
    let h = Harness::with(Setup {
        openai_base_url: Some(base_url),
        ..Setup::default()
    })
    .await;
    let mut response = h
        .openai_post(CHAT)
        .json(&json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"hi\""));
    drop(response);
    // A bound on the wait so a regression fails instead of hanging; not a timing assertion.
    tokio::time::timeout(Duration::from_secs(30), upstream_closed)
        .await
        .expect("the gateway must cancel the upstream request")
        .unwrap();
    let records = h.stop().await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].status, records[0].outcome.as_str()),
        (499, "client_disconnected")
    );
    assert!(
        records[0].ttft_us.is_some(),
        "what was produced is still logged"
    );
}

#[tokio::test]
async fn a_provider_slower_than_the_upstream_timeout_is_a_504_in_each_protocol() {
    // The gateway waits 1 s for the provider's answer; the provider would
    // take ten minutes, and each client waits two. So any answer at all is
    // the gateway giving up on the provider, long before the provider would
    // have answered: there is no race between the two on a slow machine.
    let h = Harness::with(Setup {
        upstream_timeout: Duration::from_secs(1),
        ..Setup::default()
    })
    .await;
    h.mock
        .server
        .set_fault(Some(Fault::SlowHeaders(Duration::from_secs(600))));
    let patience = Duration::from_secs(120);
    let gemini_request = json!({"contents": [{"parts": [{"text": "x"}]}]});

    for model in ["gpt-4o", "gemini-2.5-flash"] {
        // OpenAI's shape, for the provider's own protocol and a translated one.
        let r = h
            .openai_post(CHAT)
            .timeout(patience)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .expect("the gateway answers before the client gives up");
        let body = openai_error(r, 504).await;
        assert_eq!(body["error"]["type"], "api_error", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("did not answer within its first-byte timeout (1 s)"),
            "{body}"
        );
    }
    for path in [
        GENERATE,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    ] {
        // Google's shape; a stream fails before it starts, as a plain error.
        let r = h
            .gemini_post(path)
            .timeout(patience)
            .json(&gemini_request)
            .send()
            .await
            .expect("the gateway answers before the client gives up");
        let body = google_error(r, 504).await;
        assert_eq!(body["error"]["status"], "DEADLINE_EXCEEDED", "{body}");
    }

    let records = h.stop().await;
    assert_eq!(records.len(), 4);
    for record in &records {
        assert_eq!(
            (record.status, record.outcome.as_str()),
            (504, "error"),
            "{record:?}"
        );
        assert!(record.provider.is_some(), "{record:?}");
    }
}

#[tokio::test]
async fn an_answer_that_left_the_body_unread_closes_the_connection() {
    let h = Harness::start().await;
    // A wrong key is refused before the body is read: the connection closes
    // after the answer, and the client is told so it does not reuse it.
    let r = h
        .http
        .post(h.url(CHAT))
        .bearer_auth("wrong-key")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["connection"], "close");
    openai_error(r, 401).await;
    let r = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:unknownMethod")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["connection"], "close");
    google_error(r, 400).await;
    // A body that was read keeps the connection; so does a request without one.
    let r = h
        .openai_post(CHAT)
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("connection").is_none());
    let r = h.http.get(h.url("/healthz")).send().await.unwrap();
    assert!(r.headers().get("connection").is_none());
}
