//! The request log's database (PostgreSQL, a server of the test's own)
//! stops for a few seconds under traffic and comes back. Requests never
//! wait on the database: every one is answered while it is down. Once it
//! is back, every answered request is in the request log exactly once:
//! none lost while the database was away, none written twice by a retried
//! batch.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use airlock_store::Store;
use tokio::task::JoinSet;

use crate::harness::{Gateway, Mock, Setup, assert_logged_once, await_logged, logged_in};
use crate::memory::RssWatch;
use crate::postgres::Postgres;

/// Clients sending at once, each pausing between requests.
const CLIENTS: usize = 4;
const PAUSE: Duration = Duration::from_millis(15);
/// A bound on the requests sent, whatever the timing.
const MOST_PER_CLIENT: usize = 400;

/// A gateway whose request log is in a PostgreSQL of the test's own, with
/// its two providers and data directory (kept alive by the caller).
fn on_a_database_of_its_own() -> (Arc<Postgres>, (Mock, Mock), tempfile::TempDir, Arc<Gateway>) {
    let database = Arc::new(Postgres::start());
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::new(&primary, &backup);
    setup.database_url = Some(database.url());
    let gateway = Arc::new(Gateway::start(&setup, dir.path(), &[]));
    (database, (primary, backup), dir, gateway)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_away_for_seconds_loses_no_answered_request_and_logs_none_twice() {
    let (database, _providers, _dir, gateway) = on_a_database_of_its_own();
    let memory = RssWatch::start(gateway.pid());

    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = JoinSet::new();
    for client in 0..CLIENTS {
        let (gateway, stop) = (gateway.clone(), stop.clone());
        clients.spawn(async move {
            let mut answered = Vec::new();
            for i in 0..MOST_PER_CLIENT {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let stream = i % 3 == 0;
                let id = format!("db-{client}-{i}");
                let answer = gateway
                    .try_chat("solo", &id, stream)
                    .await
                    .unwrap_or_else(|error| panic!("{id}: {error}"));
                let acknowledged = if stream {
                    answer.status == 200 && answer.complete && answer.body.contains("[DONE]")
                } else {
                    answer.is_acknowledged_completion()
                };
                assert!(
                    acknowledged,
                    "answered while the database is away: {answer:?}"
                );
                answered.push((id, answer.took));
                tokio::time::sleep(PAUSE).await;
            }
            answered
        });
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopped_at = Instant::now();
    let blocking = |step: fn(&Postgres)| {
        let database = database.clone();
        tokio::task::spawn_blocking(move || step(&database))
    };
    blocking(Postgres::stop).await.unwrap();
    // Records wait for the database, queued, while requests go on.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let queued = gateway
        .metrics()
        .await
        .sum("airlock_request_log_queue_depth", &[]);
    assert!(queued > 0.0, "nothing waits for the stopped database");
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(stopped_at.elapsed())).await;
    blocking(Postgres::start_again).await.unwrap();
    let away = stopped_at.elapsed();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);

    let mut answered = Vec::new();
    let mut slowest = Duration::ZERO;
    for (id, took) in clients.join_all().await.into_iter().flatten() {
        answered.push(id);
        slowest = slowest.max(took);
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a request waited {slowest:?}: the database was away {away:?}"
    );
    assert!(answered.len() > 100, "only {} requests", answered.len());

    let url = database.url();
    let read = || async { logged_in(Store::open(&url).await.unwrap()).await };
    let records = await_logged(&answered, read).await;
    let sent: HashSet<String> = answered.iter().cloned().collect();
    assert_logged_once(&records, &answered, &sent);
    assert_eq!(
        records.len(),
        answered.len(),
        "one row per answered request"
    );
    let metrics = gateway.metrics().await;
    assert_eq!(metrics.sum("airlock_request_log_dropped_total", &[]), 0.0);
    let (status, _) = gateway.readyz().await;
    assert_eq!(status, 200, "ready again");
    memory.assert_bounded("database outage");
}

/// Readiness while the database is away: `/readyz` answers at once (a
/// probe has a deadline of its own, a second or so) that the gateway is
/// not ready, and ready again once the database is back.
#[tokio::test(flavor = "multi_thread")]
async fn readiness_says_at_once_that_the_database_is_away() {
    let (database, _providers, _dir, gateway) = on_a_database_of_its_own();
    assert_eq!(gateway.readyz().await.0, 200);

    database.stop();
    let asked = Instant::now();
    let probe = {
        let gateway = gateway.clone();
        tokio::spawn(async move { gateway.readyz().await })
    };
    // Bounded, and the database comes back after it either way.
    let answered = tokio::time::timeout(Duration::from_secs(3), probe).await;
    let database_back = database.clone();
    tokio::task::spawn_blocking(move || database_back.start_again())
        .await
        .unwrap();
    let (status, body) = answered
        .unwrap_or_else(|_| panic!("/readyz gave no answer in 3 s while the database was away"))
        .unwrap();
    let took = asked.elapsed();
    assert_eq!(status, 503, "ready without its database ({took:?}): {body}");
    assert_eq!(body["store"]["ok"], false);
    let deadline = Instant::now() + Duration::from_secs(15);
    while gateway.readyz().await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "not ready after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
