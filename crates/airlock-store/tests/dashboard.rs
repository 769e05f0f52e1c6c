//! What the dashboard reads, on SQLite and PostgreSQL: the request log's
//! rollups (written with each batch, counted once however often a batch
//! is replayed, and equal to a rebuild from the log), the request log
//! searched and paged, spend by end user, admin users and sessions.

use airlock_store::{
    Actor, AdminRole, AdminSession, Dimension, RequestRecord, RequestSearch, RollupRange,
    StatusFilter, Store, StoreError, Tally, UserDataKind, quantile_ms,
};

const MINUTE_MS: i64 = 60_000;

fn actor() -> Actor {
    Actor {
        name: "test".into(),
        remote_addr: None,
    }
}

/// A request record at `at_ms`, of `project` and `model`, that took
/// `latency_ms`, with status `status`.
fn record(
    id: &str,
    at_ms: i64,
    project: &str,
    model: &str,
    latency_ms: i64,
    status: u16,
) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        started_at_ms: at_ms,
        surface: "openai".into(),
        operation: "chat.completions".into(),
        model: Some(model.into()),
        provider: Some("gemini".into()),
        status,
        latency_us: latency_ms * 1000,
        ttft_us: Some(latency_ms * 500),
        tokens_in: Some(10),
        tokens_out: Some(5),
        outcome: if status < 400 { "ok" } else { "error" }.into(),
        project_id: Some(project.into()),
        api_key_id: Some(format!("key-{project}")),
        end_user: Some(format!("user-{}", id.bytes().last().unwrap_or(0) % 3)),
        cost_usd: Some(0.25),
        ..RequestRecord::default()
    }
}

/// A minute in the past, aligned to the minute (so every test record of
/// it falls in one minute bucket).
fn a_minute() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (now / MINUTE_MS - 10) * MINUTE_MS
}

fn range(span_s: i64, since_ms: i64, project: Option<&str>) -> RollupRange {
    RollupRange {
        span_s,
        since_ms,
        until_ms: since_ms + 3 * 86_400_000,
        project_id: project.map(String::from),
    }
}

/// 100 records of project a over two minutes (latencies 1..=100 ms, every
/// tenth an error), and 10 of project b.
fn traffic(minute: i64) -> Vec<RequestRecord> {
    let mut records: Vec<RequestRecord> = (1..=100)
        .map(|i| {
            let status = if i % 10 == 0 { 500 } else { 200 };
            let at = minute + (i % 2) * MINUTE_MS + i;
            record(&format!("a{i:03}"), at, "a", "fast", i, status)
        })
        .collect();
    records
        .extend((1..=10).map(|i| record(&format!("b{i:03}"), minute + i, "b", "smart", 2000, 200)));
    records
}

async fn series_by_span(store: &Store, since: i64) -> Vec<Vec<(i64, Tally)>> {
    let mut all = Vec::new();
    for span in airlock_store::SPANS_S {
        let since = since.div_euclid(span * 1000) * span * 1000;
        all.push(
            store
                .rollup_series(&range(span, since, None))
                .await
                .unwrap(),
        );
    }
    all
}

