//! The request log rolled up: per minute, quarter hour and day, per
//! project, key, model and provider, the requests, errors, tokens, spend,
//! and latencies and times to first token counted in fixed buckets. What
//! the dashboard's charts and spend tables read, so a month's chart sums a
//! few thousand rows however many requests there were.
//!
//! Beside them, each end user's requests, tokens and spend per UTC day and
//! project (`request_user_rollups`): personal data, deleted with the
//! user's request records (see `user_data`).
//!
//! Written in the request log's own transaction, from the records the
//! batch really inserted (a replayed record is counted once). The store
//! fills the rollups from the request log once, when it first opens a
//! database that has a log but no rollups yet.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Row};

use crate::database::{on_pool, text};
use crate::request_log::RequestRecord;
use crate::{Store, StoreError};

/// The spans rolled up, in seconds.
pub const SPANS_S: [i64; 3] = [60, 900, 86_400];

/// How many latency buckets a rollup counts.
pub const BUCKETS: usize = 20;

/// The exclusive upper bound of each bucket but the last (which is open),
/// in microseconds.
pub const BUCKET_BOUNDS_US: [i64; BUCKETS - 1] = [
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 300_000, 500_000, 750_000,
    1_000_000, 1_500_000, 2_000_000, 3_000_000, 5_000_000, 10_000_000, 20_000_000, 60_000_000,
];

/// The bucket a duration falls in.
pub fn bucket_of(us: i64) -> usize {
    BUCKET_BOUNDS_US
        .iter()
        .position(|bound| us < *bound)
        .unwrap_or(BUCKETS - 1)
}

/// Requests, errors, tokens and spend.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub requests: i64,
    /// Requests answered with a status of 400 or more.
    pub errors: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_usd: f64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.cost_usd += other.cost_usd;
    }
}

/// Counts, and latencies and times to first token by bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub counts: Counts,
    pub latency: [i64; BUCKETS],
    pub ttft: [i64; BUCKETS],
}

impl Tally {
    fn count(&mut self, record: &RequestRecord) {
        self.counts.add(&Counts {
            requests: 1,
            errors: i64::from(record.status >= 400),
            tokens_in: record.tokens_in.unwrap_or(0),
            tokens_out: record.tokens_out.unwrap_or(0),
            cost_usd: record.cost_usd.unwrap_or(0.0),
        });
        self.latency[bucket_of(record.latency_us)] += 1;
        if let Some(ttft) = record.ttft_us {
            self.ttft[bucket_of(ttft)] += 1;
        }
    }

    /// Adds another tally to this one.
    pub fn merge(&mut self, other: &Tally) {
        self.counts.add(&other.counts);
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency) {
            *mine += theirs;
        }
        for (mine, theirs) in self.ttft.iter_mut().zip(other.ttft) {
            *mine += theirs;
        }
    }
}

/// The `q`-quantile (0 to 1) of a bucketed distribution, in milliseconds,
/// interpolated linearly within its bucket (the open last bucket answers
/// its lower bound); `None` when nothing was counted.
pub fn quantile_ms(buckets: &[i64; BUCKETS], q: f64) -> Option<f64> {
    let total: i64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0i64;
    for (index, count) in buckets.iter().enumerate() {
        let count = *count;
        if count > 0 && (below + count) as f64 >= rank {
            let lower = if index == 0 {
                0
            } else {
                BUCKET_BOUNDS_US[index - 1]
            };
            let Some(upper) = BUCKET_BOUNDS_US.get(index) else {
                return Some(lower as f64 / 1000.0);
            };
            let within = ((rank - below as f64) / count as f64).clamp(0.0, 1.0);
            return Some((lower as f64 + within * (upper - lower) as f64) / 1000.0);
        }
        below += count;
    }
    None
}

/// What a rollup row is grouped by; `''` stands for none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RollupKey {
    span_s: i64,
    bucket_ms: i64,
    project_id: String,
    api_key_id: String,
    model: String,
    provider: String,
}

