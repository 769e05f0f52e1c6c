//! The job runner over a real store, each behaviour on SQLite and on
//! PostgreSQL (`AIRLOCK_TEST_POSTGRES_URL`; without it the PostgreSQL
//! tests fail, never skip). Every test gets a fresh database.

mod test_kind;

use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_jobs::{
    JobError, JobItemCounts, JobItemState, JobKind, JobListing, JobProgress, JobRunner, JobState,
    RunnerLimits,
};
use airlock_store::Store;
use serde_json::{Value, json};

use test_kind::{BUDGET_SPENT, TestKind};

/// Longer than anything here takes, short enough to fail a hung test.
const PATIENCE: Duration = Duration::from_secs(60);

fn limits(concurrency: usize, per_job: usize) -> RunnerLimits {
    RunnerLimits {
        concurrency,
        per_job,
        ..RunnerLimits::default()
    }
}

fn items(count: u64) -> Vec<Value> {
    (0..count).map(|n| json!({"n": n})).collect()
}

async fn start(store: &Store, kinds: &[&Arc<TestKind>], limits: RunnerLimits) -> JobRunner {
    let kinds: Vec<Arc<dyn JobKind>> = kinds
        .iter()
        .map(|kind| Arc::clone(kind) as Arc<dyn JobKind>)
        .collect();
    JobRunner::start(store.clone(), kinds, limits)
        .await
        .unwrap()
}

