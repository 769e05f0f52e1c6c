//! The store's behaviour, run against SQLite and against PostgreSQL.
//!
//! PostgreSQL tests read `AIRLOCK_TEST_POSTGRES_URL`; without it they fail
//! (never skip), naming the variable and its usual value.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde_json::json;

use airlock_store::testing::wal_records;
use airlock_store::{
    API_CONVERSATIONS, API_RESPONSES, Actor, ApiKey, Backend, Budget, BudgetPeriod,
    ConversationItem, KeyKind, KeySettings, Limits, ProjectSettings, RequestLogWriter,
    RequestRecord, SessionFilter, SessionLogWriter, SessionRecord, SpendFilter, SpendScope, Store,
    StoreError, StoredConversation, StoredResponse, TranscriptEntry, WalOptions,
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
        tokens_cached: Some(4),
        streamed: true,
        outcome: "ok".into(),
        project_id: Some("proj_a".into()),
        api_key_id: Some("key_a".into()),
        end_user: None,
        cost_usd: Some(0.001),
        conversation_id: Some("conv_a".into()),
        history_turns_dropped: Some(2),
        tokens_estimated: true,
        cache: Some("hit".into()),
        saved_usd: Some(0.002),
        origin: Some("https://app.example.com".into()),
        receipt: None,
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
        log.record(record(&format!("w{i:05}"), 10_000 + i)).await;
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
    assert_eq!(rows[0].tokens_cached, 16_800);
    assert_eq!(rows[0].model.as_deref(), Some("gemini-2.5-flash"));

    exercise_tenancy(&store).await;
    exercise_sessions(&store).await;
    exercise_stored_responses(&store).await;
    exercise_conversations(&store).await;
    // NUL, which PostgreSQL text cannot hold, must not fail a batch: a
    // client's model name or end user id can carry one.
    let mut nul = record("nul-record", 20_000);
    nul.model = Some("gemini\0evil".into());
    nul.end_user = Some("user\0".into());
    store
        .insert_request_records(&[nul])
        .await
        .expect("insert NUL");
    let stored = store.recent_request_records(1).await.unwrap();
    assert_eq!(stored[0].model.as_deref(), Some("gemini\u{FFFD}evil"));
    // ...nor its rollups, which hold the same text.
    let by_model = store
        .rollup_breakdown(
            &airlock_store::RollupRange {
                span_s: 86_400,
                since_ms: 0,
                until_ms: 86_400_000,
                project_id: None,
            },
            airlock_store::Dimension::Model,
        )
        .await
        .unwrap();
    assert!(
        by_model
            .iter()
            .any(|(model, _)| model.as_deref() == Some("gemini\u{FFFD}evil"))
    );
    // Unreported cached tokens stay NULL, and count as none in spend; a
    // record of reported (not estimated) tokens reads back so.
    let mut unknown = record("no-cache-report", 86_400_000);
    unknown.tokens_cached = None;
    unknown.tokens_estimated = false;
    store
        .insert_request_records(&[unknown.clone()])
        .await
        .unwrap();
    assert_eq!(store.recent_request_records(1).await.unwrap()[0], unknown);
    let day_two = store
        .spend(&SpendFilter {
            since_ms: 86_400_000,
            ..SpendFilter::default()
        })
        .await
        .unwrap();
    assert_eq!((day_two[0].tokens_in, day_two[0].tokens_cached), (10, 0));
    assert_eq!(stored[0].end_user.as_deref(), Some("user\u{FFFD}"));
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

/// A UUIDv7 whose time is `at_ms`, as the gateway makes session ids.
fn session_id(at_ms: i64) -> String {
    let at = uuid::Timestamp::from_unix(
        uuid::NoContext,
        (at_ms / 1000) as u64,
        ((at_ms % 1000) * 1_000_000) as u32,
    );
    uuid::Uuid::new_v7(at).to_string()
}

fn session(at_ms: i64, project: &str, key: &str) -> SessionRecord {
    SessionRecord {
        id: session_id(at_ms),
        surface: "gemini_live".into(),
        started_at_ms: at_ms,
        ended_at_ms: at_ms + 61_000,
        project_id: Some(project.into()),
        api_key_id: Some(key.into()),
        end_user: Some("user-7".into()),
        model: Some("live".into()),
        provider: Some("gemini".into()),
        upstream_model: Some("gemini-live-2.5-flash".into()),
        key_id: Some("gemini#0".into()),
        close_code: 1000,
        close_reason: "client_closed".into(),
        close_detail: None,
        frames_in: 120,
        frames_out: 340,
        bytes_in: 1_920_000,
        bytes_out: 5_760_000,
        tokens_in: Some(1500),
        tokens_out: None,
        tool_calls: 2,
        tool_failures: 1,
        cost_usd: Some(0.0125),
        transcript: Vec::new(),
    }
}

fn ids(sessions: &[SessionRecord]) -> Vec<&str> {
    sessions.iter().map(|s| s.id.as_str()).collect()
}

async fn exercise_sessions(store: &Store) {
    let spent_before = store
        .spent_since(SpendScope::Key("key_a"), 0)
        .await
        .unwrap();
    store
        .insert_session_records(&[])
        .await
        .expect("empty batch");

    // Thirty sessions a second apart; every third belongs to another project and key.
    let mut sessions: Vec<SessionRecord> = (0..30)
        .map(|i| {
            let at = 1_700_000_000_000 + i * 1000;
            if i % 3 == 0 {
                session(at, "proj_b", "key_b")
            } else {
                session(at, "proj_a", "key_a")
            }
        })
        .collect();
    sessions[7].transcript = vec![
        TranscriptEntry {
            at_ms: 1_700_000_007_100,
            role: "user".into(),
            text: "Grüß dich! 你好 👋 «quote» \"json\" \\ new\nline \0 nul".into(),
        },
        TranscriptEntry {
            at_ms: 1_700_000_007_900,
            role: "model".into(),
            text: "¡Hola! Привет — こんにちは 🎙️".into(),
        },
    ];
    sessions[7].close_code = 4008;
    sessions[7].close_reason = "idle_timeout".into();
    sessions[7].close_detail = Some("idle for 60 s, «bye»".into());
    sessions[7].surface = "openai_realtime".into();
    sessions[7].tokens_out = Some(321);
    sessions[7].cost_usd = None;
    store
        .insert_session_records(&sessions)
        .await
        .expect("insert");
    // A retried batch must not duplicate rows.
    store
        .insert_session_records(&sessions[..3])
        .await
        .expect("re-insert");

    // One session reads back whole, transcript included.
    let read = store.session(&sessions[7].id).await.unwrap().unwrap();
    assert_eq!(read, sessions[7]);
    assert!(store.session("nope").await.unwrap().is_none());

    // Listings: newest first, without transcripts.
    let all = store
        .sessions(&SessionFilter {
            limit: 100,
            ..SessionFilter::default()
        })
        .await
        .unwrap();
    let mut expected: Vec<SessionRecord> = sessions.iter().rev().cloned().collect();
    for session in &mut expected {
        session.transcript.clear();
    }
    assert_eq!(all, expected);

    let project_b = store
        .sessions(&SessionFilter {
            project_id: Some("proj_b".into()),
            limit: 100,
            ..SessionFilter::default()
        })
        .await
        .unwrap();
    let expected_b: Vec<&str> = ids(&expected)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (29 - i) % 3 == 0)
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids(&project_b), expected_b);
    assert_eq!(project_b.len(), 10);

    let key_a_recent = store
        .sessions(&SessionFilter {
            api_key_id: Some("key_a".into()),
            since_ms: Some(1_700_000_020_000),
            limit: 100,
            ..SessionFilter::default()
        })
        .await
        .unwrap();
    // Sessions 20..30 not divisible by 3: 20, 22, 23, 25, 26, 28, 29.
    assert_eq!(key_a_recent.len(), 7);
    assert_eq!(key_a_recent[0].id, sessions[29].id);
    assert_eq!(key_a_recent[6].id, sessions[20].id);

    // Paging by id: pages of four, each after the last id of the one before.
    let mut paged = Vec::new();
    let mut before_id = None;
    loop {
        let page = store
            .sessions(&SessionFilter {
                project_id: Some("proj_a".into()),
                limit: 4,
                before_id: before_id.clone(),
                ..SessionFilter::default()
            })
            .await
            .unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        before_id = Some(last.id.clone());
        paged.extend(page);
    }
    let expected_a: Vec<&str> = expected
        .iter()
        .filter(|s| s.project_id.as_deref() == Some("proj_a"))
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(ids(&paged), expected_a);
    assert_eq!(paged.len(), 20);

    // NUL, which PostgreSQL text cannot hold, is replaced in text fields only.
    let mut nul = session(1_700_000_100_000, "proj_c", "key_c");
    nul.close_detail = Some("bad\0frame".into());
    store
        .insert_session_records(std::slice::from_ref(&nul))
        .await
        .unwrap();
    let read = store.session(&nul.id).await.unwrap().unwrap();
    assert_eq!(read.close_detail.as_deref(), Some("bad\u{FFFD}frame"));

    // The pipeline: everything recorded before shutdown is written, and a
    // listing returns at most a thousand.
    let (log, writer) = SessionLogWriter::start(store.clone(), 2000);
    for i in 0..1100 {
        log.record(session(1_800_000_000_000 + i, "proj_w", "key_w"))
            .await;
    }
    assert_eq!(log.stats().dropped_queue_full.load(Ordering::Relaxed), 0);
    drop(log);
    writer.finish().await;
    let filter = SessionFilter {
        project_id: Some("proj_w".into()),
        limit: u32::MAX,
        ..SessionFilter::default()
    };
    let first = store.sessions(&filter).await.unwrap();
    assert_eq!(first.len(), SessionFilter::MAX_LIMIT as usize);
    assert_eq!(first[0].started_at_ms, 1_800_000_000_000 + 1099);
    let rest = store
        .sessions(&SessionFilter {
            before_id: Some(first[999].id.clone()),
            ..filter
        })
        .await
        .unwrap();
    assert_eq!(rest.len(), 100);
    assert_eq!(rest[99].started_at_ms, 1_800_000_000_000);

    // Sessions are not spend: the gateway's request-log record carries their cost.
    let spent_after = store
        .spent_since(SpendScope::Key("key_a"), 0)
        .await
        .unwrap();
    assert_eq!(spent_after, spent_before);
    assert_eq!(
        store
            .spent_since(SpendScope::Key("key_w"), 0)
            .await
            .unwrap(),
        0.0
    );
}

