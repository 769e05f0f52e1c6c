//! The server against clients that dawdle or hoard: headers that never
//! finish, idle connections, bodies that stall or trickle, lengths over the
//! limit, too many bodies or connections at once, and a shutdown held open
//! by a stuck client. Every limit is set short here (a few hundred
//! milliseconds) and every assertion has seconds of margin.

use crate::common;

use std::time::{Duration, Instant};

use airlock_gateway::ServerPolicy;
use common::{Framing, Harness, MASTER_KEY, Setup};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHORT: Duration = Duration::from_millis(300);
/// How long a test waits for what a short limit should bring about.
const MARGIN: Duration = Duration::from_secs(3);

fn setup(policy: ServerPolicy) -> Setup {
    Setup {
        server_policy: policy,
        ..Setup::default()
    }
}

async fn connect(h: &Harness) -> TcpStream {
    TcpStream::connect(h.addr).await.unwrap()
}

/// Whether the server closes the connection within `within` (whatever it
/// sends before).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// A response read off a raw connection: status, headers (lower-case
/// names) and body (by its Content-Length).
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn read_response(stream: &mut TcpStream) -> Raw {
    tokio::time::timeout(MARGIN, async {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed before an answer");
            data.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = data[head_end + 4..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed within the body");
            body.extend_from_slice(&buf[..n]);
        }
        Raw {
            status: status.parse().unwrap(),
            headers,
            body,
        }
    })
    .await
    .expect("an answer in time")
}

async fn get(stream: &mut TcpStream, path: &str) -> Raw {
    let request = format!("GET {path} HTTP/1.1\r\nHost: airlock\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_response(stream).await
}

/// A chat completion's request head for a body of `length` bytes.
fn chat_head(length: usize) -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: airlock\r\n\
         Authorization: Bearer {MASTER_KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

/// A chat completion's body of exactly `length` bytes (the content padded).
fn chat_body(length: usize) -> String {
    let body = |content: &str| {
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}).to_string()
    };
    let bare = body("").len();
    assert!(length >= bare);
    let padded = body(&"x".repeat(length - bare));
    assert_eq!(padded.len(), length);
    padded
}

#[tokio::test]
async fn headers_that_never_finish_are_cut_at_the_header_timeout() {
    let h = Harness::with(setup(ServerPolicy {
        header_timeout: SHORT,
        keep_alive_timeout: Duration::from_secs(60),
        ..ServerPolicy::default()
    }))
    .await;
    // A first request's headers, half sent.
    let mut stream = connect(&h).await;
    let sent = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: airlock\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut stream, MARGIN).await, "cut");
    assert!(sent.elapsed() >= SHORT / 2, "not before its time");
    // A connection that sends nothing at all.
    let mut silent = connect(&h).await;
    assert!(closed_within(&mut silent, MARGIN).await, "cut");
    // A later request on a kept-alive connection: its headers are timed
    // from its first byte, although the connection may idle far longer.
    let mut kept = connect(&h).await;
    assert_eq!(get(&mut kept, "/healthz").await.status, 200);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    assert!(closed_within(&mut kept, MARGIN).await, "cut");
    // The server goes on answering.
    assert_eq!(get(&mut connect(&h).await, "/healthz").await.status, 200);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_at_the_keep_alive_timeout() {
    let h = Harness::with(setup(ServerPolicy {
        header_timeout: Duration::from_secs(60),
        keep_alive_timeout: SHORT,
        ..ServerPolicy::default()
    }))
    .await;
    let mut stream = connect(&h).await;
    assert_eq!(get(&mut stream, "/healthz").await.status, 200);
    // Requests within the timeout keep the connection.
    tokio::time::sleep(SHORT / 3).await;
    assert_eq!(get(&mut stream, "/healthz").await.status, 200);
    assert!(closed_within(&mut stream, MARGIN).await, "closed when idle");
}

#[tokio::test]
async fn a_body_that_stalls_is_cut_with_a_408_in_the_callers_protocol() {
    let h = Harness::with(setup(ServerPolicy {
        body_timeout: SHORT,
        ..ServerPolicy::default()
    }))
    .await;
    let mut stream = connect(&h).await;
    let head = chat_head(100);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{\"model\": ").await.unwrap();
    let answer = read_response(&mut stream).await;
    assert_eq!(answer.status, 408);
    let body = answer.json();
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
    assert!(closed_within(&mut stream, MARGIN).await);

    let mut stream = connect(&h).await;
    let head = format!(
        "POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\nHost: airlock\r\n\
         x-goog-api-key: {MASTER_KEY}\r\nContent-Length: 100\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{\"contents\": ").await.unwrap();
    let answer = read_response(&mut stream).await;
    assert_eq!(answer.status, 408);
    let body = answer.json();
    assert_eq!(body["error"]["code"], 408, "Google's shape: {body}");
    assert_eq!(body["error"]["status"], "DEADLINE_EXCEEDED");
}

