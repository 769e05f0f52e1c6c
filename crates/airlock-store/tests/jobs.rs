//! Durable jobs and their items, each behaviour run against SQLite and
//! against PostgreSQL (`AIRLOCK_TEST_POSTGRES_URL`; without it the
//! PostgreSQL tests fail, never skip). Every test gets a fresh database.

use serde_json::{Value, json};

use airlock_store::{
    JobItemCounts, JobItemEnd, JobItemState, JobListing, JobRecord, JobState, NewJob, Store,
};

fn new_job(id: &str, project: Option<&str>) -> NewJob {
    NewJob {
        id: id.into(),
        kind: "pregenerate".into(),
        project_id: project.map(str::to_string),
        params: json!({"concurrency": 2, "model": "gemini-2.5-flash"}),
    }
}

fn payloads(count: u64) -> Vec<Value> {
    (0..count).map(|n| json!({"n": n})).collect()
}

/// Creates a job and moves it to running.
async fn running_job(store: &Store, id: &str, items: u64) -> JobRecord {
    store
        .job_create(&new_job(id, None), &payloads(items), 1_000)
        .await
        .unwrap();
    store
        .job_set_state(id, &[JobState::Queued], JobState::Running, None, 2_000)
        .await
        .unwrap()
        .unwrap()
}

async fn a_job_is_stored_queued_with_every_item_pending_in_order(store: Store) {
    // More items than one INSERT statement holds.
    let created = store
        .job_create(&new_job("job_a", Some("proj_1")), &payloads(1_234), 1_000)
        .await
        .unwrap();
    let expected = JobRecord {
        id: "job_a".into(),
        kind: "pregenerate".into(),
        project_id: Some("proj_1".into()),
        state: JobState::Queued,
        stop_reason: None,
        params: json!({"concurrency": 2, "model": "gemini-2.5-flash"}),
        total: 1_234,
        done: 0,
        failed: 0,
        spend_usd: 0.0,
        created_at_ms: 1_000,
        started_at_ms: None,
        updated_at_ms: 1_000,
        finished_at_ms: None,
    };
    assert_eq!(created, expected);
    assert_eq!(store.job_get("job_a").await.unwrap(), Some(expected));
    assert_eq!(store.job_get("job_missing").await.unwrap(), None);

    let items = store.job_items("job_a", None, 2_000, 0).await.unwrap();
    assert_eq!(items.len(), 1_234);
    for (index, item) in items.iter().enumerate() {
        assert_eq!(item.seq, index as u64);
        assert_eq!(item.payload, json!({"n": index}));
        assert_eq!(item.state, JobItemState::Pending);
        assert_eq!(item.attempts, 0);
        assert_eq!((item.error.as_deref(), item.result.as_ref()), (None, None));
    }
    let page = store.job_items("job_a", None, 3, 500).await.unwrap();
    let seqs: Vec<u64> = page.iter().map(|item| item.seq).collect();
    assert_eq!(seqs, [500, 501, 502]);
    assert_eq!(
        store.job_item_counts("job_a").await.unwrap(),
        JobItemCounts {
            pending: 1_234,
            ..JobItemCounts::default()
        }
    );
}

async fn a_job_with_the_id_of_another_is_refused_and_adds_no_items(store: Store) {
    store
        .job_create(&new_job("job_a", None), &payloads(3), 1_000)
        .await
        .unwrap();
    assert!(
        store
            .job_create(&new_job("job_a", None), &payloads(5), 1_000)
            .await
            .is_err()
    );
    assert_eq!(
        store.job_items("job_a", None, 100, 0).await.unwrap().len(),
        3
    );
}