fn stored_turn(id: &str, previous: Option<&str>, at_ms: i64) -> StoredResponse {
    StoredResponse {
        id: id.into(),
        project_id: Some("proj_a".into()),
        end_user: Some("user-1".into()),
        previous_id: previous.map(String::from),
        conversation_id: "conv_chain".into(),
        model: "gpt-4o-mini".into(),
        created_at_ms: at_ms,
        input_items: vec![json!({"role": "user", "content": format!("turn {id} \u{0}")})],
        response: json!({"id": id, "output": [{"type": "message", "content": [{"type": "output_text", "text": "hi"}]}]}),
    }
}

async fn exercise_stored_responses(store: &Store) {
    let turns: Vec<_> = (0..5)
        .map(|i| {
            let previous = (i > 0).then(|| format!("resp_{}", i - 1));
            stored_turn(&format!("resp_{i}"), previous.as_deref(), 1_000 + i)
        })
        .collect();
    for turn in &turns {
        store.insert_stored_response(turn).await.unwrap();
    }
    assert!(matches!(
        store.insert_stored_response(&turns[0]).await,
        Err(StoreError::Conflict)
    ));
    // Items are stored as JSON text, which escapes NUL: content comes back
    // exactly as it went in, on both engines.
    let first = store.stored_response("resp_0").await.unwrap().unwrap();
    assert_eq!(first.input_items, turns[0].input_items);
    assert_eq!(first.response, turns[0].response);
    assert_eq!(first.end_user.as_deref(), Some("user-1"));
    // The chain, oldest first; bounded to the newest turns.
    let chain = store.stored_response_chain("resp_4", 100).await.unwrap();
    let ids: Vec<_> = chain.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["resp_0", "resp_1", "resp_2", "resp_3", "resp_4"]);
    let chain = store.stored_response_chain("resp_4", 2).await.unwrap();
    let ids: Vec<_> = chain.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["resp_3", "resp_4"]);
    assert!(
        store
            .stored_response_chain("resp_missing", 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A deleted turn ends the chain before it.
    assert!(store.delete_stored_response("resp_2").await.unwrap());
    assert!(!store.delete_stored_response("resp_2").await.unwrap());
    assert!(store.stored_response("resp_2").await.unwrap().is_none());
    let chain = store.stored_response_chain("resp_4", 100).await.unwrap();
    let ids: Vec<_> = chain.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["resp_3", "resp_4"]);
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
        4202,
        "the 4200 batched records, the one with NUL and the one without cached tokens"
    );
}

