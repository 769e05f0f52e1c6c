//! Content logging: a project with `log_content` has each request's body
//! and answer (a stream's events too) stored beside its record, with
//! personal data and the operator's patterns redacted before anything is
//! written; the seeded email never reaches the database's files; a project
//! without it logs nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, Harness, MASTER_KEY, Setup};

const EMAIL: &str = "ana.lopez@example.com";
const PROMPT: &str =
    "Write to ana.lopez@example.com or call +44 20 7946 0958 about ORDER-991, please.";

async fn chat(h: &Harness, key: &str, stream: bool) -> (String, String) {
    let response = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "stream": stream,
                      "messages": [{"role": "user", "content": PROMPT}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = common::request_id(&response);
    (id, response.text().await.unwrap())
}

/// The logged content of a request, once it is written (it is written
/// after the answer ends); `None` if it never is within a second.
async fn logged(h: &Harness, id: &str) -> Option<Value> {
    for _ in 0..20 {
        let response = h
            .http
            .get(h.url(&format!("/admin/v1/requests/{id}/content")))
            .bearer_auth(MASTER_KEY)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            return Some(response.json().await.unwrap());
        }
        assert_eq!(response.status(), 404);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn a_content_logging_projects_requests_and_answers_are_kept_redacted() {
    let mut h = Harness::with(Setup {
        content_redact_patterns: vec![r"ORDER-\d+"],
        ..Setup::default()
    })
    .await;
    let key = common::admin_project_key(&h, "voice", json!({"log_content": true})).await;

    let (id, answer) = chat(&h, &key, false).await;
    let content = logged(&h, &id).await.expect("the request's content");
    let request = content["request"].as_str().unwrap();
    assert!(
        request.contains("Write to [email] or call [phone] about [redacted], please."),
        "{request}"
    );
    assert!(!request.contains(EMAIL));
    assert_eq!(content["response"].as_str().unwrap(), answer);
    assert_eq!(content["truncated"], false);
    assert!(content["project_id"].is_string());

    let (id, streamed) = chat(&h, &key, true).await;
    let content = logged(&h, &id).await.expect("the stream's content");
    let response = content["response"].as_str().unwrap();
    assert!(response.contains("data: [DONE]"), "{response}");
    assert_eq!(response, streamed, "every event, as sent");

    // Stopped: every file of the database is read; the email is in none.
    let data_dir = h.take_data_dir().unwrap();
    let records = h.stop().await;
    assert!(records.len() >= 2);
    let mut read = 0;
    for entry in std::fs::read_dir(data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            read += bytes.len();
            assert!(
                !bytes
                    .windows(EMAIL.len())
                    .any(|window| window == EMAIL.as_bytes()),
                "{} holds the email",
                path.display()
            );
        }
    }
    assert!(read > 0, "the database's files were read");
}

#[tokio::test]
async fn a_project_without_content_logging_logs_nothing() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "quiet", json!({})).await;
    let (id, _) = chat(&h, &key, false).await;
    assert_eq!(logged(&h, &id).await, None);
}
