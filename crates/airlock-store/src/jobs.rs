//! Durable background jobs (`jobs`, `job_items`): a job of some kind, its
//! items of work, and their outcomes. What a kind does with an item, and
//! how many run at once, is the job runner's (`airlock-jobs`). This holds
//! the rows and the steps that must be atomic: creating a job with all its
//! items, claiming pending items, recording an item's outcome together with
//! the job's counts and spend, and moving a job between states only from
//! the states a step expects.

use serde_json::Value;
use sqlx::{FromRow, QueryBuilder};

use crate::database::{ROWS_PER_STATEMENT, from_json, on_pool, optional_text, text, to_json};
use crate::{Store, StoreError};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Stored, not started yet.
    Queued,
    /// Its pending items are being run.
    Running,
    /// Cancelled by a person; its pending items stay pending (resumable).
    Cancelled,
    /// Every item ended, done or failed.
    Completed,
    /// Ended early for a reason (say, the project's budget is spent); its
    /// pending items stay pending (resumable).
    Stopped,
}

impl JobState {
    /// Its name in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Cancelled => "cancelled",
            JobState::Completed => "completed",
            JobState::Stopped => "stopped",
        }
    }

    /// The state a name stands for, if it is one.
    pub fn parse(name: &str) -> Option<JobState> {
        match name {
            "queued" => Some(JobState::Queued),
            "running" => Some(JobState::Running),
            "cancelled" => Some(JobState::Cancelled),
            "completed" => Some(JobState::Completed),
            "stopped" => Some(JobState::Stopped),
            _ => None,
        }
    }

    /// Whether a job in this state has ended (for now: cancelled and
    /// stopped jobs can be resumed).
    pub fn is_ended(self) -> bool {
        matches!(
            self,
            JobState::Cancelled | JobState::Completed | JobState::Stopped
        )
    }
}

/// Where one item of a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobItemState {
    /// Not run yet, or to be run again.
    Pending,
    /// Claimed by a runner.
    Running,
    /// Ran to success.
    Done,
    /// Ran and failed; its `error` says why.
    Failed,
}

impl JobItemState {
    /// Its name in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JobItemState::Pending => "pending",
            JobItemState::Running => "running",
            JobItemState::Done => "done",
            JobItemState::Failed => "failed",
        }
    }

    /// The state a name stands for, if it is one.
    pub fn parse(name: &str) -> Option<JobItemState> {
        match name {
            "pending" => Some(JobItemState::Pending),
            "running" => Some(JobItemState::Running),
            "done" => Some(JobItemState::Done),
            "failed" => Some(JobItemState::Failed),
            _ => None,
        }
    }
}

/// A job to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Its id, unique (`job_` and a UUIDv7's hex, by the runner).
    pub id: String,
    /// The kind of job ("pregenerate", ...): which code runs its items.
    pub kind: String,
    /// The project it belongs to; `None` for the operator's own jobs.
    pub project_id: Option<String>,
    /// The kind's settings for this job.
    pub params: Value,
}

/// Which jobs a listing shows, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobListing<'a> {
    /// Only jobs of this kind.
    pub kind: Option<&'a str>,
    /// Whose jobs: a project's (`Some(Some(id))`), the operator's own
    /// (`Some(None)`), or everyone's (`None`).
    pub owner: Option<Option<&'a str>>,
    /// Only jobs listed after this one (the last of the previous page).
    pub before: Option<&'a str>,
    pub limit: u32,
}

impl JobListing<'_> {
    /// The newest `limit` jobs of everyone's, of every kind.
    pub fn newest(limit: u32) -> JobListing<'static> {
        JobListing {
            kind: None,
            owner: None,
            before: None,
            limit,
        }
    }
}

/// One stored job, with its counts as they stand.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: String,
    /// The kind of job: which code runs its items.
    pub kind: String,
    /// The project it belongs to; `None` for the operator's own jobs.
    pub project_id: Option<String>,
    pub state: JobState,
    /// Why a stopped job stopped.
    pub stop_reason: Option<String>,
    /// The kind's settings for this job.
    pub params: Value,
    /// Items in the job.
    pub total: u64,
    /// Items done.
    pub done: u64,
    /// Items failed.
    pub failed: u64,
    /// What its items reported spending (USD), failed ones included.
    pub spend_usd: f64,
    pub created_at_ms: i64,
    /// When it first ran.
    pub started_at_ms: Option<i64>,
    /// When its row last changed.
    pub updated_at_ms: i64,
    /// When it last ended (completed, stopped or cancelled); `None` while
    /// it is queued or running.
    pub finished_at_ms: Option<i64>,
}