/// What a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    Project,
    Key,
    Model,
    Provider,
}

impl Dimension {
    fn column(self) -> &'static str {
        match self {
            Dimension::Project => "project_id",
            Dimension::Key => "api_key_id",
            Dimension::Model => "model",
            Dimension::Provider => "provider",
        }
    }
}

/// Which rollups to read: one span's buckets from `since_ms` (inclusive)
/// to `until_ms` (exclusive), for every project or one.
#[derive(Debug, Clone)]
pub struct RollupRange {
    pub span_s: i64,
    pub since_ms: i64,
    pub until_ms: i64,
    pub project_id: Option<String>,
}

/// The columns a rollup row counts, in order.
fn count_columns() -> Vec<String> {
    let mut columns: Vec<String> = ["requests", "errors", "tokens_in", "tokens_out", "cost_usd"]
        .map(String::from)
        .into();
    columns.extend((0..BUCKETS).map(|i| format!("lat_{i}")));
    columns.extend((0..BUCKETS).map(|i| format!("ttft_{i}")));
    columns
}

/// A rollup's text column as the request log stores it (NUL, which
/// PostgreSQL text cannot hold, as U+FFFD), `''` for none.
fn stored(value: &Option<String>) -> String {
    value.as_deref().map(text).unwrap_or_default().into_owned()
}

/// The records' tallies by rollup row.
fn tallies(records: &[&RequestRecord]) -> HashMap<RollupKey, Tally> {
    let mut rows: HashMap<RollupKey, Tally> = HashMap::new();
    for record in records {
        for span_s in SPANS_S {
            let span_ms = span_s * 1000;
            let key = RollupKey {
                span_s,
                bucket_ms: record.started_at_ms.div_euclid(span_ms) * span_ms,
                project_id: stored(&record.project_id),
                api_key_id: stored(&record.api_key_id),
                model: stored(&record.model),
                provider: stored(&record.provider),
            };
            rows.entry(key).or_default().count(record);
        }
    }
    rows
}

/// An end user's day in a project, and what it counts.
pub(crate) type UserDay = ((i64, String, String), Counts);

/// The end users' days `records` add to (records without an end user add
/// to none).
pub(crate) fn user_rollup_rows(records: &[&RequestRecord]) -> Vec<UserDay> {
    let mut rows: HashMap<(i64, String, String), Counts> = HashMap::new();
    for record in records {
        let Some(user) = &record.end_user else {
            continue;
        };
        let day = record.started_at_ms.div_euclid(DAY_MS) * DAY_MS;
        let project = stored(&record.project_id);
        let mut tally = Tally::default();
        tally.count(record);
        rows.entry((day, project, text(user).into_owned()))
            .or_default()
            .add(&tally.counts);
    }
    rows.into_iter().collect()
}

/// The upserts adding end users' days to their rollups.
pub(crate) fn user_rollup_upserts<'q, DB>(rows: &'q [UserDay]) -> Vec<QueryBuilder<'q, DB>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    rows.chunks(ROWS_PER_UPSERT)
        .map(|chunk| {
            let mut query = QueryBuilder::<DB>::new(
                "INSERT INTO request_user_rollups (bucket_ms, project_id, end_user, requests, tokens_in, tokens_out, cost_usd) ",
            );
            query.push_values(chunk, |mut row, ((day, project, user), counts)| {
                row.push_bind(*day)
                    .push_bind(project.clone())
                    .push_bind(user.clone())
                    .push_bind(counts.requests)
                    .push_bind(counts.tokens_in)
                    .push_bind(counts.tokens_out)
                    .push_bind(counts.cost_usd);
            });
            query.push(
                " ON CONFLICT (bucket_ms, project_id, end_user) DO UPDATE SET \
                 requests = request_user_rollups.requests + excluded.requests, \
                 tokens_in = request_user_rollups.tokens_in + excluded.tokens_in, \
                 tokens_out = request_user_rollups.tokens_out + excluded.tokens_out, \
                 cost_usd = request_user_rollups.cost_usd + excluded.cost_usd",
            );
            query
        })
        .collect()
}

