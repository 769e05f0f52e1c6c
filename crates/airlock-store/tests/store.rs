//! The store's behaviour, run against SQLite and against PostgreSQL.
//!
//! PostgreSQL tests read `AIRLOCK_TEST_POSTGRES_URL`; under `CI=true` a missing
//! URL fails the test instead of skipping it.

use airlock_store::{Backend, RequestLogWriter, RequestRecord, Store};

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
    store.close().await;
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
