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
    assert_in_no_file(data_dir.path(), EMAIL);
}

/// Reads every file of `dir` (the database's, its write-ahead log's) and
/// checks `needle` is in none.
fn assert_in_no_file(dir: &std::path::Path, needle: &str) {
    let mut read = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            read += bytes.len();
            assert!(
                !bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes()),
                "{} holds {needle:?} in the clear",
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

#[tokio::test]
async fn with_a_data_key_logged_content_conversation_items_and_extracted_text_are_sealed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let sealer = std::sync::Arc::new(airlock_store::Sealer::new(&[9; 32], &[]).unwrap());
    let store = airlock_store::Store::open_data_dir(dir.path())
        .await
        .unwrap()
        .sealed(sealer);
    let h = Harness::with(Setup {
        store: Some(store),
        ..Setup::default()
    })
    .await;
    let key = common::admin_project_key(&h, "voice", json!({"log_content": true})).await;
    // A phrase redaction leaves alone, in a prompt and a conversation item.
    const SECRET: &str = "the treasure is under the old oak";
    let response = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o-mini",
                      "messages": [{"role": "user", "content": SECRET}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = common::request_id(&response);
    response.text().await.unwrap();
    let conversation = h
        .http
        .post(h.url("/v1/conversations"))
        .bearer_auth(&key)
        .json(&json!({"items": [{"type": "message", "role": "user", "content": SECRET}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(conversation.status(), 200);
    let conversation: Value = conversation.json().await.unwrap();

    // Read back in the clear, through the API.
    let content = logged(&h, &id).await.expect("the request's content");
    assert!(content["request"].as_str().unwrap().contains(SECRET));
    let path = format!(
        "/v1/conversations/{}/items",
        conversation["id"].as_str().unwrap()
    );
    let items = h
        .http
        .get(h.url(&path))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(items.contains(SECRET), "{items}");

    // A document's extracted text is sealed in the object store too, and
    // read back in the clear.
    let page = format!("<html><body><p>{SECRET}</p></body></html>");
    let form = reqwest::multipart::Form::new()
        .text("purpose", "user_data")
        .part(
            "file",
            reqwest::multipart::Part::bytes(page.into_bytes()).file_name("page.html"),
        );
    let uploaded = h
        .http
        .post(h.url("/v1/files"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 200);
    let file: Value = uploaded.json().await.unwrap();
    let file_id = file["id"].as_str().unwrap();
    let text = h
        .http
        .get(h.url(&format!("/v1/files/{file_id}/text")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(SECRET), "{text}");
    let stored = std::fs::read(h.media_dir().join("file-text").join(file_id)).unwrap();
    assert!(stored.starts_with(b"enc1:"));
    assert!(!stored.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));

    // Stopped: the phrase is in none of the database's files.
    h.stop().await;
    assert_in_no_file(dir.path(), SECRET);
}

#[tokio::test]
async fn a_new_data_key_reseals_what_the_old_one_sealed_in_a_background_job_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = |byte: u8| vec![byte; 32];
    let plain = airlock_store::Store::open_data_dir(dir.path())
        .await
        .unwrap();
    let old = std::sync::Arc::new(airlock_store::Sealer::new(&key(1), &[]).unwrap());
    let content = |id: &str| airlock_store::RequestContent {
        id: id.into(),
        project_id: Some("proj".into()),
        end_user: None,
        created_at_ms: 1,
        request: format!("asked {id}"),
        response: "answered".into(),
        truncated: false,
    };
    plain
        .clone()
        .sealed(old)
        .insert_request_content(&content("req_old"))
        .await
        .unwrap();
    plain
        .insert_request_content(&content("req_plain"))
        .await
        .unwrap();
    let rotated = std::sync::Arc::new(airlock_store::Sealer::new(&key(2), &[key(1)]).unwrap());
    let store = plain.clone().sealed(rotated);
    let h = Harness::with(Setup {
        store: Some(store.clone()),
        ..Setup::default()
    })
    .await;
    // A document's text sealed under the old key, in the object store.
    let blobs = airlock_store::Blobs::open(&airlock_store::BlobsConfig::Local {
        root: h.media_dir().to_path_buf(),
        sync: false,
    })
    .unwrap();
    let old_text = airlock_store::Sealer::new(&key(1), &[])
        .unwrap()
        .seal(airlock_store::SealedColumn::ExtractedText, "chapter one");
    blobs
        .put("file-text/file-old", old_text.into(), "text/plain")
        .await
        .unwrap();
    let runner = h.state().jobs().unwrap();
    let reseal = airlock_gateway::user_data::reseal::submit_if_needed(&runner, &store);
    let job = reseal.await.unwrap().expect("a reseal job for the new key");
    let again = airlock_gateway::user_data::reseal::submit_if_needed(&runner, &store);
    assert_eq!(again.await.unwrap(), None, "once per key");
    let mut done = None;
    for _ in 0..200 {
        let progress = runner.get(&job).await.unwrap().unwrap();
        if progress.job.state == airlock_store::JobState::Completed {
            done = Some(progress);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = done.expect("the reseal job completes");
    assert_eq!(done.job.failed, 0);
    // Operators follow it through the admin API.
    let (status, listed) =
        common::admin_call(&h, reqwest::Method::GET, "/admin/v1/jobs?kind=reseal", None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"][0]["id"], job.as_str());
    let path = format!("/admin/v1/jobs/{job}");
    let (status, shown) = common::admin_call(&h, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["kind"], "reseal");
    assert_eq!(shown["state"], "completed");
    assert_eq!(shown["done"], 8);
    assert_eq!(shown["failures"], json!([]));
    let (status, _) =
        common::admin_call(&h, reqwest::Method::GET, "/admin/v1/jobs/job_nope", None).await;
    assert_eq!(status, 404);
    // Only the new key is needed now.
    let only_new = std::sync::Arc::new(airlock_store::Sealer::new(&key(2), &[]).unwrap());
    let only_new = plain.sealed(only_new);
    for id in ["req_old", "req_plain"] {
        let read = only_new.request_content(id).await.unwrap().unwrap();
        assert_eq!(read.request, format!("asked {id}"));
    }
    let text = blobs.get("file-text/file-old", None).await.unwrap();
    let text = String::from_utf8(text.bytes().await.unwrap().to_vec()).unwrap();
    let opened = only_new.unseal(airlock_store::SealedColumn::ExtractedText, text);
    assert_eq!(opened.unwrap(), "chapter one");
}