/// The SELECT that rolls every end user's days up from the whole log.
const REBUILD_USERS_SQL: &str = "INSERT INTO request_user_rollups \
     (bucket_ms, project_id, end_user, requests, tokens_in, tokens_out, cost_usd) \
     SELECT (started_at_ms / 86400000) * 86400000, COALESCE(project_id, ''), end_user, \
     CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(tokens_in), 0) AS BIGINT), \
     CAST(COALESCE(SUM(tokens_out), 0) AS BIGINT), \
     CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) \
     FROM request_log WHERE end_user IS NOT NULL GROUP BY 1, 2, 3";

const DAY_MS: i64 = 86_400_000;

/// Rows per upsert statement: 51 binds each, under SQLite's limit.
const ROWS_PER_UPSERT: usize = 200;

/// The rollup rows `records` add to, grouped (each row once, as one
/// upsert statement may touch a row only once).
pub(crate) fn rollup_rows(records: &[&RequestRecord]) -> Vec<(RollupKey, Tally)> {
    tallies(records).into_iter().collect()
}

/// The upserts adding `rows` to the rollups, for the caller to run in the
/// request log's transaction.
pub(crate) fn rollup_upserts<'q, DB>(rows: &'q [(RollupKey, Tally)]) -> Vec<QueryBuilder<'q, DB>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let columns = count_columns();
    let updates = columns
        .iter()
        .map(|column| format!("{column} = request_rollups.{column} + excluded.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    rows.chunks(ROWS_PER_UPSERT)
        .map(|chunk| {
            let mut query = QueryBuilder::<DB>::new(format!(
                "INSERT INTO request_rollups (span_s, bucket_ms, project_id, api_key_id, model, provider, {}) ",
                columns.join(", ")
            ));
            query.push_values(chunk, |mut row, (key, tally)| {
                row.push_bind(key.span_s)
                    .push_bind(key.bucket_ms)
                    .push_bind(key.project_id.clone())
                    .push_bind(key.api_key_id.clone())
                    .push_bind(key.model.clone())
                    .push_bind(key.provider.clone())
                    .push_bind(tally.counts.requests)
                    .push_bind(tally.counts.errors)
                    .push_bind(tally.counts.tokens_in)
                    .push_bind(tally.counts.tokens_out)
                    .push_bind(tally.counts.cost_usd);
                for count in tally.latency.iter().chain(tally.ttft.iter()) {
                    row.push_bind(*count);
                }
            });
            query.push(format!(
                " ON CONFLICT (span_s, bucket_ms, project_id, api_key_id, model, provider) DO UPDATE SET {updates}"
            ));
            query
        })
        .collect()
}

/// `SUM(CASE WHEN {column} in bucket i THEN 1 ELSE 0 END)` for every bucket.
fn bucket_sums(column: &str) -> Vec<String> {
    (0..BUCKETS)
        .map(|i| {
            let lower = if i == 0 { 0 } else { BUCKET_BOUNDS_US[i - 1] };
            let within = match BUCKET_BOUNDS_US.get(i) {
                Some(upper) if i == 0 => format!("{column} < {upper}"),
                Some(upper) => format!("{column} >= {lower} AND {column} < {upper}"),
                None => format!("{column} >= {lower}"),
            };
            format!("CAST(COALESCE(SUM(CASE WHEN {within} THEN 1 ELSE 0 END), 0) AS BIGINT)")
        })
        .collect()
}

/// The SELECT that rolls the whole request log up, in `count_columns`' order.
fn rebuild_sql() -> String {
    let spans = SPANS_S
        .iter()
        .map(|span| format!("SELECT {span} AS span_s"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut sums = vec![
        "CAST(COUNT(*) AS BIGINT)".to_string(),
        "CAST(COALESCE(SUM(CASE WHEN r.status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT)".into(),
        "CAST(COALESCE(SUM(r.tokens_in), 0) AS BIGINT)".into(),
        "CAST(COALESCE(SUM(r.tokens_out), 0) AS BIGINT)".into(),
        "CAST(COALESCE(SUM(r.cost_usd), 0) AS DOUBLE PRECISION)".into(),
    ];
    sums.extend(bucket_sums("r.latency_us"));
    sums.extend(bucket_sums("r.ttft_us"));
    format!(
        "INSERT INTO request_rollups (span_s, bucket_ms, project_id, api_key_id, model, provider, {}) \
         SELECT s.span_s, (r.started_at_ms / (s.span_s * 1000)) * (s.span_s * 1000), \
         COALESCE(r.project_id, ''), COALESCE(r.api_key_id, ''), COALESCE(r.model, ''), \
         COALESCE(r.provider, ''), {} FROM request_log r CROSS JOIN ({spans}) s \
         GROUP BY 1, 2, 3, 4, 5, 6",
        count_columns().join(", "),
        sums.join(", ")
    )
}

/// `WHERE span_s = … AND bucket_ms >= … AND bucket_ms < … [AND project_id = …]`.
fn push_range<'q, DB: sqlx::Database>(query: &mut QueryBuilder<'q, DB>, range: &'q RollupRange)
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query
        .push(" FROM request_rollups WHERE span_s = ")
        .push_bind(range.span_s)
        .push(" AND bucket_ms >= ")
        .push_bind(range.since_ms)
        .push(" AND bucket_ms < ")
        .push_bind(range.until_ms);
    if let Some(project) = &range.project_id {
        query.push(" AND project_id = ").push_bind(project.clone());
    }
}

/// `SUM(column)` of every counted column, in `count_columns`' order.
/// (`with_buckets`: the latency and time-to-first-token buckets too; else
/// the five counts alone).
fn summed_columns(with_buckets: bool) -> String {
    let columns = count_columns();
    let wanted = if with_buckets { columns.len() } else { 5 };
    columns[..wanted]
        .iter()
        .map(|column| {
            let kind = if column == "cost_usd" {
                "DOUBLE PRECISION"
            } else {
                "BIGINT"
            };
            format!("CAST(COALESCE(SUM({column}), 0) AS {kind})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a row's summed columns from position `at` on.
fn tally_from_row<R: Row>(row: &R, at: usize, with_buckets: bool) -> Result<Tally, StoreError>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    let mut tally = Tally {
        counts: Counts {
            requests: row.try_get(at)?,
            errors: row.try_get(at + 1)?,
            tokens_in: row.try_get(at + 2)?,
            tokens_out: row.try_get(at + 3)?,
            cost_usd: row.try_get(at + 4)?,
        },
        ..Tally::default()
    };
    for i in (0..BUCKETS).filter(|_| with_buckets) {
        tally.latency[i] = row.try_get(at + 5 + i)?;
        tally.ttft[i] = row.try_get(at + 5 + BUCKETS + i)?;
    }
    Ok(tally)
}

impl Store {
    /// Fills the rollups from the request log, once: the first store to
    /// open a database after the rollups were added does it, in one
    /// transaction, and marks them built.
    pub(crate) async fn build_rollups_once(&self) -> Result<(), StoreError> {
        self.refill_rollups(true).await
    }

    /// Rolls the whole request log up again, in place of the rollups kept
    /// (what opening an older database does once).
    pub async fn rebuild_rollups(&self) -> Result<(), StoreError> {
        self.refill_rollups(false).await
    }

    /// Replaces the rollups with the whole log's, in one transaction that
    /// marks them built; `only_if_unbuilt`: unless they already were.
    async fn refill_rollups(&self, only_if_unbuilt: bool) -> Result<(), StoreError> {
        let sql = rebuild_sql();
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                "UPDATE request_rollups_state SET built = TRUE WHERE id = 1 AND built = FALSE",
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 1 || !only_if_unbuilt {
                for table in ["request_rollups", "request_user_rollups"] {
                    sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
                }
                sqlx::query(&sql).execute(&mut *tx).await?;
                sqlx::query(REBUILD_USERS_SQL).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The range's tallies by bucket, oldest first (buckets with no
    /// request left out).
    pub async fn rollup_series(
        &self,
        range: &RollupRange,
    ) -> Result<Vec<(i64, Tally)>, StoreError> {
        let series = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT bucket_ms, {}", summed_columns(true)));
            push_range(&mut query, range);
            query.push(" GROUP BY bucket_ms ORDER BY bucket_ms");
            query
                .build()
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| Ok((row.try_get(0)?, tally_from_row(row, 1, true)?)))
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        Ok(series)
    }

    /// The range's counts by one dimension, the most requested first
    /// (`None`: requests without one, such as unauthenticated ones).
    pub async fn rollup_breakdown(
        &self,
        range: &RollupRange,
        by: Dimension,
    ) -> Result<Vec<(Option<String>, Counts)>, StoreError> {
        let groups = self.breakdown(range, by, false).await?;
        Ok(groups
            .into_iter()
            .map(|(group, tally)| (group, tally.counts))
            .collect())
    }

    /// The range's tallies (latency buckets included) by one dimension,
    /// the most requested first: what a provider's latency is read from.
    pub async fn rollup_breakdown_tallies(
        &self,
        range: &RollupRange,
        by: Dimension,
    ) -> Result<Vec<(Option<String>, Tally)>, StoreError> {
        self.breakdown(range, by, true).await
    }

    async fn breakdown(
        &self,
        range: &RollupRange,
        by: Dimension,
        with_buckets: bool,
    ) -> Result<Vec<(Option<String>, Tally)>, StoreError> {
        let column = by.column();
        let columns = summed_columns(with_buckets);
        let rows = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {column}, {columns}"));
            push_range(&mut query, range);
            query.push(format!(" GROUP BY {column} ORDER BY 2 DESC, 1"));
            query
                .build()
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    let group: String = row.try_get(0)?;
                    let tally = tally_from_row(row, 1, with_buckets)?;
                    Ok(((!group.is_empty()).then_some(group), tally))
                })
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_the_bucket_below_their_bound() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(999), 0);
        assert_eq!(bucket_of(1_000), 1);
        assert_eq!(bucket_of(59_999_999), BUCKETS - 2);
        assert_eq!(bucket_of(600_000_000), BUCKETS - 1);
    }

    #[test]
    fn quantiles_interpolate_within_their_bucket() {
        let mut buckets = [0i64; BUCKETS];
        assert_eq!(quantile_ms(&buckets, 0.5), None);
        // 100 requests between 100 and 200 ms: the median is 150 ms.
        buckets[bucket_of(150_000)] = 100;
        assert_eq!(quantile_ms(&buckets, 0.5), Some(150.0));
        assert_eq!(quantile_ms(&buckets, 0.99), Some(199.0));
        // One slow request past the last bound: the p100 is its lower bound.
        buckets[BUCKETS - 1] = 1;
        assert_eq!(quantile_ms(&buckets, 1.0), Some(60_000.0));
    }

    #[test]
    fn the_rebuild_counts_each_bucket_as_the_writer_does() {
        let sql = rebuild_sql();
        assert!(sql.contains("r.latency_us < 1000 THEN"));
        assert!(sql.contains("r.latency_us >= 1000 AND r.latency_us < 2000 THEN"));
        assert!(sql.contains("r.ttft_us >= 60000000 THEN"));
        assert_eq!(sql.matches("CASE WHEN r.latency_us").count(), BUCKETS);
    }
}