#[tokio::test]
async fn a_body_that_trickles_below_the_minimum_rate_is_cut() {
    let h = Harness::with(setup(ServerPolicy {
        body_timeout: Duration::from_millis(500),
        body_min_rate: 1000,
        ..ServerPolicy::default()
    }))
    .await;
    let mut stream = connect(&h).await;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: airlock\r\n\
         Authorization: Bearer {MASTER_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // A byte every 100 ms: never a pause of the body timeout, but ten bytes
    // a second where a thousand are the least.
    let trickle = async {
        loop {
            if stream.write_all(b"1\r\n \r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(MARGIN, trickle).await;
    let answer = read_response(&mut stream).await;
    assert_eq!(answer.status, 408);
}

#[tokio::test]
async fn a_content_length_over_the_limit_is_refused_before_the_body_is_sent() {
    let h = Harness::with(Setup {
        max_body_bytes: 1024,
        ..Setup::default()
    })
    .await;
    let mut stream = connect(&h).await;
    stream
        .write_all(chat_head(50 * 1024 * 1024).as_bytes())
        .await
        .unwrap();
    let answer = read_response(&mut stream).await;
    assert_eq!(answer.status, 413);
    let body = answer.json();
    assert_eq!(body["error"]["code"], "request_too_large", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("1024"));
    assert_eq!(answer.header("connection"), Some("close"));

    let mut stream = connect(&h).await;
    let head = format!(
        "POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\nHost: airlock\r\n\
         x-goog-api-key: {MASTER_KEY}\r\nContent-Length: 5000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_response(&mut stream).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn bodies_over_the_budget_are_answered_503_until_it_frees() {
    let h = Harness::with(Setup {
        max_body_bytes: 1000,
        server_policy: ServerPolicy {
            body_budget_bytes: Some(1500),
            ..ServerPolicy::default()
        },
        ..Setup::default()
    })
    .await;
    // A body of 1000 bytes, begun and held: its length is taken from the budget.
    let mut holder = connect(&h).await;
    holder.write_all(chat_head(1000).as_bytes()).await.unwrap();
    holder.write_all(b"{\"model\": ").await.unwrap();
    let small = chat_body(600);
    let send = || {
        h.openai_post("/v1/chat/completions")
            .header("content-type", "application/json")
            .body(small.clone())
            .send()
    };
    // 1000 + 600 is over 1500 (once the held body is being read).
    let refused = tokio::time::timeout(MARGIN, async {
        loop {
            let response = send().await.unwrap();
            if response.status() == 503 {
                return response;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a 503 once the budget is taken");
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "api_error", "{body}");
    // The held body's client goes away: its share comes back.
    drop(holder);
    tokio::time::timeout(MARGIN, async {
        loop {
            if send().await.unwrap().status() == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("answered once the budget is free");
}

#[tokio::test]
async fn the_connection_cap_closes_new_connections_and_keeps_serving_open_ones() {
    let h = Harness::with(setup(ServerPolicy {
        max_connections: Some(2),
        ..ServerPolicy::default()
    }))
    .await;
    let mut first = connect(&h).await;
    assert_eq!(get(&mut first, "/healthz").await.status, 200);
    let second = connect(&h).await;
    // Over the cap: accepted and closed at once.
    let mut third = connect(&h).await;
    assert!(closed_within(&mut third, MARGIN).await, "refused");
    // The open connections are still served, and the refusal is counted.
    assert_eq!(get(&mut first, "/healthz").await.status, 200);
    let metrics = get(&mut first, "/metrics").await;
    let text = String::from_utf8(metrics.body).unwrap();
    let refused: f64 = text
        .lines()
        .find(|line| {
            line.starts_with("airlock_connections_refused_total{") && line.contains("\"limit\"")
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .expect("the refusal counter");
    assert!(refused >= 1.0);
    assert!(text.contains("airlock_connections_open"));
    // A place frees when a connection closes.
    drop(second);
    tokio::time::timeout(MARGIN, async {
        loop {
            let mut stream = connect(&h).await;
            let request = b"GET /healthz HTTP/1.1\r\nHost: airlock\r\n\r\n";
            if stream.write_all(request).await.is_ok() {
                let mut buf = [0u8; 12];
                if stream.read_exact(&mut buf).await.is_ok() && &buf == b"HTTP/1.1 200" {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a new connection is served once a place is free");
}

#[tokio::test]
async fn a_client_stuck_in_its_headers_does_not_hold_a_shutdown_past_its_deadline() {
    let h = Harness::with(setup(ServerPolicy {
        header_timeout: Duration::from_secs(60),
        shutdown_grace: SHORT,
        ..ServerPolicy::default()
    }))
    .await;
    let mut stuck = connect(&h).await;
    stuck
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: a")
        .await
        .unwrap();
    // The server has the half request before it is told to stop.
    let mut kept = connect(&h).await;
    assert_eq!(get(&mut kept, "/healthz").await.status, 200);
    tokio::time::timeout(MARGIN, h.stop())
        .await
        .expect("the shutdown ends by its deadline");
    assert!(closed_within(&mut stuck, MARGIN).await);
}

#[tokio::test]
async fn a_stream_outlasts_the_header_keep_alive_and_body_timeouts() {
    let h = Harness::with(setup(ServerPolicy {
        header_timeout: SHORT,
        keep_alive_timeout: SHORT,
        body_timeout: SHORT,
        ..ServerPolicy::default()
    }))
    .await;
    // Chunks come `PER_CHUNK` (500 ms) apart: longer than every timeout.
    common::pace_streams(&h);
    let request = json!({
        "model": "gpt-4o-mini",
        "stream": true,
        "messages": [{"role": "user", "content": "tell me a long story"}],
    });
    let response = h
        .openai_post("/v1/chat/completions")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    let (events, _) = common::timed_events(response, Framing::Sse).await;
    assert_eq!(events.last().unwrap().1, "[DONE]");
    assert!(
        started.elapsed() > SHORT * 2,
        "the stream lasted longer than the timeouts"
    );
}
