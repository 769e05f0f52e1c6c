//! Logged content and retention's deletes, run against SQLite and against
//! PostgreSQL (`AIRLOCK_TEST_POSTGRES_URL`; without it the PostgreSQL
//! tests fail, never skip).

use airlock_store::{RequestContent, RequestRecord, RetainedKind, Store, on_both_stores};

fn content(id: &str, project: &str, at_ms: i64) -> RequestContent {
    RequestContent {
        id: id.into(),
        project_id: Some(project.into()),
        end_user: Some("user-7".into()),
        created_at_ms: at_ms,
        request: format!("{{\"prompt\": \"{id}\"}}"),
        response: "{\"answer\": \"[email]\"}".into(),
        truncated: false,
    }
}

fn record(id: &str, project: &str, at_ms: i64) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        started_at_ms: at_ms,
        project_id: Some(project.into()),
        status: 200,
        ..RequestRecord::default()
    }
}

async fn content_is_kept_once_and_read_back_by_id(store: Store) {
    let first = content("req_a", "proj_a", 1_000);
    store.insert_request_content(&first).await.unwrap();
    // A second write of the same id is ignored.
    let again = RequestContent {
        request: "changed".into(),
        ..first.clone()
    };
    store.insert_request_content(&again).await.unwrap();
    assert_eq!(store.request_content("req_a").await.unwrap(), Some(first));
    assert_eq!(store.request_content("req_missing").await.unwrap(), None);
}

async fn expired_rows_go_a_bounded_batch_at_a_time_and_only_the_projects(store: Store) {
    for n in 0..5 {
        store
            .insert_request_content(&content(&format!("old_{n}"), "proj_a", n))
            .await
            .unwrap();
    }
    store
        .insert_request_content(&content("new", "proj_a", 10_000))
        .await
        .unwrap();
    store
        .insert_request_content(&content("other", "proj_b", 0))
        .await
        .unwrap();
    store
        .insert_request_records(&[
            record("r_old", "proj_a", 0),
            record("r_new", "proj_a", 10_000),
        ])
        .await
        .unwrap();

    let delete = |kind, limit| {
        let store = store.clone();
        async move {
            store
                .delete_expired(kind, "proj_a", 5_000, limit)
                .await
                .unwrap()
        }
    };
    assert_eq!(delete(RetainedKind::Content, 3).await, 3);
    assert_eq!(delete(RetainedKind::Content, 3).await, 2);
    assert_eq!(delete(RetainedKind::Content, 3).await, 0);
    assert!(store.request_content("new").await.unwrap().is_some());
    assert!(store.request_content("other").await.unwrap().is_some());
    assert_eq!(delete(RetainedKind::RequestLog, 10).await, 1);
    let left: Vec<String> = store
        .recent_request_records(10)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.id)
        .collect();
    assert_eq!(left, ["r_new"]);
    assert_eq!(delete(RetainedKind::Transcripts, 10).await, 0);
}

on_both_stores!(
    content_is_kept_once_and_read_back_by_id,
    expired_rows_go_a_bounded_batch_at_a_time_and_only_the_projects
);
