//! The background jobs this gateway runs, all on the one job runner
//! (`airlock-jobs`): pre-generation ([`crate::pregen`]), batches
//! ([`crate::batches`]), GDPR exports ([`crate::user_data::job`]) and
//! project exports ([`crate::exports`]), plus any kind the caller adds
//! (`airlock serve`'s scheduled backups); and the loop that submits
//! recurring jobs when their period comes ([`spawn_recurring`]).

use std::sync::Arc;
use std::time::Duration;

use airlock_jobs::{Due, JobKind, JobRunner, RunnerLimits, Schedule};
use airlock_store::StoreError;
use serde_json::Value;

use crate::exports::ExportSchedule;
use crate::state::AppState;

/// How often recurring jobs are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(60);

/// Starts the job runner with every kind of job (and `extra` ones) and
/// registers it in the state; whoever starts it owns it.
pub async fn start_runner(
    state: &AppState,
    limits: RunnerLimits,
    extra: Vec<Arc<dyn JobKind>>,
) -> Result<Arc<JobRunner>, StoreError> {
    let mut kinds: Vec<Arc<dyn JobKind>> =
        vec![Arc::new(crate::pregen::Pregenerate::new(state.clone()))];
    kinds.extend(crate::batches::kinds(state));
    if let Some(media) = state.media() {
        let store = state.config().store.clone();
        let blobs = media.blobs().clone();
        kinds.push(Arc::new(crate::user_data::job::UserExport::new(
            store.clone(),
            blobs.clone(),
        )));
        kinds.push(Arc::new(crate::exports::ProjectExport::new(store, blobs)));
    }
    kinds.push(Arc::new(crate::user_data::reseal::Reseal::new(
        state.config().store.clone(),
        state.media().map(|media| media.blobs().clone()),
    )));
    kinds.extend(extra);
    let runner = Arc::new(JobRunner::start(state.config().store.clone(), kinds, limits).await?);
    state.set_jobs(&runner);
    Ok(runner)
}

/// A job of the operator's that recurs: its schedule, and how a due
/// period's job is made (its settings and items).
pub struct Recurring {
    pub schedule: Schedule,
    pub make: Box<dyn Fn(Due) -> (Value, Vec<Value>) + Send + Sync>,
}

/// Looks every minute (and at once) for recurring jobs whose period has
/// come and submits them: each project's export when `exports` is set,
/// and `recurring`. The caller aborts the task at shutdown.
pub fn spawn_recurring(
    state: AppState,
    exports: Option<ExportSchedule>,
    recurring: Vec<Recurring>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(LOOK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = crate::clock::now_ms();
            if let Err(error) = submit_due(&state, exports.as_ref(), &recurring, now).await {
                tracing::warn!(%error, "recurring jobs: cannot look for due jobs; trying again");
            }
        }
    })
}

/// Submits every recurring job due at `now` (milliseconds since the Unix
/// epoch).
pub async fn submit_due(
    state: &AppState,
    exports: Option<&ExportSchedule>,
    recurring: &[Recurring],
    now: i64,
) -> Result<(), airlock_jobs::JobError> {
    let Some(runner) = state.jobs() else {
        return Ok(());
    };
    for job in recurring {
        if let Some(submitted) = runner.submit_due(&job.schedule, now, &job.make).await? {
            tracing::info!(job = %submitted.job.id, kind = job.schedule.kind, "recurring job submitted");
        }
    }
    let Some(exports) = exports else {
        return Ok(());
    };
    for project in state.config().store.projects().await? {
        if !exports.covers(&project.name) {
            continue;
        }
        let schedule = exports.for_project(&project.id);
        let make = |due| exports.job(&project.name, due);
        if let Some(submitted) = runner.submit_due(&schedule, now, make).await? {
            tracing::info!(job = %submitted.job.id, project = %project.name, "scheduled export submitted");
        }
    }
    Ok(())
}