async fn jobs_are_listed_newest_first_by_project_and_up_to_the_limit(store: Store) {
    for (id, project, at) in [
        ("job_1", Some("proj_a"), 1_000),
        ("job_2", Some("proj_b"), 2_000),
        ("job_3", Some("proj_a"), 3_000),
        ("job_4", None, 4_000),
    ] {
        store
            .job_create(&new_job(id, project), &payloads(1), at)
            .await
            .unwrap();
    }
    let ids = |jobs: Vec<JobRecord>| jobs.into_iter().map(|job| job.id).collect::<Vec<_>>();
    let listed = |owner, before, limit| {
        let store = store.clone();
        async move {
            let listing = JobListing {
                kind: None,
                owner,
                before,
                limit,
            };
            ids(store.job_list(&listing).await.unwrap())
        }
    };
    assert_eq!(
        listed(None, None, 10).await,
        ["job_4", "job_3", "job_2", "job_1"]
    );
    assert_eq!(
        listed(Some(Some("proj_a")), None, 10).await,
        ["job_3", "job_1"]
    );
    assert_eq!(listed(Some(None), None, 10).await, ["job_4"]);
    assert_eq!(listed(None, None, 2).await, ["job_4", "job_3"]);
    assert_eq!(listed(None, Some("job_3"), 2).await, ["job_2", "job_1"]);
    assert!(listed(None, Some("job_missing"), 2).await.is_empty());
    let of_kind = |kind| JobListing {
        kind: Some(kind),
        ..JobListing::newest(10)
    };
    assert_eq!(
        store.job_list(&of_kind("pregenerate")).await.unwrap().len(),
        4
    );
    assert!(store.job_list(&of_kind("batch")).await.unwrap().is_empty());

    store
        .job_set_state("job_2", &[JobState::Queued], JobState::Running, None, 5_000)
        .await
        .unwrap();
    assert_eq!(
        ids(store.jobs_in_states(&[JobState::Queued]).await.unwrap()),
        ["job_1", "job_3", "job_4"]
    );
    assert_eq!(
        ids(store
            .jobs_in_states(&[JobState::Running, JobState::Stopped])
            .await
            .unwrap()),
        ["job_2"]
    );
}

async fn state_changes_only_from_the_expected_states_and_keep_their_times(store: Store) {
    store
        .job_create(&new_job("job_a", None), &payloads(1), 1_000)
        .await
        .unwrap();
    // Not running yet: resuming from cancelled does nothing.
    assert_eq!(
        store
            .job_set_state(
                "job_a",
                &[JobState::Cancelled],
                JobState::Running,
                None,
                1_500
            )
            .await
            .unwrap(),
        None
    );
    let running = store
        .job_set_state("job_a", &[JobState::Queued], JobState::Running, None, 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            running.state,
            running.started_at_ms,
            running.updated_at_ms,
            running.finished_at_ms
        ),
        (JobState::Running, Some(2_000), 2_000, None)
    );
    let stopped = store
        .job_set_state(
            "job_a",
            &[JobState::Running],
            JobState::Stopped,
            Some("the project's budget is spent"),
            3_000,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stopped.state, JobState::Stopped);
    assert_eq!(
        stopped.stop_reason.as_deref(),
        Some("the project's budget is spent")
    );
    assert_eq!(stopped.finished_at_ms, Some(3_000));
    // Resumed: started keeps its first time; the reason and the end go.
    let resumed = store
        .job_set_state(
            "job_a",
            &[JobState::Cancelled, JobState::Stopped],
            JobState::Running,
            None,
            4_000,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            resumed.state,
            resumed.stop_reason,
            resumed.started_at_ms,
            resumed.finished_at_ms
        ),
        (JobState::Running, None, Some(2_000), None)
    );
    assert_eq!(
        store
            .job_set_state(
                "job_missing",
                &[JobState::Running],
                JobState::Cancelled,
                None,
                5_000
            )
            .await
            .unwrap(),
        None
    );
}