#[tokio::test]
async fn log_queue_full_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    let (log, writer) = RequestLogWriter::start(store.clone(), 1);
    // The writer cannot run between these calls on this single-threaded test runtime.
    for i in 0..5 {
        log.record(record(&format!("q{i}"), i)).await;
    }
    let dropped = log.stats().dropped_queue_full.load(Ordering::Relaxed);
    assert_eq!(dropped, 4);
    drop(log);
    writer.finish().await;
    assert_eq!(store.recent_request_records(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn session_log_queue_full_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    let (log, writer) = SessionLogWriter::start(store.clone(), 1);
    // The writer cannot run between these calls on this single-threaded test runtime.
    for i in 0..5 {
        log.record(session(1_700_000_000_000 + i, "proj_a", "key_a"))
            .await;
    }
    assert_eq!(log.stats().dropped_queue_full.load(Ordering::Relaxed), 4);
    assert_eq!(log.queue_depth(), 1);
    drop(log);
    writer.finish().await;
    let filter = SessionFilter {
        limit: 10,
        ..SessionFilter::default()
    };
    assert_eq!(store.sessions(&filter).await.unwrap().len(), 1);
}

/// Where a test's store is, to open it again.
enum Target<'a> {
    Sqlite(&'a Path),
    Postgres(&'a str),
}

impl Target<'_> {
    async fn open(&self) -> Store {
        match self {
            Target::Sqlite(dir) => Store::open_data_dir(dir).await.unwrap(),
            Target::Postgres(url) => Store::open(url).await.unwrap(),
        }
    }
}

fn wal(dir: &Path, linger_ms: u64) -> WalOptions {
    WalOptions {
        dir: dir.to_path_buf(),
        linger: Duration::from_millis(linger_ms),
    }
}

/// Files in a WAL directory.
fn wal_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

/// Whether a future is still pending when polled once.
fn pending(future: &mut (impl Future + Unpin)) -> bool {
    let mut context = Context::from_waker(Waker::noop());
    matches!(Pin::new(future).poll(&mut context), Poll::Pending)
}

async fn request_ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store
        .recent_request_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    ids
}

