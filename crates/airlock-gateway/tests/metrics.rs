//! `GET /metrics`: the Prometheus exposition after real traffic.

// Its own binary: it reads process-wide gauges (active streams) that tests
// running beside it in one process would move.
#[path = "gateway/common/mod.rs"]
mod common;

use common::{Harness, MASTER_KEY, Setup};
use serde_json::json;

/// The value of the first sample whose line starts with `name{` and contains every label.
fn sample(exposition: &str, name: &str, labels: &[&str]) -> Option<f64> {
    exposition
        .lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_describe_requests_tokens_streams_keys_and_the_log() {
    let h = Harness::with(Setup {
        gemini_keys: vec!["bad-one", "good-one"],
        ..Setup::default()
    })
    .await;
    let chat =
        json!({"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "count me"}]});
    for _ in 0..2 {
        assert_eq!(
            h.openai_post("/v1/chat/completions")
                .json(&chat)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let stream = json!({"model": "gemini-2.0-flash-lite", "stream": true, "messages": [{"role": "user", "content": "s"}]});
    let text = h
        .openai_post("/v1/chat/completions")
        .json(&stream)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let unknown = json!({"model": "made-up-model-name-xyz", "messages": []});
    assert_eq!(
        h.openai_post("/v1/chat/completions")
            .json(&unknown)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let wrong_key = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth("nope")
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), 401);

    // No client key needed to scrape.
    let response = h.http.get(h.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();

    let chat_labels = [
        "surface=\"openai\"",
        "operation=\"chat.completions\"",
        "model=\"gpt-4.1-nano\"",
        "provider=\"openai\"",
        "status=\"200\"",
    ];
    assert_eq!(
        sample(&text, "airlock_requests_total", &chat_labels),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "airlock_request_duration_seconds_count",
            &chat_labels
        ),
        Some(2.0)
    );
    assert!(
        sample(
            &text,
            "airlock_tokens_total",
            &["direction=\"output\"", "model=\"gpt-4.1-nano\""]
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(
        sample(
            &text,
            "airlock_time_to_first_token_seconds_count",
            &["model=\"gemini-2.0-flash-lite\"", "provider=\"gemini\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "airlock_active_streams", &["surface=\"openai\""]),
        Some(0.0)
    );
    // The unknown model's name is not a label.
    assert!(!text.contains("made-up-model-name-xyz"));
    assert!(
        sample(
            &text,
            "airlock_requests_total",
            &["model=\"none\"", "status=\"404\""]
        )
        .is_some()
    );
    assert!(
        sample(
            &text,
            "airlock_client_auth_failures_total",
            &["surface=\"openai\"", "reason=\"invalid\""]
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        sample(
            &text,
            "airlock_upstream_requests_total",
            &["provider=\"openai\"", "status=\"200\""]
        )
        .unwrap()
            >= 2.0
    );
    assert!(
        sample(
            &text,
            "airlock_upstream_duration_seconds_bucket",
            &["provider=\"gemini\""]
        )
        .is_some()
    );
    assert_eq!(
        sample(
            &text,
            "airlock_provider_keys",
            &["provider=\"gemini\"", "state=\"rejected\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "airlock_provider_keys",
            &["provider=\"gemini\"", "state=\"active\""]
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            "airlock_provider_key_events_total",
            &["provider=\"gemini\"", "event=\"rejected\""]
        )
        .unwrap()
            >= 1.0
    );
    assert!(sample(&text, "airlock_request_log_queue_depth", &[]).is_some());
    // The fast mode has no write-ahead log to sync.
    assert_eq!(
        sample(&text, "airlock_request_log_wal_syncs_total", &[]),
        Some(0.0)
    );
    assert!(
        sample(
            &text,
            "airlock_request_log_dropped_total",
            &["reason=\"queue_full\""]
        )
        .is_some()
    );
    assert_eq!(
        sample(&text, "airlock_build_info", &["version=\""]),
        Some(1.0)
    );
    assert!(!text.contains(MASTER_KEY) && !text.contains("good-one"));
}
