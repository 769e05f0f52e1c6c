//! Retention: a sweep deletes each kind of a project's user data once it
//! is older than the project's policy allows (the clock is the sweep's
//! argument, so "31 days on" is a number), keeps what a policy does not
//! bound and other projects' data, counts what it deleted on `/metrics`,
//! and a policy of zero days, or of request records kept less than a
//! month (budgets are summed from them), is refused.

use std::time::Duration;

use airlock_gateway::retention::{Swept, sweep};
use airlock_store::UserDataKind;
use serde_json::json;

use crate::common::{self, Harness};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A chat completion by `key`, once its record and its logged content are
/// in the database; its request id.
async fn logged_chat(h: &Harness, key: &str) -> String {
    let response = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini",
                      "messages": [{"role": "user", "content": "Tell me a story."}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = common::request_id(&response);
    response.text().await.unwrap();
    for _ in 0..100 {
        let content = h.store.request_content(&id).await.unwrap();
        let records = h.store.recent_request_records(1_000).await.unwrap();
        if content.is_some() && records.iter().any(|record| record.id == id) {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("request {id} was not logged");
}

/// Content and request records a sweep deleted.
fn content_and_records(swept: &Swept) -> (u64, u64) {
    (
        swept.rows(UserDataKind::Content),
        swept.rows(UserDataKind::RequestLog),
    )
}

async fn has_record(h: &Harness, id: &str) -> bool {
    let records = h.store.recent_request_records(1_000).await.unwrap();
    records.iter().any(|record| record.id == id)
}

#[tokio::test]
async fn a_sweep_deletes_each_kind_past_its_projects_days_and_keeps_the_rest() {
    let h = Harness::start().await;
    let forever = common::admin_project_key(&h, "forever", json!({"log_content": true})).await;
    let policy = json!({"log_content": true,
                        "retention": {"content_days": 30, "request_log_days": 400}});
    let short = common::admin_project_key(&h, "short", policy).await;
    let kept_id = logged_chat(&h, &forever).await;
    let swept_id = logged_chat(&h, &short).await;
    let now = airlock_gateway::clock::now_ms();

    // Tomorrow nothing is old enough.
    let swept = sweep(h.state(), now + DAY_MS).await.unwrap();
    assert_eq!(content_and_records(&swept), (0, 0));

    // 31 days on: the short project's content goes, its record stays.
    let swept = sweep(h.state(), now + 31 * DAY_MS).await.unwrap();
    assert_eq!(content_and_records(&swept), (1, 0));
    assert!(h.store.request_content(&swept_id).await.unwrap().is_none());
    assert!(has_record(&h, &swept_id).await);
    assert!(h.store.request_content(&kept_id).await.unwrap().is_some());

    // 401 days on: its record goes too; the other project keeps all.
    let swept = sweep(h.state(), now + 401 * DAY_MS).await.unwrap();
    assert_eq!(swept.rows(UserDataKind::RequestLog), 1);
    assert!(!has_record(&h, &swept_id).await);
    assert!(has_record(&h, &kept_id).await);
    assert!(h.store.request_content(&kept_id).await.unwrap().is_some());

    // Sweeping again finds nothing: a sweep is idempotent.
    let swept = sweep(h.state(), now + 401 * DAY_MS).await.unwrap();
    assert_eq!(content_and_records(&swept), (0, 0));
    let metrics = h.metrics_text().await;
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("airlock_retention_deleted_total{kind=\"content\"}")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_retention_of_zero_days_or_a_request_log_shorter_than_a_month_is_refused() {
    let h = Harness::start().await;
    let response = h
        .http
        .post(h.url("/admin/v1/projects"))
        .bearer_auth(common::MASTER_KEY)
        .json(&json!({"name": "careless", "retention": {"transcripts_days": 0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(body.contains("retention days must be at least 1"), "{body}");
    let response = h
        .http
        .post(h.url("/admin/v1/projects"))
        .bearer_auth(common::MASTER_KEY)
        .json(&json!({"name": "forgetful", "retention": {"request_log_days": 7}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("request_log_days must be at least 31"),
        "{body}"
    );
}

/// The object store the harness keeps media, files and exports in.
fn blobs(h: &Harness) -> airlock_store::Blobs {
    airlock_store::Blobs::open(&airlock_store::BlobsConfig::Local {
        root: h.media_dir().to_path_buf(),
        sync: false,
    })
    .unwrap()
}

#[tokio::test]
async fn a_sweep_deletes_old_media_with_its_blobs_and_old_conversations() {
    let h = Harness::start().await;
    let policy = json!({"retention": {"media_days": 1, "conversations_days": 1}});
    let key = common::admin_project_key(&h, "short", policy).await;
    let image = h
        .http
        .post(h.url("/v1/images/generations"))
        .bearer_auth(&key)
        .header("x-airlock-media", "url")
        .json(&json!({"model": "gpt-image-1", "prompt": "a lighthouse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), 200);
    let answer: serde_json::Value = image.json().await.unwrap();
    let url = answer["data"][0]["url"].as_str().unwrap().to_string();
    let conversation = h
        .http
        .post(h.url("/v1/conversations"))
        .bearer_auth(&key)
        .json(&json!({"items": [{"type": "message", "role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(conversation.status(), 200);
    let conversation: serde_json::Value = conversation.json().await.unwrap();
    let blobs = blobs(&h);
    let now = airlock_gateway::clock::now_ms();
    let (mut media, mut conversations) = (0, 0);
    // The media record is written off the request's path.
    for _ in 0..100 {
        let swept = sweep(h.state(), now + 2 * DAY_MS).await.unwrap();
        media += swept.rows(UserDataKind::Media);
        conversations += swept.rows(UserDataKind::Conversations);
        if media > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!((media, conversations), (1, 1));
    // The picture's bytes went with its record: its URL finds nothing.
    assert_eq!(h.http.get(&url).send().await.unwrap().status(), 404);
    let id = url
        .split("/media/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let head = blobs.head(&format!("media/{id}")).await;
    assert!(
        matches!(head, Err(airlock_store::BlobError::NotFound)),
        "{head:?}"
    );
    let path = format!("/v1/conversations/{}", conversation["id"].as_str().unwrap());
    let gone = h
        .http
        .get(h.url(&path))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn an_export_past_its_download_expiry_is_swept_with_its_archive() {
    let h = Harness::start().await;
    common::admin_project_key(&h, "voice", json!({})).await;
    let done = common::exported(
        &h,
        "/admin/v1/projects/voice/users/u1/export?expires_in_secs=60",
        None,
    )
    .await;
    let status_path = format!("/admin/v1/exports/{}", done["id"].as_str().unwrap());
    let url = done["download_url"].as_str().unwrap().to_string();
    assert_eq!(h.http.get(&url).send().await.unwrap().status(), 200);
    let now = airlock_gateway::clock::now_ms();
    let swept = sweep(h.state(), now + 30_000).await.unwrap();
    assert_eq!(swept.exports, 0, "not expired yet");
    let swept = sweep(h.state(), now + 61_000).await.unwrap();
    assert_eq!(swept.exports, 1);
    assert_eq!(h.http.get(&url).send().await.unwrap().status(), 404);
    let status = h
        .http
        .get(h.url(&status_path))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

#[tokio::test]
async fn archived_content_leaves_the_database_and_is_still_exported_erased_and_retained() {
    let h = Harness::start().await;
    let policy = json!({"log_content": true, "archive": {"content_days": 1},
                        "retention": {"content_days": 30}});
    let key = common::admin_project_key(&h, "voice", policy).await;
    let response = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o-mini", "user": "u1",
                      "messages": [{"role": "user", "content": "Archive me, please."}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = common::request_id(&response);
    response.text().await.unwrap();
    for _ in 0..100 {
        if h.store.request_content(&id).await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = airlock_gateway::clock::now_ms();
    let swept = sweep(h.state(), now + DAY_MS / 2).await.unwrap();
    assert_eq!(
        swept.archived(UserDataKind::Content),
        0,
        "not a day old yet"
    );
    let swept = sweep(h.state(), now + 2 * DAY_MS).await.unwrap();
    assert_eq!(swept.archived(UserDataKind::Content), 1);
    assert!(h.store.request_content(&id).await.unwrap().is_none());
    let blobs = blobs(&h);
    let archived = blobs.list("archive").await.unwrap();
    assert_eq!(archived.len(), 1, "{archived:?}");

    // An export of the user still holds it.
    let export = |user: &'static str| {
        let path = format!("/admin/v1/projects/voice/users/{user}/export");
        let h = &h;
        async move {
            common::exported(h, &path, None).await["rows"]["content"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(export("u1").await, 1);
    assert_eq!(export("u2").await, 0);

    // Retention deletes archived content past its days too.
    let swept = sweep(h.state(), now + 10 * DAY_MS).await.unwrap();
    assert_eq!(
        swept.rows(UserDataKind::Content),
        0,
        "archived 10 days ago, kept 30"
    );
    let swept = sweep(h.state(), now + 31 * DAY_MS).await.unwrap();
    assert_eq!(swept.rows(UserDataKind::Content), 1);
    assert!(blobs.list("archive").await.unwrap().is_empty());
}

#[tokio::test]
async fn an_erasure_deletes_what_was_archived_of_the_user() {
    let h = Harness::start().await;
    let policy = json!({"log_content": true, "archive": {"content_days": 1}});
    let key = common::admin_project_key(&h, "voice", policy).await;
    for user in ["u1", "u2"] {
        let response = h
            .http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": "gpt-4o-mini", "user": user,
                          "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap();
    }
    let now = airlock_gateway::clock::now_ms();
    let mut archived = 0;
    for _ in 0..100 {
        archived += sweep(h.state(), now + 2 * DAY_MS)
            .await
            .unwrap()
            .archived(UserDataKind::Content);
        if archived == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(archived, 2);
    let blobs = blobs(&h);
    assert_eq!(blobs.list("archive").await.unwrap().len(), 2);
    let erased = h
        .http
        .delete(h.url("/admin/v1/projects/voice/users/u1"))
        .bearer_auth(common::MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 200);
    let left = blobs.list("archive").await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    let u2 = airlock_gateway::user_data::archive::owner_prefix(
        left[0].key.split('/').nth(1).unwrap(),
        UserDataKind::Content,
        Some("u2"),
    );
    assert!(left[0].key.starts_with(&u2), "{left:?}");
}