/// A durable request log: group commit, acks after the sync, segments
/// emptied once the database has the records, and replay at the next start.
async fn exercise_durable_log(target: Target<'_>, wal_dir: &Path) {
    let store = target.open().await;
    // Every record sent within the linger is one group: one sync for all.
    let (log, writer) = RequestLogWriter::start_durable(store.clone(), 100, wal(wal_dir, 100))
        .await
        .unwrap();
    let mut appended: Vec<_> = (0..5)
        .map(|i| log.record(record(&format!("d{i}"), i)))
        .collect();
    assert!(
        appended.iter_mut().all(pending),
        "no record is acknowledged before its group is synced"
    );
    for append in appended {
        append.await;
        // Acknowledged: it is in the WAL (or already through it, in the database).
    }
    assert_eq!(log.stats().wal_syncs.load(Ordering::Relaxed), 1);
    let in_wal: Vec<RequestRecord> = wal_records(wal_dir);
    let in_db = request_ids(&store).await;
    for i in 0..5 {
        let id = format!("d{i}");
        assert!(
            in_wal.iter().any(|r| r.id == id) || in_db.contains(&id),
            "{id} acknowledged but neither in the WAL nor the database"
        );
    }
    for read in &in_wal {
        assert_eq!(
            read,
            &record(&read.id, read.started_at_ms),
            "read back whole"
        );
    }

    // Once the database has them, the WAL lets them go.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !wal_records::<RequestRecord>(wal_dir).is_empty() || request_ids(&store).await.len() < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the WAL still holds committed records"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(log);
    writer.finish().await;
    assert_eq!(wal_files(wal_dir), 0, "a clean stop leaves no segment");

    // The database goes away: acknowledged records stay in the WAL.
    let (log, writer) = RequestLogWriter::start_durable(store.clone(), 100, wal(wal_dir, 0))
        .await
        .unwrap();
    store.close().await;
    for i in 0..4 {
        log.record(record(&format!("k{i}"), 100 + i)).await;
    }
    drop(log);
    writer.finish().await;
    let kept: Vec<RequestRecord> = wal_records(wal_dir);
    assert_eq!(kept.len(), 4, "records the database never took are kept");

    // As after a crash: one of them had reached the database, and the last
    // frame was torn mid-write.
    let store = target.open().await;
    store
        .insert_request_records(&[record("k0", 100)])
        .await
        .unwrap();
    let (_, last) = std::fs::read_dir(wal_dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (std::fs::metadata(&path).unwrap().len(), path)
        })
        .filter(|(len, _)| *len > 0)
        .max_by_key(|(_, path)| path.clone())
        .unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    let whole = bytes.clone();
    bytes.extend_from_slice(&whole[8..20]);
    std::fs::write(&last, &bytes).unwrap();

    // The next start replays them, once each, and drops the torn tail.
    let (log, writer) = RequestLogWriter::start_durable(store.clone(), 100, wal(wal_dir, 0))
        .await
        .unwrap();
    let ids = request_ids(&store).await;
    assert_eq!(ids, ["d0", "d1", "d2", "d3", "d4", "k0", "k1", "k2", "k3"]);
    let replayed = store.recent_request_records(1).await.unwrap();
    assert_eq!(replayed[0], record("k3", 103));
    assert_eq!(wal_files(wal_dir), 0, "replayed segments are removed");
    drop(log);
    writer.finish().await;

    // Session records have their own WAL, replayed the same way.
    let sessions_dir = wal_dir.with_extension("sessions");
    let (log, writer) = SessionLogWriter::start_durable(store.clone(), 100, wal(&sessions_dir, 0))
        .await
        .unwrap();
    store.close().await;
    let mut spoken = session(1_900_000_000_000, "proj_d", "key_d");
    spoken.transcript = vec![TranscriptEntry {
        at_ms: 1_900_000_000_500,
        role: "user".into(),
        text: "hello".into(),
    }];
    log.record(spoken.clone()).await;
    drop(log);
    writer.finish().await;
    let store = target.open().await;
    let (log, writer) = SessionLogWriter::start_durable(store.clone(), 100, wal(&sessions_dir, 0))
        .await
        .unwrap();
    assert_eq!(store.session(&spoken.id).await.unwrap(), Some(spoken));
    drop(log);
    writer.finish().await;
}

