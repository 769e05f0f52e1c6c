//! A project's data exported to the object store: on demand through the
//! admin API (kinds chosen, a time window), and on a schedule, where a
//! period's export is submitted once however often the loop looks, and
//! each holds what came since the one before.

use std::time::Duration;

use airlock_gateway::exports::ExportSchedule;
use airlock_store::UserDataKind;
use serde_json::{Value, json};

use crate::common::{self, Harness, admin_call as admin};

async fn chat(h: &Harness, key: &str, text: &str) {
    let response = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "user": "u1",
                      "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Waits until the request log holds `count` records.
async fn logged(h: &Harness, count: usize) {
    for _ in 0..200 {
        if h.store.recent_request_records(1000).await.unwrap().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the request log did not reach {count} records");
}

/// The lines of every part a kind's export wrote.
async fn lines(h: &Harness, parts: &Value) -> Vec<Value> {
    let blobs = airlock_store::Blobs::open(&airlock_store::BlobsConfig::Local {
        root: h.media_dir().to_path_buf(),
        sync: false,
    })
    .unwrap();
    let mut rows = Vec::new();
    for key in parts.as_array().unwrap() {
        let bytes = blobs
            .get(key.as_str().unwrap(), None)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        for line in bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
            rows.push(serde_json::from_slice(line).unwrap());
        }
    }
    rows
}

#[tokio::test]
async fn a_projects_request_log_and_conversations_are_exported_on_demand() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "story", json!({})).await;
    let other = common::admin_project_key(&h, "other", json!({})).await;
    chat(&h, &key, "one").await;
    chat(&h, &key, "two").await;
    chat(&h, &other, "not ours").await;
    logged(&h, 3).await;

    let done = common::exported(&h, "/admin/v1/projects/story/exports", None).await;
    assert_eq!(done["object"], "project_export");
    let prefix = done["prefix"].as_str().unwrap();
    assert!(prefix.starts_with("exports/projects/story/"), "{prefix}");
    for kind in ["conversations", "transcripts", "request_log"] {
        assert_eq!(done["kinds"][kind]["status"], "done", "{done}");
    }
    let records = lines(&h, &done["kinds"]["request_log"]["parts"]).await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records.iter().all(|r| r["end_user"] == "u1"));
    // A kind with no rows still has its (empty) first part.
    assert_eq!(done["kinds"]["transcripts"]["rows"], 0);
    assert_eq!(
        done["kinds"]["transcripts"]["parts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Chosen kinds and a window; a window in the future holds nothing.
    let future = airlock_gateway::clock::now_ms() / 1000 + 3600;
    let asked = json!({"kinds": ["request_log", "content"], "since": future});
    let done = common::exported(&h, "/admin/v1/projects/story/exports", Some(asked)).await;
    assert_eq!(done["kinds"]["request_log"]["rows"], 0, "{done}");
    assert!(done["kinds"].get("conversations").is_none());

    for (body, says) in [
        (json!({"kinds": ["media"]}), "cannot be exported"),
        (json!({"kinds": []}), "at least one kind"),
        (
            json!({"since": 10, "until": 5}),
            "since must be before until",
        ),
        (json!({"when": 1}), "not valid"),
    ] {
        let (status, refused) = admin(
            &h,
            reqwest::Method::POST,
            "/admin/v1/projects/story/exports",
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{refused}");
        assert!(refused.to_string().contains(says), "{refused}");
    }
    let (status, _) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects/nope/exports",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// The scheduled export jobs, newest first.
async fn scheduled(h: &Harness) -> Vec<airlock_store::JobRecord> {
    h.store
        .job_list(&airlock_store::JobListing {
            kind: Some("project-export"),
            owner: None,
            before: None,
            limit: 10,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_scheduled_export_runs_once_a_period_and_goes_on_from_the_last() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "story", json!({})).await;
    common::admin_project_key(&h, "skipped", json!({})).await;
    chat(&h, &key, "before").await;
    logged(&h, 1).await;
    let schedule = ExportSchedule {
        every: Duration::from_secs(3600),
        offset: Duration::ZERO,
        projects: vec!["story".into()],
        kinds: vec![UserDataKind::RequestLog],
    };
    // An hour on, the record is in an earlier period.
    let hour = 3_600_000;
    let next = airlock_gateway::clock::now_ms() + hour;
    let submit = |now| airlock_gateway::jobs::submit_due(h.state(), Some(&schedule), &[], now);
    submit(next).await.unwrap();
    submit(next + 1_000).await.unwrap();
    let jobs = scheduled(&h).await;
    assert_eq!(
        jobs.len(),
        1,
        "one job a period, for the covered project only"
    );
    let first = common::completed_export(&h, &jobs[0].id).await;
    assert_eq!(first["kinds"]["request_log"]["rows"], 1, "{first}");
    let period = jobs[0].params["period_ms"].as_i64().unwrap();
    assert_eq!(jobs[0].params["since_ms"], Value::Null);
    assert_eq!(jobs[0].params["before_ms"], period);
    assert!(period <= next && next - period < hour);

    // The next period's export holds what came since the first's end.
    submit(next + hour).await.unwrap();
    let jobs = scheduled(&h).await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].params["since_ms"], period);
    assert_eq!(jobs[0].params["before_ms"], period + hour);
    let second = common::completed_export(&h, &jobs[0].id).await;
    assert_eq!(second["kinds"]["request_log"]["rows"], 0, "{second}");
}