/// One item of work of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobItem {
    pub job_id: String,
    /// Its place in the job, from 0, in the order the items were given.
    pub seq: u64,
    /// What to do, in the kind's terms.
    pub payload: Value,
    pub state: JobItemState,
    /// Why a failed item failed, for a person to read.
    pub error: Option<String>,
    /// Runs started, the one under way included.
    pub attempts: u32,
    /// What a done item produced, small and in the kind's terms.
    pub result: Option<Value>,
    /// What its runs reported spending (USD).
    pub spend_usd: f64,
    pub updated_at_ms: i64,
}

/// A job's items by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobItemCounts {
    pub pending: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
}

/// How a running item ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JobItemEnd<'a> {
    /// It succeeded, with what it produced.
    Done { result: Option<&'a Value> },
    /// It failed, for this reason, with what the failure produced (say,
    /// the error answer) when the kind keeps it.
    Failed {
        reason: &'a str,
        result: Option<&'a Value>,
    },
}

#[derive(FromRow)]
struct JobColumns {
    id: String,
    kind: String,
    project_id: Option<String>,
    state: String,
    stop_reason: Option<String>,
    params: String,
    total: i64,
    done: i64,
    failed: i64,
    spend_usd: f64,
    created_at_ms: i64,
    started_at_ms: Option<i64>,
    updated_at_ms: i64,
    finished_at_ms: Option<i64>,
}

const JOB_COLUMNS: &str = "id, kind, project_id, state, stop_reason, params, total, done, \
     failed, spend_usd, created_at_ms, started_at_ms, updated_at_ms, finished_at_ms";

#[derive(FromRow)]
struct ItemColumns {
    job_id: String,
    seq: i64,
    payload: String,
    state: String,
    error: Option<String>,
    attempts: i32,
    result: Option<String>,
    spend_usd: f64,
    updated_at_ms: i64,
}

const ITEM_COLUMNS: &str =
    "job_id, seq, payload, state, error, attempts, result, spend_usd, updated_at_ms";

/// A count read back; a negative one is corrupt data.
fn read_count(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative job {what} {value}")))
}

/// A count as stored (no job holds 2^63 items).
fn stored_count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl TryFrom<JobColumns> for JobRecord {
    type Error = StoreError;

    fn try_from(row: JobColumns) -> Result<Self, StoreError> {
        Ok(JobRecord {
            state: JobState::parse(&row.state)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown job state {:?}", row.state)))?,
            params: from_json(&row.params)?,
            total: read_count(row.total, "total")?,
            done: read_count(row.done, "done count")?,
            failed: read_count(row.failed, "failed count")?,
            id: row.id,
            kind: row.kind,
            project_id: row.project_id,
            stop_reason: row.stop_reason,
            spend_usd: row.spend_usd,
            created_at_ms: row.created_at_ms,
            started_at_ms: row.started_at_ms,
            updated_at_ms: row.updated_at_ms,
            finished_at_ms: row.finished_at_ms,
        })
    }
}

impl TryFrom<ItemColumns> for JobItem {
    type Error = StoreError;

    fn try_from(row: ItemColumns) -> Result<Self, StoreError> {
        Ok(JobItem {
            seq: read_count(row.seq, "item seq")?,
            payload: from_json(&row.payload)?,
            state: JobItemState::parse(&row.state).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown job item state {:?}", row.state))
            })?,
            attempts: u32::try_from(row.attempts).map_err(|_| {
                StoreError::Corrupt(format!("negative job item attempts {}", row.attempts))
            })?,
            result: row.result.as_deref().map(from_json).transpose()?,
            job_id: row.job_id,
            error: row.error,
            spend_usd: row.spend_usd,
            updated_at_ms: row.updated_at_ms,
        })
    }
}

fn jobs_from(rows: Vec<JobColumns>) -> Result<Vec<JobRecord>, StoreError> {
    rows.into_iter().map(JobRecord::try_from).collect()
}

fn items_from(rows: Vec<ItemColumns>) -> Result<Vec<JobItem>, StoreError> {
    rows.into_iter().map(JobItem::try_from).collect()
}

