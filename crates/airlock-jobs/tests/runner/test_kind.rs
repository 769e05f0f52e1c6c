//! A job kind for the tests: it counts every run of every item, the items
//! in flight (overall and per job) and the most seen at once; it holds
//! each item at a gate the test opens; and it asks the job to stop at an
//! item the test names.
//!
//! An item's payload is `{"n": N}`, optionally with `"fail": REASON` or
//! `"panic": true`. A done item spends 0.25 and answers `{"n": N}`; a
//! failed one spends 0.5.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use airlock_jobs::{BoxFuture, ItemOutcome, JobInfo, JobKind};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// What a stopping item says.
pub const BUDGET_SPENT: &str = "the project's budget is spent";

pub struct TestKind {
    name: &'static str,
    /// Items pass once they take a permit.
    gate: Semaphore,
    runs: Mutex<HashMap<u64, u32>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    in_flight_per_job: Mutex<HashMap<String, usize>>,
    most_in_flight_per_job: Mutex<HashMap<String, usize>>,
    stop_at: Mutex<Option<u64>>,
}

impl TestKind {
    /// A kind whose items wait at a closed gate.
    pub fn gated(name: &'static str) -> TestKind {
        TestKind {
            name,
            gate: Semaphore::new(0),
            runs: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
            in_flight_per_job: Mutex::default(),
            most_in_flight_per_job: Mutex::default(),
            stop_at: Mutex::new(None),
        }
    }

    /// A kind whose items pass at once.
    pub fn open(name: &'static str) -> TestKind {
        let kind = TestKind::gated(name);
        kind.open_gate();
        kind
    }

    /// Lets `count` more items through the gate.
    pub fn let_through(&self, count: usize) {
        self.gate.add_permits(count);
    }

    /// Lets every item through from now on.
    pub fn open_gate(&self) {
        self.gate
            .add_permits(Semaphore::MAX_PERMITS - self.gate.available_permits());
    }

    /// The item `n` (and no other) asks the job to stop; `None`: none does.
    pub fn stop_at(&self, n: Option<u64>) {
        *self.stop_at.lock().unwrap() = n;
    }

    /// Runs started of item `n`.
    pub fn runs_of(&self, n: u64) -> u32 {
        self.runs.lock().unwrap().get(&n).copied().unwrap_or(0)
    }

    /// Runs started of every item.
    pub fn runs_started(&self) -> u32 {
        self.runs.lock().unwrap().values().sum()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(Ordering::SeqCst)
    }

    pub fn most_in_flight_of(&self, job_id: &str) -> usize {
        self.most_in_flight_per_job
            .lock()
            .unwrap()
            .get(job_id)
            .copied()
            .unwrap_or(0)
    }

    fn outcome(&self, n: u64, item: &Value) -> ItemOutcome {
        if *self.stop_at.lock().unwrap() == Some(n) {
            return ItemOutcome::StopJob {
                reason: BUDGET_SPENT.to_string(),
            };
        }
        if item.get("panic") == Some(&Value::Bool(true)) {
            panic!("item {n} makes the test kind panic");
        }
        match item.get("fail").and_then(Value::as_str) {
            Some(reason) => ItemOutcome::Failed {
                reason: reason.to_string(),
                result: None,
                spend_usd: 0.5,
            },
            None => ItemOutcome::Done {
                result: Some(json!({"n": n})),
                spend_usd: 0.25,
            },
        }
    }
}

/// Counts an item in flight from its start until its run ends or is
/// dropped (an interrupted run).
struct InFlight<'a> {
    kind: &'a TestKind,
    job_id: &'a str,
}

impl<'a> InFlight<'a> {
    fn enter(kind: &'a TestKind, job_id: &'a str) -> InFlight<'a> {
        let now = kind.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        kind.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let mut per_job = kind.in_flight_per_job.lock().unwrap();
        let of_job = per_job.entry(job_id.to_string()).or_default();
        *of_job += 1;
        let mut most = kind.most_in_flight_per_job.lock().unwrap();
        let most_of_job = most.entry(job_id.to_string()).or_default();
        *most_of_job = (*most_of_job).max(*of_job);
        InFlight { kind, job_id }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.kind.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Some(of_job) = self
            .kind
            .in_flight_per_job
            .lock()
            .unwrap()
            .get_mut(self.job_id)
        {
            *of_job -= 1;
        }
    }
}

impl JobKind for TestKind {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run<'a>(&'a self, job: &'a JobInfo, item: &'a Value) -> BoxFuture<'a, ItemOutcome> {
        Box::pin(async move {
            let n = item["n"].as_u64().expect("a test item has a number");
            *self.runs.lock().unwrap().entry(n).or_default() += 1;
            let _in_flight = InFlight::enter(self, &job.id);
            self.gate
                .acquire()
                .await
                .expect("the gate is never closed")
                .forget();
            self.outcome(n, item)
        })
    }
}
