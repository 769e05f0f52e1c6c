//! The store's behaviour, run against SQLite and against PostgreSQL.
//!
//! PostgreSQL tests read `AIRLOCK_TEST_POSTGRES_URL`; under `CI=true` a missing
//! URL fails the test instead of skipping it.

use airlock_store::{
    Actor, ApiKey, Backend, Budget, BudgetPeriod, KeyKind, KeySettings, Limits, ProjectSettings,
    RequestLogWriter, RequestRecord, SpendFilter, SpendScope, Store, StoreError,
};

fn record(id: &str, started_at_ms: i64) -> RequestRecord {
    RequestRecord {
        id: id.to_string(),
        started_at_ms,
        surface: "openai".into(),
        operation: "chat.completions".into(),
        model: Some("fast".into()),
        provider: Some("gemini".into()),
        upstream_model: Some("gemini-2.5-flash".into()),
        key_id: Some("gemini#0".into()),
        status: 200,
        latency_us: 1234,
        ttft_us: Some(456),
        tokens_in: Some(10),
        tokens_out: None,
        streamed: true,
        outcome: "ok".into(),
        project_id: Some("proj_a".into()),
        api_key_id: Some("key_a".into()),
        end_user: None,
        cost_usd: Some(0.001),
    }
}

async fn exercise(store: Store) {
    store.ping().await.expect("ping");
    store
        .insert_request_records(&[])
        .await
        .expect("empty batch");
    let batch: Vec<_> = (0..1200).map(|i| record(&format!("r{i:05}"), i)).collect();
    store.insert_request_records(&batch).await.expect("insert");
    // A retried batch must not duplicate rows.
    store
        .insert_request_records(&batch[..3])
        .await
        .expect("re-insert");
    let recent = store.recent_request_records(5).await.expect("select");
    assert_eq!(recent.len(), 5);
    assert_eq!(recent[0], batch[1199]);
    assert_eq!(recent[4].id, "r01195");
    let all = store
        .recent_request_records(10_000)
        .await
        .expect("select all");
    assert_eq!(all.len(), 1200);

    // The pipeline: everything recorded before shutdown is written.
    let (log, writer) = RequestLogWriter::start(store.clone(), 10_000);
    for i in 0..3000 {
        log.record(record(&format!("w{i:05}"), 10_000 + i));
    }
    drop(log);
    writer.finish().await;
    let all = store
        .recent_request_records(100_000)
        .await
        .expect("select all");
    assert_eq!(all.len(), 4200);
    assert_eq!(all[0].id, "w02999");

    let spent = store
        .spent_since(SpendScope::Key("key_a"), 0)
        .await
        .unwrap();
    assert!((spent - 4.2).abs() < 1e-9, "{spent}");
    assert_eq!(
        store
            .spent_since(SpendScope::Project("proj_a"), 1_000_000)
            .await
            .unwrap(),
        0.0
    );
    let rows = store
        .spend(&SpendFilter {
            project_id: Some("proj_a".into()),
            ..SpendFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].day, "1970-01-01");
    assert_eq!(rows[0].requests, 4200);
    assert_eq!(rows[0].tokens_in, 42_000);
    assert_eq!(rows[0].model.as_deref(), Some("gemini-2.5-flash"));

    exercise_tenancy(&store).await;
    store.close().await;
}

async fn exercise_tenancy(store: &Store) {
    let admin = Actor {
        name: "admin".into(),
        remote_addr: Some("127.0.0.1".into()),
    };
    let version = store.tenancy_version().await.unwrap();
    let settings = ProjectSettings {
        limits: Limits {
            rpm: Some(60),
            budget: Some(Budget {
                usd: 10.0,
                period: BudgetPeriod::Month,
            }),
            ..Limits::default()
        },
        ..ProjectSettings::default()
    };
    let project = store
        .create_project("story-app", &settings, &admin)
        .await
        .unwrap();
    assert!(matches!(
        store.create_project("story-app", &settings, &admin).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.project_by_name("story-app").await.unwrap().unwrap(),
        project
    );
    let key = ApiKey {
        id: "key_1".into(),
        project_id: project.id.clone(),
        kind: KeyKind::Secret,
        name: "server".into(),
        prefix: "ak_12345678".into(),
        secret_sha256: "ab".repeat(32),
        settings: KeySettings {
            models: vec!["gemini-*".into()],
            ..KeySettings::default()
        },
        created_at_ms: 5,
        expires_at_ms: Some(10_000),
        revoked_at_ms: None,
    };
    store.create_key(&key, "story-app", &admin).await.unwrap();
    assert_eq!(
        store.keys(Some(&project.id)).await.unwrap(),
        vec![key.clone()]
    );
    let revoked = store.revoke_key("key_1", &admin).await.unwrap();
    assert!(revoked.revoked_at_ms.is_some());
    assert!(matches!(
        store.revoke_key("key_nope", &admin).await,
        Err(StoreError::NotFound)
    ));
    let updated = ProjectSettings::default();
    store
        .update_project_settings("story-app", &updated, &admin)
        .await
        .unwrap();
    assert_eq!(store.projects().await.unwrap()[0].settings, updated);
    assert_eq!(store.tenancy_version().await.unwrap(), version + 4);

    let audit = store.audit_entries(0, 100).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "project.create",
            "key.create",
            "key.revoke",
            "project.update"
        ]
    );
    assert_eq!(audit[0].actor, "admin");
    assert_eq!(audit[0].remote_addr.as_deref(), Some("127.0.0.1"));
    assert!(audit[0].before.is_none());
    assert_eq!(
        audit[3].before.as_ref().unwrap()["settings"]["limits"]["rpm"],
        60
    );
    // The digest is never part of what the audit log shows.
    assert!(
        !audit[1]
            .after
            .as_ref()
            .unwrap()
            .to_string()
            .contains(&"ab".repeat(32))
    );
    assert_eq!(
        store.audit_entries(audit[1].seq, 1).await.unwrap()[0].action,
        "key.revoke"
    );
}

#[tokio::test]
async fn sqlite_store_round_trips_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(&dir.path().join("nested"))
        .await
        .unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    exercise(store).await;
    // Reopening runs migrations idempotently and keeps the rows.
    let store = Store::open_data_dir(&dir.path().join("nested"))
        .await
        .unwrap();
    assert_eq!(
        store.recent_request_records(10_000).await.unwrap().len(),
        4200
    );
}

#[tokio::test]
async fn log_queue_full_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    let (log, writer) = RequestLogWriter::start(store.clone(), 1);
    // The writer cannot run between these calls on this single-threaded test runtime.
    for i in 0..5 {
        log.record(record(&format!("q{i}"), i));
    }
    let dropped = log
        .stats()
        .dropped_queue_full
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(dropped, 4);
    drop(log);
    writer.finish().await;
    assert_eq!(store.recent_request_records(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    assert!(matches!(
        Store::open("mysql://localhost/x").await,
        Err(airlock_store::StoreError::UnsupportedUrl)
    ));
}

#[tokio::test]
async fn postgres_store_round_trips_and_flushes() {
    let Some(url) = airlock_store::testing::fresh_postgres_database().await else {
        return;
    };
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    exercise(store).await;
    let store = Store::open(&url).await.unwrap();
    assert_eq!(
        store.recent_request_records(10_000).await.unwrap().len(),
        4200
    );
}