impl Store {
    /// Stores a job, queued, with its items, all pending, numbered from 0
    /// in the order given; in one transaction, the items in batches.
    pub async fn job_create(
        &self,
        job: &NewJob,
        items: &[Value],
        now_ms: i64,
    ) -> Result<JobRecord, StoreError> {
        let total = stored_count(items.len() as u64);
        let job_id = text(&job.id);
        let row = on_pool!(&self.pools, pool => {
            let mut transaction = pool.begin().await?;
            let mut query = QueryBuilder::new(format!("INSERT INTO jobs ({JOB_COLUMNS}) "));
            query.push_values([job], |mut row, job| {
                row.push_bind(job_id.clone())
                    .push_bind(text(&job.kind))
                    .push_bind(optional_text(&job.project_id))
                    .push_bind(JobState::Queued.as_str())
                    .push_bind(None::<String>)
                    .push_bind(to_json(&job.params))
                    .push_bind(total)
                    .push_bind(0_i64)
                    .push_bind(0_i64)
                    .push_bind(0.0_f64)
                    .push_bind(now_ms)
                    .push_bind(None::<i64>)
                    .push_bind(now_ms)
                    .push_bind(None::<i64>);
            });
            query.push(format!(" RETURNING {JOB_COLUMNS}"));
            let row: JobColumns = query.build_query_as().fetch_one(&mut *transaction).await?;
            for (chunk_index, chunk) in items.chunks(ROWS_PER_STATEMENT).enumerate() {
                let first_seq = chunk_index * ROWS_PER_STATEMENT;
                let mut query = QueryBuilder::new(format!("INSERT INTO job_items ({ITEM_COLUMNS}) "));
                query.push_values(chunk.iter().enumerate(), |mut row, (offset, payload)| {
                    row.push_bind(job_id.clone())
                        .push_bind(stored_count((first_seq + offset) as u64))
                        .push_bind(to_json(payload))
                        .push_bind(JobItemState::Pending.as_str())
                        .push_bind(None::<String>)
                        .push_bind(0_i32)
                        .push_bind(None::<String>)
                        .push_bind(0.0_f64)
                        .push_bind(now_ms);
                });
                // Not kept prepared: each batch size is another statement.
                query.build().persistent(false).execute(&mut *transaction).await?;
            }
            transaction.commit().await?;
            row
        });
        JobRecord::try_from(row)
    }

