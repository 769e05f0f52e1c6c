//! Airlock's durable background job runner: one runner for every kind of
//! background work (pre-generation, batches, exports, retention sweeps,
//! backups).
//!
//! A job is a kind's name, its settings and a list of items; the job and
//! every item are stored (`airlock-store`'s `jobs` and `job_items`), never
//! only held in memory, so a restart resumes where the last run stopped.
//! The runner runs items on Tokio tasks, a bounded number at once across
//! all jobs and per job; it reports progress (counts, spend, an ETA), and
//! cancels and resumes jobs. What an item means is the kind's: a
//! [`JobKind`] runs one item and says how it went. Recurring jobs (nightly
//! exports, backups) are [`Schedule`]s: a period's job is submitted once,
//! whatever restarts happen.
//!
//! Must not know what any kind does, nor about HTTP: the admin API and the
//! command line that start jobs are built on top of it.

mod kind;
mod limits;
mod runner;
mod runs;
mod schedule;
mod scheduler;

pub use airlock_store::{JobItem, JobItemCounts, JobItemState, JobListing, JobRecord, JobState};
pub use kind::{BoxFuture, ItemOutcome, JobInfo, JobKind};
pub use limits::{PARAM_CONCURRENCY, RunnerLimits};
pub use runner::{JobError, JobProgress, JobRunner};
pub use schedule::{Due, PARAM_PERIOD_MS, Schedule};