#[tokio::test]
async fn sqlite_durable_log_acks_after_sync_and_replays_once() {
    let dir = tempfile::tempdir().unwrap();
    exercise_durable_log(Target::Sqlite(dir.path()), &dir.path().join("wal/requests")).await;
}

#[tokio::test]
async fn postgres_durable_log_acks_after_sync_and_replays_once() {
    let url = airlock_store::testing::fresh_postgres_database().await;
    let dir = tempfile::tempdir().unwrap();
    exercise_durable_log(Target::Postgres(&url), &dir.path().join("wal/requests")).await;
}

#[tokio::test]
async fn a_corrupt_wal_never_stops_the_log_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    let wal_dir = dir.path().join("wal");
    std::fs::create_dir_all(&wal_dir).unwrap();
    std::fs::write(
        wal_dir.join("00000000000000000007.wal"),
        b"not a segment at all",
    )
    .unwrap();
    std::fs::write(
        wal_dir.join("00000000000000000008.wal"),
        b"AIRWAL1\n\xff\xff\xff\xff",
    )
    .unwrap();
    std::fs::write(wal_dir.join("notes.txt"), b"left alone").unwrap();
    let (log, writer) = RequestLogWriter::start_durable(store.clone(), 100, wal(&wal_dir, 0))
        .await
        .unwrap();
    log.record(record("after", 1)).await;
    drop(log);
    writer.finish().await;
    assert_eq!(request_ids(&store).await, ["after"]);
    // The new segments are numbered after the old ones; all are gone.
    let left: Vec<_> = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["notes.txt"]);
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
    let url = airlock_store::testing::fresh_postgres_database().await;
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    exercise(store).await;
    let store = Store::open(&url).await.unwrap();
    assert_eq!(
        store.recent_request_records(10_000).await.unwrap().len(),
        4202,
        "the 4200 batched records, the one with NUL and the one without cached tokens"
    );
}

fn conversation(id: &str, project: &str, api: &str, at_ms: i64) -> StoredConversation {
    StoredConversation {
        id: id.into(),
        project_id: Some(project.into()),
        end_user: None,
        api: api.into(),
        created_at_ms: at_ms,
        updated_at_ms: at_ms,
        metadata: json!({"topic": "demo"}),
    }
}