async fn rollups_count_each_record_once_and_equal_a_rebuild(store: Store) {
    let minute = a_minute();
    let records = traffic(minute);
    // Written in two batches, the second replaying part of the first.
    store.insert_request_records(&records[..60]).await.unwrap();
    store.insert_request_records(&records[30..]).await.unwrap();

    let series = store.rollup_series(&range(60, minute, None)).await.unwrap();
    assert_eq!(series.len(), 2, "two minutes: {series:?}");
    assert_eq!(series[0].0, minute);
    let mut total = Tally::default();
    series.iter().for_each(|(_, tally)| total.merge(tally));
    assert_eq!(total.counts.requests, 110, "each record once");
    assert_eq!(total.counts.errors, 10);
    assert_eq!(total.counts.tokens_in, 1100);
    assert_eq!(total.counts.tokens_out, 550);
    assert!((total.counts.cost_usd - 27.5).abs() < 1e-9);

    // Project a alone: latencies 1..=100 ms, so the median is near 50 ms
    // (within its bucket, 50 to 100 ms) and the p99 near 100 ms.
    let a = store
        .rollup_series(&range(60, minute, Some("a")))
        .await
        .unwrap();
    let mut a_total = Tally::default();
    a.iter().for_each(|(_, tally)| a_total.merge(tally));
    assert_eq!(a_total.counts.requests, 100);
    let p50 = quantile_ms(&a_total.latency, 0.5).unwrap();
    assert!((50.0..=100.0).contains(&p50), "p50 {p50}");
    let p99 = quantile_ms(&a_total.latency, 0.99).unwrap();
    assert!((90.0..=100.0).contains(&p99), "p99 {p99}");
    let ttft_p50 = quantile_ms(&a_total.ttft, 0.5).unwrap();
    assert!((20.0..=50.0).contains(&ttft_p50), "ttft p50 {ttft_p50}");

    // By project and by model, the most requested first.
    let by_project = store
        .rollup_breakdown(
            &range(86_400, minute - minute % 86_400_000, None),
            Dimension::Project,
        )
        .await
        .unwrap();
    let groups: Vec<_> = by_project
        .iter()
        .map(|(g, c)| (g.clone(), c.requests))
        .collect();
    assert_eq!(
        groups,
        vec![(Some("a".into()), 100), (Some("b".into()), 10)]
    );
    let by_model = store
        .rollup_breakdown(
            &range(900, minute - minute % 900_000, None),
            Dimension::Model,
        )
        .await
        .unwrap();
    assert_eq!(by_model[1].0.as_deref(), Some("smart"));
    assert_eq!(by_model[1].1.requests, 10);

    // By provider with latencies: all 110 on gemini, b's ten at 2 s
    // making the p95 fall in the 2 to 3 s bucket.
    let by_provider = store
        .rollup_breakdown_tallies(&range(60, minute, None), Dimension::Provider)
        .await
        .unwrap();
    assert_eq!(by_provider.len(), 1);
    assert_eq!(by_provider[0].0.as_deref(), Some("gemini"));
    assert_eq!(by_provider[0].1, total);
    let p95 = quantile_ms(&by_provider[0].1.latency, 0.95).unwrap();
    assert!((2000.0..=3000.0).contains(&p95), "p95 {p95}");

    // The same from a rebuild of the whole log, at every span.
    let written = series_by_span(&store, minute).await;
    store.rebuild_rollups().await.unwrap();
    assert_eq!(series_by_span(&store, minute).await, written);
}