/// Waits until `check` holds, looking every few milliseconds.
async fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until a job's progress satisfies `check`, and returns it.
async fn wait_for(
    runner: &JobRunner,
    id: &str,
    what: &str,
    check: impl Fn(&JobProgress) -> bool,
) -> JobProgress {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let progress = runner.get(id).await.unwrap().expect("the job is stored");
        if check(&progress) {
            return progress;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}: {progress:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn wait_for_state(runner: &JobRunner, id: &str, state: JobState) -> JobProgress {
    wait_for(runner, id, state.as_str(), |p| p.job.state == state).await
}

async fn a_job_of_200_items_completes_with_counts_spend_and_an_eta_while_running(store: Store) {
    let kind = Arc::new(TestKind::gated("test"));
    let runner = start(&store, &[&kind], limits(8, 4)).await;
    let submitted = runner
        .submit(
            "test",
            Some("proj_story"),
            json!({"model": "m"}),
            &items(200),
        )
        .await
        .unwrap();
    assert!(submitted.job.id.starts_with("job_"));
    assert_eq!(submitted.job.state, JobState::Queued);
    assert_eq!(submitted.job.project_id.as_deref(), Some("proj_story"));
    assert_eq!(submitted.job.params, json!({"model": "m"}));
    assert_eq!(submitted.job.total, 200);
    assert_eq!(submitted.items.pending, 200);
    assert_eq!(submitted.eta_secs, None);
    let id = submitted.job.id;

    kind.let_through(50);
    wait_for(&runner, &id, "50 items are done", |p| p.job.done == 50).await;
    wait_until("4 more items are held at the gate", || {
        kind.in_flight() == 4
    })
    .await;
    let midway = runner.get(&id).await.unwrap().unwrap();
    assert_eq!(midway.job.state, JobState::Running);
    assert!(midway.job.started_at_ms.is_some());
    assert_eq!(midway.job.spend_usd, 12.5);
    assert_eq!(
        midway.items,
        JobItemCounts {
            pending: 146,
            running: 4,
            done: 50,
            failed: 0
        }
    );
    assert!(
        midway.eta_secs.is_some(),
        "no ETA while running: {midway:?}"
    );

    kind.open_gate();
    let done = wait_for_state(&runner, &id, JobState::Completed).await;
    assert_eq!(
        (done.job.total, done.job.done, done.job.failed),
        (200, 200, 0)
    );
    assert_eq!(done.job.spend_usd, 50.0);
    assert_eq!(
        done.items,
        JobItemCounts {
            done: 200,
            ..JobItemCounts::default()
        }
    );
    assert_eq!(done.eta_secs, None);
    assert!(done.job.finished_at_ms.is_some());
    let stored = runner.items(&id, None, 1_000, 0).await.unwrap();
    assert_eq!(stored.len(), 200);
    for item in &stored {
        assert_eq!(item.state, JobItemState::Done);
        assert_eq!(item.result, Some(json!({"n": item.seq})));
        assert_eq!((item.attempts, item.spend_usd), (1, 0.25));
        assert_eq!(kind.runs_of(item.seq), 1, "item {}", item.seq);
    }
    assert!(kind.most_in_flight() <= 4);
    runner.shutdown().await;
}

async fn items_in_flight_never_exceed_the_runners_or_a_jobs_bound(store: Store) {
    let kind = Arc::new(TestKind::gated("test"));
    let runner = start(&store, &[&kind], limits(3, 2)).await;
    let wide = runner
        .submit("test", None, json!({}), &items(12))
        .await
        .unwrap()
        .job
        .id;
    let narrow = runner
        .submit("test", None, json!({"concurrency": 1}), &items(12))
        .await
        .unwrap()
        .job
        .id;
    let third = runner
        .submit("test", None, json!({}), &items(12))
        .await
        .unwrap()
        .job
        .id;

    wait_until("3 items are held at the gate", || kind.in_flight() == 3).await;
    kind.open_gate();
    for id in [&wide, &narrow, &third] {
        wait_for_state(&runner, id, JobState::Completed).await;
    }
    assert_eq!(kind.most_in_flight(), 3);
    assert!(kind.most_in_flight_of(&wide) <= 2);
    assert_eq!(kind.most_in_flight_of(&narrow), 1);
    assert!(kind.most_in_flight_of(&third) <= 2);
    assert_eq!(kind.runs_started(), 36);
    runner.shutdown().await;
}

async fn failed_items_carry_their_reasons_and_the_rest_still_run(store: Store) {
    let kind = Arc::new(TestKind::open("test"));
    let runner = start(&store, &[&kind], limits(4, 4)).await;
    let payloads: Vec<Value> = (0..30_u64)
        .map(|n| match n % 3 {
            0 => json!({"n": n, "fail": format!("item {n} has no prompt")}),
            _ => json!({"n": n}),
        })
        .collect();
    let id = runner
        .submit("test", None, json!({}), &payloads)
        .await
        .unwrap()
        .job
        .id;

    let done = wait_for_state(&runner, &id, JobState::Completed).await;
    assert_eq!((done.job.done, done.job.failed), (20, 10));
    assert_eq!(done.job.spend_usd, 20.0 * 0.25 + 10.0 * 0.5);
    let failed = runner
        .items(&id, Some(JobItemState::Failed), 100, 0)
        .await
        .unwrap();
    assert_eq!(
        failed.iter().map(|i| i.seq).collect::<Vec<_>>(),
        (0..30).step_by(3).collect::<Vec<u64>>()
    );
    for item in &failed {
        assert_eq!(item.error, Some(format!("item {} has no prompt", item.seq)));
        assert_eq!((item.result.as_ref(), item.spend_usd), (None, 0.5));
    }
    assert_eq!(kind.runs_started(), 30);
    runner.shutdown().await;
}

async fn an_item_whose_run_panics_fails_with_a_reason_and_the_job_goes_on(store: Store) {
    let kind = Arc::new(TestKind::open("test"));
    let runner = start(&store, &[&kind], limits(2, 2)).await;
    let payloads = [
        json!({"n": 0}),
        json!({"n": 1, "panic": true}),
        json!({"n": 2}),
    ];
    let id = runner
        .submit("test", None, json!({}), &payloads)
        .await
        .unwrap()
        .job
        .id;

    let done = wait_for_state(&runner, &id, JobState::Completed).await;
    assert_eq!(
        (done.job.done, done.job.failed, done.job.spend_usd),
        (2, 1, 0.5)
    );
    let failed = runner
        .items(&id, Some(JobItemState::Failed), 10, 0)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].seq, 1);
    assert_eq!(
        failed[0].error.as_deref(),
        Some("the job's code panicked on this item")
    );
    runner.shutdown().await;
}

async fn a_job_told_to_stop_ends_stopped_with_untried_items_pending_until_resumed(store: Store) {
    let kind = Arc::new(TestKind::open("test"));
    kind.stop_at(Some(4));
    // One item at a time: items run in order.
    let runner = start(&store, &[&kind], limits(1, 1)).await;
    let id = runner
        .submit("test", None, json!({}), &items(10))
        .await
        .unwrap()
        .job
        .id;

    let stopped = wait_for_state(&runner, &id, JobState::Stopped).await;
    assert_eq!(stopped.job.stop_reason.as_deref(), Some(BUDGET_SPENT));
    assert!(stopped.job.finished_at_ms.is_some());
    assert_eq!(stopped.eta_secs, None);
    assert_eq!(
        stopped.items,
        JobItemCounts {
            pending: 6,
            done: 4,
            ..JobItemCounts::default()
        }
    );
    let pending = runner
        .items(&id, Some(JobItemState::Pending), 100, 0)
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|i| i.seq).collect::<Vec<_>>(),
        [4, 5, 6, 7, 8, 9]
    );
    assert_eq!(
        (0..10).map(|n| kind.runs_of(n)).collect::<Vec<_>>(),
        [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    );

    kind.stop_at(None);
    let resumed = runner.resume(&id).await.unwrap().unwrap();
    assert_eq!(resumed.job.stop_reason, None);
    assert_eq!(resumed.job.finished_at_ms, None);
    let done = wait_for_state(&runner, &id, JobState::Completed).await;
    assert_eq!((done.job.done, done.job.failed), (10, 0));
    // The stopping item ran again; every other item once.
    assert_eq!(
        (0..10).map(|n| kind.runs_of(n)).collect::<Vec<_>>(),
        [1, 1, 1, 1, 2, 1, 1, 1, 1, 1]
    );
    runner.shutdown().await;
}