    /// One job.
    pub async fn job_get(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let row = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = "));
            query.push_bind(id.to_string());
            query.build_query_as::<JobColumns>().fetch_optional(pool).await?
        });
        row.map(JobRecord::try_from).transpose()
    }

    /// The jobs a listing names, newest first.
    pub async fn job_list(&self, listing: &JobListing<'_>) -> Result<Vec<JobRecord>, StoreError> {
        let rows = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
            if let Some(kind) = listing.kind {
                query.push(" AND kind = ").push_bind(kind.to_string());
            }
            match listing.owner {
                Some(Some(project_id)) => {
                    query.push(" AND project_id = ").push_bind(project_id.to_string());
                }
                Some(None) => {
                    query.push(" AND project_id IS NULL");
                }
                None => {}
            }
            if let Some(before) = listing.before {
                // After the named job in the listing's order (none when it
                // does not exist).
                query
                    .push(" AND EXISTS (SELECT 1 FROM jobs AS page WHERE page.id = ")
                    .push_bind(before.to_string())
                    .push(
                        " AND (jobs.created_at_ms < page.created_at_ms \
                         OR (jobs.created_at_ms = page.created_at_ms AND jobs.id < page.id)))",
                    );
            }
            query
                .push(" ORDER BY created_at_ms DESC, id DESC LIMIT ")
                .push_bind(i64::from(listing.limit));
            query.build_query_as::<JobColumns>().fetch_all(pool).await?
        });
        jobs_from(rows)
    }

    /// Deletes a job and its items; `false` when there was no such job.
    pub async fn job_delete(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = on_pool!(&self.pools, pool => {
            let mut transaction = pool.begin().await?;
            let mut items = QueryBuilder::new("DELETE FROM job_items WHERE job_id = ");
            items.push_bind(id.to_string());
            items.build().execute(&mut *transaction).await?;
            let mut job = QueryBuilder::new("DELETE FROM jobs WHERE id = ");
            job.push_bind(id.to_string());
            let deleted = job.build().execute(&mut *transaction).await?.rows_affected();
            transaction.commit().await?;
            deleted
        });
        Ok(deleted > 0)
    }

    /// Every job in one of `states`, oldest first: what a runner has to do.
    pub async fn jobs_in_states(&self, states: &[JobState]) -> Result<Vec<JobRecord>, StoreError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let rows = on_pool!(&self.pools, pool => {
            let mut query =
                QueryBuilder::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ("));
            let mut names = query.separated(", ");
            for state in states {
                names.push_bind(state.as_str());
            }
            query.push(") ORDER BY created_at_ms, id");
            query.build_query_as::<JobColumns>().fetch_all(pool).await?
        });
        jobs_from(rows)
    }

    /// A job's items in order, only those in `state` when one is named,
    /// `limit` of them after skipping `offset`.
    pub async fn job_items(
        &self,
        job_id: &str,
        state: Option<JobItemState>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<JobItem>, StoreError> {
        let rows = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {ITEM_COLUMNS} FROM job_items WHERE job_id = "
            ));
            query.push_bind(job_id.to_string());
            if let Some(state) = state {
                query.push(" AND state = ").push_bind(state.as_str());
            }
            query
                .push(" ORDER BY seq LIMIT ")
                .push_bind(i64::from(limit))
                .push(" OFFSET ")
                .push_bind(stored_count(offset));
            query.build_query_as::<ItemColumns>().fetch_all(pool).await?
        });
        items_from(rows)
    }

    /// A job's items counted by state.
    pub async fn job_item_counts(&self, job_id: &str) -> Result<JobItemCounts, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(&self.pools, pool => {
            let mut query =
                QueryBuilder::new("SELECT state, COUNT(*) FROM job_items WHERE job_id = ");
            query.push_bind(job_id.to_string()).push(" GROUP BY state");
            query.build_query_as().fetch_all(pool).await?
        });
        let mut counts = JobItemCounts::default();
        for (state, count) in rows {
            let count = read_count(count, "item count")?;
            match JobItemState::parse(&state) {
                Some(JobItemState::Pending) => counts.pending = count,
                Some(JobItemState::Running) => counts.running = count,
                Some(JobItemState::Done) => counts.done = count,
                Some(JobItemState::Failed) => counts.failed = count,
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "unknown job item state {state:?}"
                    )));
                }
            }
        }
        Ok(counts)
    }

    /// Marks up to `limit` of a running job's pending items running, the
    /// first in order, and returns them (their attempts counted). A job
    /// that is not running gives none.
    pub async fn job_claim_items(
        &self,
        job_id: &str,
        limit: u32,
        now_ms: i64,
    ) -> Result<Vec<JobItem>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("UPDATE job_items SET state = ");
            query
                .push_bind(JobItemState::Running.as_str())
                .push(", attempts = attempts + 1, updated_at_ms = ")
                .push_bind(now_ms)
                .push(" WHERE job_id = ")
                .push_bind(job_id.to_string())
                .push(" AND state = ")
                .push_bind(JobItemState::Pending.as_str())
                .push(" AND seq IN (SELECT seq FROM job_items WHERE job_id = ")
                .push_bind(job_id.to_string())
                .push(" AND state = ")
                .push_bind(JobItemState::Pending.as_str())
                .push(" ORDER BY seq LIMIT ")
                .push_bind(i64::from(limit))
                .push(") AND EXISTS (SELECT 1 FROM jobs WHERE id = ")
                .push_bind(job_id.to_string())
                .push(" AND state = ")
                .push_bind(JobState::Running.as_str())
                .push(format!(") RETURNING {ITEM_COLUMNS}"));
            query.build_query_as::<ItemColumns>().fetch_all(pool).await?
        });
        let mut items = items_from(rows)?;
        items.sort_by_key(|item| item.seq);
        Ok(items)
    }

    /// Records how a running item ended, and adds it and its spend to the
    /// job's counts, in one transaction. An item that is not running (its
    /// outcome recorded already, or put back to pending) is left as it is:
    /// `false`.
    pub async fn job_item_finish(
        &self,
        job_id: &str,
        seq: u64,
        end: JobItemEnd<'_>,
        spend_usd: f64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (state, error, result, done, failed) = match end {
            JobItemEnd::Done { result } => {
                (JobItemState::Done, None, result.map(to_json), 1_i64, 0_i64)
            }
            JobItemEnd::Failed { reason, result } => (
                JobItemState::Failed,
                Some(text(reason)),
                result.map(to_json),
                0,
                1,
            ),
        };
        on_pool!(&self.pools, pool => {
            let mut transaction = pool.begin().await?;
            let mut item = QueryBuilder::new("UPDATE job_items SET state = ");
            item.push_bind(state.as_str())
                .push(", error = ")
                .push_bind(error)
                .push(", result = ")
                .push_bind(result)
                .push(", spend_usd = spend_usd + ")
                .push_bind(spend_usd)
                .push(", updated_at_ms = ")
                .push_bind(now_ms)
                .push(" WHERE job_id = ")
                .push_bind(job_id.to_string())
                .push(" AND seq = ")
                .push_bind(stored_count(seq))
                .push(" AND state = ")
                .push_bind(JobItemState::Running.as_str());
            if item.build().execute(&mut *transaction).await?.rows_affected() == 0 {
                return Ok(false);
            }
            let mut job = QueryBuilder::new("UPDATE jobs SET done = done + ");
            job.push_bind(done)
                .push(", failed = failed + ")
                .push_bind(failed)
                .push(", spend_usd = spend_usd + ")
                .push_bind(spend_usd)
                .push(", updated_at_ms = ")
                .push_bind(now_ms)
                .push(" WHERE id = ")
                .push_bind(job_id.to_string());
            job.build().execute(&mut *transaction).await?;
            transaction.commit().await?;
        });
        Ok(true)
    }

    /// Puts a running item back to pending, to run again later; `false`
    /// when it was not running.
    pub async fn job_item_release(
        &self,
        job_id: &str,
        seq: u64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let released = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("UPDATE job_items SET state = ");
            query
                .push_bind(JobItemState::Pending.as_str())
                .push(", updated_at_ms = ")
                .push_bind(now_ms)
                .push(" WHERE job_id = ")
                .push_bind(job_id.to_string())
                .push(" AND seq = ")
                .push_bind(stored_count(seq))
                .push(" AND state = ")
                .push_bind(JobItemState::Running.as_str());
            query.build().execute(pool).await?.rows_affected()
        });
        Ok(released == 1)
    }

    /// Puts every running item of a job back to pending (items a runner
    /// that stopped had claimed) and says how many.
    pub async fn job_reset_running_items(
        &self,
        job_id: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let reset = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("UPDATE job_items SET state = ");
            query
                .push_bind(JobItemState::Pending.as_str())
                .push(", updated_at_ms = ")
                .push_bind(now_ms)
                .push(" WHERE job_id = ")
                .push_bind(job_id.to_string())
                .push(" AND state = ")
                .push_bind(JobItemState::Running.as_str());
            query.build().execute(pool).await?.rows_affected()
        });
        Ok(reset)
    }

    /// Moves a job to `to`, but only from one of the states in `from`, and
    /// returns it as it now is; `None` when it is not in one of them (or
    /// not there). `stop_reason` replaces the one stored. Running sets when
    /// it started, the first time; an ended state sets when it finished,
    /// any other clears it.
    pub async fn job_set_state(
        &self,
        id: &str,
        from: &[JobState],
        to: JobState,
        stop_reason: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        if from.is_empty() {
            return Ok(None);
        }
        let row = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("UPDATE jobs SET state = ");
            query
                .push_bind(to.as_str())
                .push(", stop_reason = ")
                .push_bind(stop_reason.map(text))
                .push(", updated_at_ms = ")
                .push_bind(now_ms)
                .push(", finished_at_ms = ")
                .push_bind(to.is_ended().then_some(now_ms));
            if to == JobState::Running {
                query.push(", started_at_ms = COALESCE(started_at_ms, ").push_bind(now_ms).push(")");
            }
            query.push(" WHERE id = ").push_bind(id.to_string()).push(" AND state IN (");
            let mut names = query.separated(", ");
            for state in from {
                names.push_bind(state.as_str());
            }
            query.push(format!(") RETURNING {JOB_COLUMNS}"));
            query.build_query_as::<JobColumns>().fetch_optional(pool).await?
        });
        row.map(JobRecord::try_from).transpose()
    }

    /// Marks a running job completed when every item has ended (done or
    /// failed), and returns it; `None` when it is not running or some item
    /// has not ended.
    pub async fn job_complete_if_finished(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        let row = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("UPDATE jobs SET state = ");
            query
                .push_bind(JobState::Completed.as_str())
                .push(", updated_at_ms = ")
                .push_bind(now_ms)
                .push(", finished_at_ms = ")
                .push_bind(now_ms)
                .push(" WHERE id = ")
                .push_bind(id.to_string())
                .push(" AND state = ")
                .push_bind(JobState::Running.as_str())
                .push(format!(" AND done + failed >= total RETURNING {JOB_COLUMNS}"));
            query.build_query_as::<JobColumns>().fetch_optional(pool).await?
        });
        row.map(JobRecord::try_from).transpose()
    }
}