fn item(position: i64, turn: i64, text: &str) -> ConversationItem {
    ConversationItem {
        position,
        turn,
        id: format!("msg_{position}"),
        item: json!({"type": "message", "role": "user", "content": text}),
        created_at_ms: 5_000 + position,
    }
}

async fn exercise_conversations(store: &Store) {
    let made = conversation("conv_1", "proj_c", API_CONVERSATIONS, 5_000);
    store.insert_conversation(&made).await.unwrap();
    assert!(matches!(
        store.insert_conversation(&made).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.conversation("conv_1").await.unwrap(),
        Some(made.clone())
    );
    assert_eq!(store.conversation("conv_none").await.unwrap(), None);
    // Items keep their order and their JSON (NUL included).
    let items = [
        item(1, 1, "one \u{0}"),
        item(2, 1, "two"),
        item(3, 3, "three"),
    ];
    store
        .append_conversation_items("conv_1", &items)
        .await
        .unwrap();
    assert!(matches!(
        store.append_conversation_items("conv_1", &items[..1]).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.conversation_items("conv_1").await.unwrap(), items);
    assert!(
        store
            .delete_conversation_item("conv_1", "msg_2")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_conversation_item("conv_1", "msg_2")
            .await
            .unwrap()
    );
    let left: Vec<_> = store.conversation_items("conv_1").await.unwrap();
    assert_eq!(left.iter().map(|i| i.position).collect::<Vec<_>>(), [1, 3]);
    // Metadata and activity.
    assert!(
        store
            .touch_conversation("conv_1", 9_000, Some(&json!({"topic": "new"})))
            .await
            .unwrap()
    );
    let touched = store.conversation("conv_1").await.unwrap().unwrap();
    assert_eq!(
        (touched.updated_at_ms, touched.metadata),
        (9_000, json!({"topic": "new"}))
    );
    assert!(
        !store
            .touch_conversation("conv_none", 1, None)
            .await
            .unwrap()
    );
    // A chain's conversation, with two turns; a project lists its own,
    // most recently active first, a page at a time.
    store
        .insert_conversation(&conversation("conv_2", "proj_c", API_RESPONSES, 6_000))
        .await
        .unwrap();
    store
        .insert_conversation(&conversation("conv_3", "proj_other", API_RESPONSES, 7_000))
        .await
        .unwrap();
    for (i, id) in ["resp_c1", "resp_c2"].iter().enumerate() {
        let mut turn = stored_turn(id, None, 6_000 + i as i64);
        turn.project_id = Some("proj_c".into());
        turn.conversation_id = "conv_2".into();
        store.insert_stored_response(&turn).await.unwrap();
    }
    let turns = store.conversation_turns("conv_2").await.unwrap();
    assert_eq!(
        turns.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["resp_c1", "resp_c2"]
    );
    let listed = store
        .project_conversations(Some("proj_c"), 10, None)
        .await
        .unwrap();
    let summary: Vec<_> = listed
        .iter()
        .map(|s| {
            (
                s.conversation.id.as_str(),
                s.turns,
                s.items,
                s.last_active_ms,
            )
        })
        .collect();
    assert_eq!(summary, [("conv_1", 0, 2, 9_000), ("conv_2", 2, 0, 6_000)]);
    let next = store
        .project_conversations(Some("proj_c"), 1, Some((9_000, "conv_1")))
        .await
        .unwrap();
    assert_eq!(next[0].conversation.id, "conv_2");
    // Ties in activity are paged by id, none skipped.
    for id in ["conv_t1", "conv_t2", "conv_t3"] {
        store
            .insert_conversation(&conversation(id, "proj_tie", API_RESPONSES, 1_000))
            .await
            .unwrap();
    }
    let mut paged = Vec::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = store
            .project_conversations(
                Some("proj_tie"),
                2,
                after.as_ref().map(|(ms, id)| (*ms, id.as_str())),
            )
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.last_active_ms, last.conversation.id.clone()));
        paged.extend(page.iter().map(|s| s.conversation.id.clone()));
    }
    assert_eq!(paged, ["conv_t3", "conv_t2", "conv_t1"]);
    // Deleting a conversation takes its items, not its turns.
    assert!(store.delete_conversation("conv_1").await.unwrap());
    assert!(!store.delete_conversation("conv_1").await.unwrap());
    assert!(store.conversation_items("conv_1").await.unwrap().is_empty());
    assert!(store.delete_conversation("conv_2").await.unwrap());
    assert!(store.stored_response("resp_c1").await.unwrap().is_some());
}