async fn a_cancelled_job_starts_no_new_items_lets_those_in_flight_finish_and_resumes(store: Store) {
    let kind = Arc::new(TestKind::gated("test"));
    let other = Arc::new(TestKind::open("other"));
    let runner = start(&store, &[&kind, &other], limits(4, 2)).await;
    let id = runner
        .submit("test", None, json!({}), &items(20))
        .await
        .unwrap()
        .job
        .id;
    wait_until("2 items are held at the gate", || kind.in_flight() == 2).await;

    let cancelled = runner.cancel(&id).await.unwrap().unwrap();
    assert_eq!(cancelled.job.state, JobState::Cancelled);
    assert!(cancelled.job.finished_at_ms.is_some());
    kind.let_through(2);
    wait_for(&runner, &id, "the 2 items in flight are done", |p| {
        p.job.done == 2
    })
    .await;
    // Another job run to its end: the runner has looked for work since.
    let busy = runner
        .submit("other", None, json!({}), &items(5))
        .await
        .unwrap()
        .job
        .id;
    wait_for_state(&runner, &busy, JobState::Completed).await;
    let still = runner.get(&id).await.unwrap().unwrap();
    assert_eq!(still.job.state, JobState::Cancelled);
    assert_eq!(
        still.items,
        JobItemCounts {
            pending: 18,
            done: 2,
            ..JobItemCounts::default()
        }
    );
    assert_eq!(kind.runs_started(), 2);
    // Cancelling an ended job changes nothing.
    let again = runner.cancel(&busy).await.unwrap().unwrap();
    assert_eq!(again.job.state, JobState::Completed);

    kind.open_gate();
    assert_eq!(
        runner.resume(&id).await.unwrap().unwrap().job.state,
        JobState::Running
    );
    let done = wait_for_state(&runner, &id, JobState::Completed).await;
    assert_eq!((done.job.done, done.job.spend_usd), (20, 5.0));
    assert!((0..20).all(|n| kind.runs_of(n) == 1));
    assert_eq!(runner.cancel("job_missing").await.unwrap(), None);
    assert_eq!(runner.resume("job_missing").await.unwrap(), None);
    runner.shutdown().await;
}

async fn a_new_runner_finishes_the_job_a_dropped_runner_left_mid_run(store: Store) {
    let kind = Arc::new(TestKind::gated("test"));
    let runner = start(&store, &[&kind], limits(4, 4)).await;
    let id = runner
        .submit("test", None, json!({}), &items(30))
        .await
        .unwrap()
        .job
        .id;
    kind.let_through(10);
    wait_for(&runner, &id, "10 items are done", |p| p.job.done == 10).await;
    wait_until("4 more items are held at the gate", || {
        kind.in_flight() == 4
    })
    .await;
    let finished_before: Vec<u64> = runner
        .items(&id, Some(JobItemState::Done), 100, 0)
        .await
        .unwrap()
        .iter()
        .map(|item| item.seq)
        .collect();
    let interrupted: Vec<u64> = runner
        .items(&id, Some(JobItemState::Running), 100, 0)
        .await
        .unwrap()
        .iter()
        .map(|item| item.seq)
        .collect();
    assert_eq!((finished_before.len(), interrupted.len()), (10, 4));

    drop(runner);
    wait_until("the interrupted runs have ended", || kind.in_flight() == 0).await;
    kind.open_gate();
    let restarted = start(&store, &[&kind], limits(4, 4)).await;
    let done = wait_for_state(&restarted, &id, JobState::Completed).await;
    assert_eq!(
        (done.job.done, done.job.failed, done.job.spend_usd),
        (30, 0, 7.5)
    );
    let stored = restarted.items(&id, None, 100, 0).await.unwrap();
    assert!(stored.iter().all(|item| item.state == JobItemState::Done));
    for n in 0..30 {
        if finished_before.contains(&n) {
            assert_eq!(kind.runs_of(n), 1, "item {n} had finished before the drop");
        } else if interrupted.contains(&n) {
            assert!(kind.runs_of(n) >= 1, "item {n} never ran");
        } else {
            assert_eq!(
                kind.runs_of(n),
                1,
                "item {n} had not started before the drop"
            );
        }
    }
    restarted.shutdown().await;
}