async fn claims_take_pending_items_in_order_only_from_a_running_job(store: Store) {
    store
        .job_create(&new_job("job_a", None), &payloads(5), 1_000)
        .await
        .unwrap();
    assert!(
        store
            .job_claim_items("job_a", 2, 1_500)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .job_set_state("job_a", &[JobState::Queued], JobState::Running, None, 2_000)
        .await
        .unwrap();
    let first = store.job_claim_items("job_a", 2, 3_000).await.unwrap();
    assert_eq!(first.iter().map(|i| i.seq).collect::<Vec<_>>(), [0, 1]);
    for item in &first {
        assert_eq!(
            (item.state, item.attempts, item.updated_at_ms),
            (JobItemState::Running, 1, 3_000)
        );
        assert_eq!(item.payload, json!({"n": item.seq}));
    }
    let rest = store.job_claim_items("job_a", 10, 3_000).await.unwrap();
    assert_eq!(rest.iter().map(|i| i.seq).collect::<Vec<_>>(), [2, 3, 4]);
    assert!(
        store
            .job_claim_items("job_a", 10, 3_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.job_item_counts("job_a").await.unwrap(),
        JobItemCounts {
            running: 5,
            ..JobItemCounts::default()
        }
    );

    // A cancelled job gives none, even with pending items.
    running_job(&store, "job_b", 3).await;
    store
        .job_set_state(
            "job_b",
            &[JobState::Running],
            JobState::Cancelled,
            None,
            4_000,
        )
        .await
        .unwrap();
    assert!(
        store
            .job_claim_items("job_b", 3, 5_000)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn outcomes_update_the_item_and_the_jobs_counts_and_spend_once(store: Store) {
    running_job(&store, "job_a", 3).await;
    store.job_claim_items("job_a", 3, 3_000).await.unwrap();
    let result = json!({"cache_key": "ab12"});
    assert!(
        store
            .job_item_finish(
                "job_a",
                0,
                JobItemEnd::Done {
                    result: Some(&result)
                },
                0.25,
                4_000
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .job_item_finish(
                "job_a",
                1,
                JobItemEnd::Failed {
                    reason: "the provider refused the prompt",
                    result: Some(&json!({"status": 400})),
                },
                0.5,
                4_000
            )
            .await
            .unwrap()
    );
    // Recorded already: nothing changes.
    assert!(
        !store
            .job_item_finish("job_a", 0, JobItemEnd::Done { result: None }, 1.0, 5_000)
            .await
            .unwrap()
    );

    let job = store.job_get("job_a").await.unwrap().unwrap();
    assert_eq!(
        (job.done, job.failed, job.spend_usd, job.updated_at_ms),
        (1, 1, 0.75, 4_000)
    );
    let items = store.job_items("job_a", None, 10, 0).await.unwrap();
    assert_eq!(items[0].state, JobItemState::Done);
    assert_eq!(items[0].result, Some(result));
    assert_eq!(items[0].spend_usd, 0.25);
    assert_eq!(items[1].state, JobItemState::Failed);
    assert_eq!(
        items[1].error.as_deref(),
        Some("the provider refused the prompt")
    );
    assert_eq!(items[1].result, Some(json!({"status": 400})));
    assert_eq!(items[1].spend_usd, 0.5);
    let failed = store
        .job_items("job_a", Some(JobItemState::Failed), 10, 0)
        .await
        .unwrap();
    assert_eq!(failed.iter().map(|i| i.seq).collect::<Vec<_>>(), [1]);

    // One item still running: not finished.
    assert_eq!(
        store
            .job_complete_if_finished("job_a", 6_000)
            .await
            .unwrap(),
        None
    );
    store
        .job_item_finish("job_a", 2, JobItemEnd::Done { result: None }, 0.0, 7_000)
        .await
        .unwrap();
    let completed = store
        .job_complete_if_finished("job_a", 8_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            completed.state,
            completed.finished_at_ms,
            completed.done,
            completed.failed
        ),
        (JobState::Completed, Some(8_000), 2, 1)
    );
}

async fn released_and_reset_items_go_back_to_pending_and_run_again(store: Store) {
    running_job(&store, "job_a", 4).await;
    store.job_claim_items("job_a", 3, 3_000).await.unwrap();
    assert!(store.job_item_release("job_a", 1, 4_000).await.unwrap());
    assert!(!store.job_item_release("job_a", 1, 4_000).await.unwrap());
    assert_eq!(
        store.job_item_counts("job_a").await.unwrap(),
        JobItemCounts {
            pending: 2,
            running: 2,
            ..JobItemCounts::default()
        }
    );
    assert_eq!(
        store.job_reset_running_items("job_a", 5_000).await.unwrap(),
        2
    );
    assert_eq!(
        store.job_item_counts("job_a").await.unwrap(),
        JobItemCounts {
            pending: 4,
            ..JobItemCounts::default()
        }
    );
    // A released item's outcome is no longer taken.
    assert!(
        !store
            .job_item_finish("job_a", 0, JobItemEnd::Done { result: None }, 0.25, 6_000)
            .await
            .unwrap()
    );
    let again = store.job_claim_items("job_a", 10, 7_000).await.unwrap();
    let attempts: Vec<(u64, u32)> = again.iter().map(|i| (i.seq, i.attempts)).collect();
    assert_eq!(attempts, [(0, 2), (1, 2), (2, 2), (3, 1)]);
    assert_eq!(store.job_get("job_a").await.unwrap().unwrap().done, 0);
}

async fn a_job_of_no_items_completes_at_once(store: Store) {
    running_job(&store, "job_empty", 0).await;
    let job = store
        .job_complete_if_finished("job_empty", 3_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((job.state, job.total), (JobState::Completed, 0));
}

airlock_store::on_both_stores!(
    a_job_is_stored_queued_with_every_item_pending_in_order,
    a_job_with_the_id_of_another_is_refused_and_adds_no_items,
    jobs_are_listed_newest_first_by_project_and_up_to_the_limit,
    state_changes_only_from_the_expected_states_and_keep_their_times,
    claims_take_pending_items_in_order_only_from_a_running_job,
    outcomes_update_the_item_and_the_jobs_counts_and_spend_once,
    released_and_reset_items_go_back_to_pending_and_run_again,
    a_job_of_no_items_completes_at_once,
);
