//! Media records, through the media log's writer, on SQLite and on
//! PostgreSQL (`AIRLOCK_TEST_POSTGRES_URL`; without it the PostgreSQL test
//! fails, never skips).

use airlock_store::testing::{fresh_postgres_database, wal_records};
use airlock_store::{MediaKind, MediaLogWriter, MediaRecord, Store, WalOptions};

fn media(id: &str, project: Option<&str>, created_at_ms: i64) -> MediaRecord {
    MediaRecord {
        id: id.into(),
        project_id: project.map(str::to_string),
        end_user: None,
        request_id: Some(format!("req_{id}")),
        kind: MediaKind::Image,
        content_type: "image/png".into(),
        size: 123_456,
        sha256: "ab".repeat(32),
        source_id: None,
        created_at_ms,
    }
}

fn ids(records: &[MediaRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

async fn exercise(store: Store) {
    let narration = MediaRecord {
        kind: MediaKind::Audio,
        content_type: "audio/wav".into(),
        size: 5 * 1024 * 1024 * 1024,
        ..media("m_audio", Some("proj_a"), 1_000)
    };
    let thumbnail = MediaRecord {
        source_id: Some("m_1".into()),
        content_type: "image/webp".into(),
        ..media("m_1_w256", Some("proj_a"), 3_000)
    };
    let master = MediaRecord {
        request_id: None,
        ..media("m_master", None, 4_000)
    };
    let (log, writer) = MediaLogWriter::start(store.clone(), 64);
    for record in [
        narration.clone(),
        media("m_1", Some("proj_a"), 2_000),
        thumbnail.clone(),
        media("m_b", Some("proj_b"), 2_500),
        master.clone(),
    ] {
        log.record(record).await;
    }
    // Written again (a retried batch, a replayed WAL): the first stays.
    log.record(MediaRecord {
        size: 1,
        ..narration.clone()
    })
    .await;
    drop(log);
    writer.finish().await;

    assert_eq!(store.media("m_audio").await.unwrap(), Some(narration));
    assert_eq!(store.media("m_1_w256").await.unwrap(), Some(thumbnail));
    assert_eq!(store.media("m_master").await.unwrap(), Some(master));
    assert_eq!(store.media("m_missing").await.unwrap(), None);

    let listed = store.media_of_project("proj_a", 10).await.unwrap();
    assert_eq!(ids(&listed), ["m_1_w256", "m_1", "m_audio"]);
    let listed = store.media_of_project("proj_a", 2).await.unwrap();
    assert_eq!(ids(&listed), ["m_1_w256", "m_1"]);
    let listed = store.media_of_project("proj_b", 10).await.unwrap();
    assert_eq!(ids(&listed), ["m_b"]);
    assert!(
        store
            .media_of_project("proj_c", 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Records of the same moment list by id, highest first; the limit is capped.
    let batch: Vec<_> = (0..1200)
        .map(|i| media(&format!("m_many_{i:04}"), Some("proj_many"), 9_000))
        .collect();
    store.insert_media_records(&batch).await.unwrap();
    store.insert_media_records(&[]).await.unwrap();
    let listed = store.media_of_project("proj_many", u32::MAX).await.unwrap();
    assert_eq!(listed.len(), MediaRecord::MAX_LIMIT as usize);
    assert_eq!(listed[0].id, "m_many_1199");
    assert_eq!(listed[1].id, "m_many_1198");

    // NUL, which PostgreSQL text cannot hold, is kept as U+FFFD on both.
    store
        .insert_media_records(&[MediaRecord {
            content_type: "image/png\0".into(),
            ..media("m_nul", Some("proj_a"), 5_000)
        }])
        .await
        .unwrap();
    let stored = store.media("m_nul").await.unwrap().unwrap();
    assert_eq!(stored.content_type, "image/png\u{FFFD}");
}

#[tokio::test]
async fn sqlite_media_records_are_written_once_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    exercise(Store::open_data_dir(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_media_records_are_written_once_and_read_back() {
    let url = fresh_postgres_database().await;
    exercise(Store::open(&url).await.unwrap()).await;
}

#[tokio::test]
async fn a_durable_media_log_replays_what_the_database_missed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let wal = WalOptions {
        dir: dir.path().join("media-wal"),
        linger: std::time::Duration::ZERO,
    };
    let store = Store::open_data_dir(&db).await.unwrap();
    let (log, writer) = MediaLogWriter::start_durable(store.clone(), 16, wal.clone())
        .await
        .unwrap();
    store.close().await;
    let record = media("m_durable", Some("proj_a"), 1_000);
    log.record(record.clone()).await;
    drop(log);
    writer.finish().await;
    assert_eq!(
        wal_records::<MediaRecord>(&wal.dir),
        std::slice::from_ref(&record)
    );

    // The next start replays it.
    let store = Store::open_data_dir(&db).await.unwrap();
    let (log, writer) = MediaLogWriter::start_durable(store.clone(), 16, wal.clone())
        .await
        .unwrap();
    drop(log);
    writer.finish().await;
    assert_eq!(store.media("m_durable").await.unwrap(), Some(record));
    assert!(wal_records::<MediaRecord>(&wal.dir).is_empty());
}