async fn shutdown_waits_for_items_in_flight_and_leaves_the_rest_pending(store: Store) {
    let kind = Arc::new(TestKind::gated("test"));
    let runner = start(&store, &[&kind], limits(2, 2)).await;
    let id = runner
        .submit("test", None, json!({}), &items(10))
        .await
        .unwrap()
        .job
        .id;
    wait_until("2 items are held at the gate", || kind.in_flight() == 2).await;

    let shutting_down = tokio::spawn(runner.shutdown());
    kind.let_through(2);
    shutting_down.await.unwrap();
    let job = store.job_get(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.done), (JobState::Running, 2));
    assert_eq!(
        store.job_item_counts(&id).await.unwrap(),
        JobItemCounts {
            pending: 8,
            done: 2,
            ..JobItemCounts::default()
        }
    );
    assert_eq!(kind.runs_started(), 2);
}

async fn shutdown_past_its_grace_interrupts_items_and_puts_them_back_to_pending(store: Store) {
    let kind = Arc::new(TestKind::gated("test"));
    let short_grace = RunnerLimits {
        shutdown_grace: Duration::from_millis(50),
        ..limits(2, 2)
    };
    let runner = start(&store, &[&kind], short_grace).await;
    let id = runner
        .submit("test", None, json!({}), &items(10))
        .await
        .unwrap()
        .job
        .id;
    wait_until("2 items are held at the gate", || kind.in_flight() == 2).await;

    runner.shutdown().await;
    assert_eq!(
        store.job_item_counts(&id).await.unwrap(),
        JobItemCounts {
            pending: 10,
            ..JobItemCounts::default()
        }
    );
    wait_until("the interrupted runs have ended", || kind.in_flight() == 0).await;
}

async fn a_job_of_an_unknown_kind_is_refused_and_not_stored(store: Store) {
    let kind = Arc::new(TestKind::open("test"));
    let runner = start(&store, &[&kind], RunnerLimits::default()).await;
    let refused = runner.submit("nope", None, json!({}), &items(3)).await;
    assert!(
        matches!(&refused, Err(JobError::UnknownKind(name)) if name == "nope"),
        "{refused:?}"
    );
    assert!(
        runner
            .list(&JobListing::newest(10))
            .await
            .unwrap()
            .is_empty()
    );
    runner.shutdown().await;
}

async fn jobs_are_listed_newest_first_with_their_progress(store: Store) {
    let kind = Arc::new(TestKind::open("test"));
    let runner = start(&store, &[&kind], RunnerLimits::default()).await;
    let first = runner
        .submit("test", Some("proj_a"), json!({}), &items(2))
        .await
        .unwrap()
        .job
        .id;
    wait_for_state(&runner, &first, JobState::Completed).await;
    let second = runner
        .submit("test", Some("proj_b"), json!({}), &items(3))
        .await
        .unwrap()
        .job
        .id;
    wait_for_state(&runner, &second, JobState::Completed).await;

    let all = runner.list(&JobListing::newest(10)).await.unwrap();
    let listed: Vec<(&str, u64)> = all
        .iter()
        .map(|p| (p.job.id.as_str(), p.items.done))
        .collect();
    assert_eq!(listed, [(second.as_str(), 3), (first.as_str(), 2)]);
    let of_a = runner
        .list(&JobListing {
            owner: Some(Some("proj_a")),
            ..JobListing::newest(10)
        })
        .await
        .unwrap();
    assert_eq!(
        of_a.iter().map(|p| p.job.id.as_str()).collect::<Vec<_>>(),
        [first.as_str()]
    );
    assert_eq!(runner.get("job_missing").await.unwrap(), None);
    runner.shutdown().await;
}

airlock_store::on_both_stores!(tokio(flavor = "multi_thread", worker_threads = 2);
    a_job_of_200_items_completes_with_counts_spend_and_an_eta_while_running,
    items_in_flight_never_exceed_the_runners_or_a_jobs_bound,
    failed_items_carry_their_reasons_and_the_rest_still_run,
    an_item_whose_run_panics_fails_with_a_reason_and_the_job_goes_on,
    a_job_told_to_stop_ends_stopped_with_untried_items_pending_until_resumed,
    a_cancelled_job_starts_no_new_items_lets_those_in_flight_finish_and_resumes,
    a_new_runner_finishes_the_job_a_dropped_runner_left_mid_run,
    shutdown_waits_for_items_in_flight_and_leaves_the_rest_pending,
    shutdown_past_its_grace_interrupts_items_and_puts_them_back_to_pending,
    a_job_of_an_unknown_kind_is_refused_and_not_stored,
    jobs_are_listed_newest_first_with_their_progress,
);
