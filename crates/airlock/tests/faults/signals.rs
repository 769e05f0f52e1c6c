//! The gateway stopped under load. SIGTERM: it stops accepting, the
//! requests and streams in flight finish whole, it exits cleanly, and
//! every one of them is in the request log once. SIGKILL with the durable
//! request log (`--request-log-durability durable`): after a restart on
//! the same data directory, every acknowledged answer (the client read
//! its whole body) has exactly one record. Either way each record has one
//! receipt, in a receipts log whose tiles rebuild its signed checkpoint.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::common::{airlock, stops_accepting};
use crate::harness::{Answer, Gateway, Mock, Setup, assert_logged_once, await_logged};
use crate::memory::RssWatch;

/// A chat answer the client read whole: a complete completion, or a
/// stream to its `[DONE]`.
fn acknowledged(answer: &Answer, stream: bool) -> bool {
    if stream {
        answer.status == 200 && answer.complete && answer.body.contains("data: [DONE]")
    } else {
        answer.is_acknowledged_completion()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_lets_every_request_and_stream_in_flight_finish_and_logs_each_once() {
    const EACH: usize = 12;
    // Slow answers: every request is still in flight when SIGTERM comes.
    let primary = Mock::start(&["--first-token-ms", "300", "--per-chunk-ms", "200"]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::new(&primary, &backup);
    setup.upstream_timeout_secs = 30;
    let gateway = Arc::new(Gateway::start(&setup, dir.path(), &[]));
    let memory = RssWatch::start(gateway.pid());

    let mut requests = JoinSet::new();
    for i in 0..2 * EACH {
        let gateway = gateway.clone();
        let stream = i % 2 == 0;
        let id = format!("term-{i}");
        requests.spawn(async move {
            let answer = gateway.try_chat("solo", &id, stream).await;
            (id, stream, answer)
        });
    }
    // Each has reached the gateway and is waiting on its slow provider.
    let deadline = Instant::now() + Duration::from_secs(10);
    while primary.received().await < 2 * EACH {
        assert!(
            Instant::now() < deadline,
            "the requests never reached the provider"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gateway.sigterm();
    stops_accepting(&gateway.addr).await;

    let mut ids = Vec::new();
    for (id, stream, answer) in requests.join_all().await {
        let answer = answer.unwrap_or_else(|error| panic!("{id} was cut: {error}"));
        assert!(
            acknowledged(&answer, stream),
            "{id} did not finish: {answer:?}"
        );
        ids.push(id);
    }
    let status = gateway.exited(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}\n{}", gateway.log_tail());
    memory.assert_bounded("SIGTERM under load");

    let records = gateway.logged().await;
    let sent: HashSet<String> = ids.iter().cloned().collect();
    assert_logged_once(&records, &ids, &sent);
    assert_eq!(records.len(), 2 * EACH);
    // A receipt for each record and nothing else, all covered by the
    // checkpoint signed as it stopped.
    let count = records.len() as u64;
    assert_eq!(gateway.receipts_checked().await, (count, count));
    for record in &records {
        assert_eq!(
            (record.status, record.outcome.as_str()),
            (200, "ok"),
            "{record:?}"
        );
    }
}

/// Whether `serve` has the durable request log's flag.
fn has_durability_flag() -> bool {
    let help = airlock().args(["serve", "--help"]).output().unwrap();
    String::from_utf8_lossy(&help.stdout).contains("--request-log-durability")
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_under_load_with_the_durable_log_keeps_every_acknowledged_answer_exactly_once() {
    const CLIENTS: usize = 6;
    const MOST_PER_CLIENT: usize = 80;
    /// Killed once this many answers were acknowledged (or after KILL_AFTER).
    const KILL_AT: usize = 200;
    const KILL_AFTER: Duration = Duration::from_secs(5);
    assert!(
        has_durability_flag(),
        "`airlock serve` has no --request-log-durability flag"
    );
    let durable = ["--request-log-durability", "durable"];
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let gateway = Arc::new(Gateway::start(
        &Setup::new(&primary, &backup),
        dir.path(),
        &durable,
    ));
    let memory = RssWatch::start(gateway.pid());

    let acknowledged_count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut clients = JoinSet::new();
    for client in 0..CLIENTS {
        let (gateway, count, killed) =
            (gateway.clone(), acknowledged_count.clone(), killed.clone());
        clients.spawn(async move {
            let (mut sent, mut acked) = (Vec::new(), Vec::new());
            for i in 0..MOST_PER_CLIENT {
                if killed.load(Ordering::Relaxed) {
                    break;
                }
                let stream = i % 2 == 1;
                let id = format!("kill-{client}-{i}");
                sent.push(id.clone());
                match gateway.try_chat("solo", &id, stream).await {
                    Ok(answer) if acknowledged(&answer, stream) => {
                        acked.push(id);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(answer) => {
                        // Only the kill may cut an answer.
                        assert!(killed.load(Ordering::Relaxed), "{answer:?}");
                        break;
                    }
                    Err(error) => {
                        assert!(killed.load(Ordering::Relaxed), "{id}: {error}");
                        break;
                    }
                }
            }
            (sent, acked)
        });
    }
    let started = Instant::now();
    while acknowledged_count.load(Ordering::Relaxed) < KILL_AT && started.elapsed() < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    killed.store(true, Ordering::Relaxed);
    gateway.sigkill();
    memory.assert_bounded("load before SIGKILL");

    let (mut sent, mut acked) = (HashSet::new(), Vec::new());
    for (client_sent, client_acked) in clients.join_all().await {
        sent.extend(client_sent);
        acked.extend(client_acked);
    }
    assert!(
        acked.len() >= 50,
        "only {} answers before the kill",
        acked.len()
    );

    // The restart replays what the log had not written.
    let restarted = Gateway::restart_on(dir.path(), &durable);
    let records = await_logged(&acked, || restarted.logged()).await;
    assert_logged_once(&records, &acked, &sent);
    restarted.sigterm();
    let status = restarted.exited(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}\n{}", restarted.log_tail());
    // Replayed once: a clean stop after it adds nothing twice.
    let again = restarted.logged().await;
    assert_logged_once(&again, &acked, &sent);
    assert_eq!(again.len(), records.len());
    // The receipts of the replayed records too, one each: the killed log's
    // tree was a valid prefix, and grew into a valid tree.
    let count = again.len() as u64;
    assert_eq!(restarted.receipts_checked().await, (count, count));
}