async fn the_request_log_is_searched_newest_first_a_page_at_a_time(store: Store) {
    let minute = a_minute();
    store
        .insert_request_records(&traffic(minute))
        .await
        .unwrap();
    let search = |f: fn(&mut RequestSearch)| {
        let mut search = RequestSearch {
            limit: 500,
            ..RequestSearch::default()
        };
        f(&mut search);
        search
    };
    let all = store.search_requests(&search(|_| {})).await.unwrap();
    assert_eq!(all.len(), 110);
    assert!(
        all.windows(2)
            .all(|w| (w[0].started_at_ms, &w[0].id) >= (w[1].started_at_ms, &w[1].id))
    );

    let b = store
        .search_requests(&search(|s| s.project_id = Some("b".into())))
        .await
        .unwrap();
    assert_eq!(b.len(), 10);
    assert!(b.iter().all(|r| r.project_id.as_deref() == Some("b")));
    let errors = store
        .search_requests(&search(|s| s.status = Some(StatusFilter::Error)))
        .await
        .unwrap();
    assert_eq!(errors.len(), 10);
    let ok = store
        .search_requests(&search(|s| s.status = Some(StatusFilter::Ok)))
        .await
        .unwrap();
    assert_eq!(ok.len(), 100);
    let exactly = store
        .search_requests(&search(|s| s.status = Some(StatusFilter::Is(500))))
        .await
        .unwrap();
    assert_eq!(exactly.len(), 10);
    let smart = store
        .search_requests(&search(|s| s.model = Some("smart".into())))
        .await
        .unwrap();
    assert_eq!(smart.len(), 10);
    let key = store
        .search_requests(&search(|s| s.api_key_id = Some("key-a".into())))
        .await
        .unwrap();
    assert_eq!(key.len(), 100);
    let user = store
        .search_requests(&search(|s| s.end_user = Some("user-1".into())))
        .await
        .unwrap();
    assert!(!user.is_empty() && user.iter().all(|r| r.end_user.as_deref() == Some("user-1")));
    let late = store
        .search_requests(&search(|s| s.since_ms = Some(1)))
        .await
        .unwrap();
    assert_eq!(late.len(), 110);
    let window = |since, until| {
        let mut s = search(|_| {});
        s.since_ms = Some(since);
        s.until_ms = Some(until);
        s
    };
    let first_minute = store
        .search_requests(&window(minute, minute + MINUTE_MS))
        .await
        .unwrap();
    assert_eq!(first_minute.len(), 60, "50 of a, 10 of b");

    // Pages of 25 walk the whole log once, in order.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .search_requests(&RequestSearch {
                limit: 25,
                before: before.clone(),
                ..RequestSearch::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        before = page.last().map(|r| (r.started_at_ms, r.id.clone()));
        seen.extend(page.into_iter().map(|r| r.id));
    }
    let ids: Vec<String> = all.iter().map(|r| r.id.clone()).collect();
    assert_eq!(seen, ids);

    assert_eq!(
        store
            .request_record("a042")
            .await
            .unwrap()
            .unwrap()
            .latency_us,
        42_000
    );
    assert!(store.request_record("nope").await.unwrap().is_none());

    // Spend by end user: from the log (since a minute) and from the users'
    // daily rollups (since a day's start), the same.
    let users = store.spend_by_user(minute, Some("a"), 10).await.unwrap();
    assert_eq!(users.iter().map(|u| u.requests).sum::<i64>(), 100);
    assert!(users.windows(2).all(|w| w[0].cost_usd >= w[1].cost_usd));
    let day = minute - minute.rem_euclid(86_400_000);
    assert_eq!(
        store.spend_by_user(day, Some("a"), 10).await.unwrap(),
        users
    );
    assert_eq!(
        store.spend_by_user(day, None, 10).await.unwrap(),
        store.spend_by_user(minute, None, 10).await.unwrap()
    );

    // Erasing a user's records takes their days from the rollups too.
    let theirs: Vec<String> = all
        .iter()
        .filter(|r| r.end_user.as_deref() == Some("user-1"))
        .map(|r| r.id.clone())
        .collect();
    store
        .delete_user_data(UserDataKind::RequestLog, &theirs)
        .await
        .unwrap();
    for since in [minute, day] {
        let left = store.spend_by_user(since, None, 10).await.unwrap();
        assert!(
            !left.is_empty() && left.iter().all(|u| u.end_user != "user-1"),
            "{left:?}"
        );
    }
}

async fn admin_users_and_sessions_round_trip(store: Store) {
    let user = store
        .create_admin_user("alice", "$argon2id$stored", AdminRole::Operator, &actor())
        .await
        .unwrap();
    assert_eq!(user.role, AdminRole::Operator);
    assert!(matches!(
        store
            .create_admin_user("alice", "x", AdminRole::Viewer, &actor())
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.admin_users().await.unwrap().len(), 1);
    assert_eq!(
        store
            .admin_user("alice")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$stored"
    );

    let session = AdminSession {
        username: "alice".into(),
        role: AdminRole::Operator,
        csrf_token: "csrf".into(),
        created_at_ms: 1,
        expires_at_ms: i64::MAX,
    };
    store
        .create_admin_session("digest", &session)
        .await
        .unwrap();
    assert_eq!(store.admin_session("digest").await.unwrap(), Some(session));
    // Deleting the user signs it out; both are audited.
    store.delete_admin_user("alice", &actor()).await.unwrap();
    assert_eq!(store.admin_session("digest").await.unwrap(), None);
    assert!(matches!(
        store.delete_admin_user("alice", &actor()).await,
        Err(StoreError::NotFound)
    ));
    let audit = store.audit_entries(0, 100).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["admin_user.create", "admin_user.delete"]);
    assert!(audit.iter().all(|e| {
        !e.after
            .iter()
            .chain(&e.before)
            .any(|v| v.to_string().contains("argon2"))
    }));
}

airlock_store::on_both_stores!(
    rollups_count_each_record_once_and_equal_a_rebuild,
    the_request_log_is_searched_newest_first_a_page_at_a_time,
    admin_users_and_sessions_round_trip,
);
