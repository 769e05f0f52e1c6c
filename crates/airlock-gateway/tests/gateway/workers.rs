//! Serving on several worker threads, each with its own socket on the same
//! port: every connection is served whichever worker the kernel gives it to,
//! and all of them stop, and drain their realtime sessions, together.

use crate::common;

use std::time::Duration;

use airlock_gateway::realtime::RealtimePolicy;
use common::live::{self, LIVE_MODEL};
use common::{Harness, MASTER_KEY, Setup};
use serde_json::{Value, json};

const WORKERS: usize = 3;

#[tokio::test]
async fn several_workers_serve_every_connection_and_stop_together() {
    let h = Harness::with(Setup {
        workers: WORKERS,
        ..Setup::default()
    })
    .await;
    let requests = 30;
    for n in 0..requests {
        // A new connection each time: the kernel spreads them over the
        // workers' sockets by their addresses.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let r = client
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(MASTER_KEY)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": format!("hello {n}")}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "request {n}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["choices"][0]["message"]["content"].is_string(),
            "{body}"
        );
    }
    // stop() returns once every worker has stopped; the log holds each
    // request, whichever worker served it.
    let records = h.stop().await;
    assert_eq!(records.len(), requests);
}

#[tokio::test]
async fn sessions_on_every_worker_run_through_the_drain_then_close() {
    let realtime = RealtimePolicy {
        drain: Duration::from_secs(4),
        ..RealtimePolicy::default()
    };
    let h = Harness::with(Setup {
        workers: WORKERS,
        realtime,
        ..Setup::default()
    })
    .await;
    // Six sessions on six connections: some land on other workers than the
    // one the test's runtime drives.
    let mut sockets = Vec::new();
    for _ in 0..6 {
        sockets.push(live::gemini_session(&h, LIVE_MODEL, "TEXT").await);
    }
    let sessions = h.sessions.clone();
    let mut drain_signal = sessions.drain_signal();
    let stopping = tokio::spawn(h.stop());
    let drain_ends = drain_signal
        .wait_for(Option::is_some)
        .await
        .unwrap()
        .unwrap();
    for socket in &mut sockets {
        let notice = live::next_json(socket).await;
        assert!(notice["goAway"]["timeLeft"].is_string(), "{notice}");
        // A whole turn is relayed after the notice: the worker still serves.
        live::send(socket, &live::user_turn("Tell me a story")).await;
        let turn = live::read_until(socket, live::turn_complete).await;
        assert!(!live::model_text(&turn).is_empty());
    }
    for socket in &mut sockets {
        let (code, reason) = live::closed(socket).await;
        assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
        assert!(tokio::time::Instant::now() >= drain_ends);
    }
    stopping.await.unwrap();
    assert_eq!(sessions.open_count(), 0);
}
