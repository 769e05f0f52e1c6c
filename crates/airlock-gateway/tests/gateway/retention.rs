//! Retention: a sweep deletes each kind of a project's user data once it
//! is older than the project's policy allows (the clock is the sweep's
//! argument, so "31 days on" is a number), keeps what a policy does not
//! bound and other projects' data, counts what it deleted on `/metrics`,
//! and a policy of zero days, or of request records kept less than a
//! month (budgets are summed from them), is refused.

use std::time::Duration;

use airlock_gateway::retention::sweep;
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
    let swept = sweep(&h.store, now + DAY_MS).await.unwrap();
    assert_eq!((swept.content, swept.request_log), (0, 0));

    // 31 days on: the short project's content goes, its record stays.
    let swept = sweep(&h.store, now + 31 * DAY_MS).await.unwrap();
    assert_eq!((swept.content, swept.request_log), (1, 0));
    assert!(h.store.request_content(&swept_id).await.unwrap().is_none());
    assert!(has_record(&h, &swept_id).await);
    assert!(h.store.request_content(&kept_id).await.unwrap().is_some());

    // 401 days on: its record goes too; the other project keeps all.
    let swept = sweep(&h.store, now + 401 * DAY_MS).await.unwrap();
    assert_eq!(swept.request_log, 1);
    assert!(!has_record(&h, &swept_id).await);
    assert!(has_record(&h, &kept_id).await);
    assert!(h.store.request_content(&kept_id).await.unwrap().is_some());

    // Sweeping again finds nothing: a sweep is idempotent.
    let swept = sweep(&h.store, now + 401 * DAY_MS).await.unwrap();
    assert_eq!((swept.content, swept.request_log), (0, 0));
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
