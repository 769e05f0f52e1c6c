//! Spend: what requests cost, summed from the request log by day, project,
//! key, model and end user.

use serde::Serialize;
use sqlx::{QueryBuilder, Row};

use crate::database::on_pool;
use crate::{Store, StoreError};

const DAY_MS: i64 = 86_400_000;

/// What to sum.
#[derive(Debug, Clone, Default)]
pub struct SpendFilter {
    pub project_id: Option<String>,
    pub api_key_id: Option<String>,
    /// Inclusive start and exclusive end, in milliseconds since the epoch.
    pub since_ms: i64,
    pub until_ms: Option<i64>,
}

/// One group's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendRow {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub project_id: Option<String>,
    pub api_key_id: Option<String>,
    pub model: Option<String>,
    pub end_user: Option<String>,
    pub requests: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// The part of `tokens_in` read from the providers' prompt caches.
    pub tokens_cached: i64,
    pub cost_usd: f64,
}

/// Whose spend a budget counts.
#[derive(Debug, Clone, Copy)]
pub enum SpendScope<'a> {
    Project(&'a str),
    Key(&'a str),
}

/// The rows' cost summed (`0.0`, not `-0.0`, when there are none: an
/// empty float sum is negative zero).
pub fn total_cost_usd(rows: &[SpendRow]) -> f64 {
    rows.iter().fold(0.0, |total, row| total + row.cost_usd)
}

impl Store {
    /// Spend grouped by day, project, key, model and end user.
    pub async fn spend(&self, filter: &SpendFilter) -> Result<Vec<SpendRow>, StoreError> {
        let rows = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT started_at_ms / 86400000 AS day, project_id, api_key_id, upstream_model, end_user, \
                 COUNT(*), CAST(COALESCE(SUM(tokens_in), 0) AS BIGINT), CAST(COALESCE(SUM(tokens_out), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION), CAST(COALESCE(SUM(tokens_cached), 0) AS BIGINT) \
                 FROM request_log WHERE started_at_ms >= ",
            );
            query.push_bind(filter.since_ms);
            if let Some(until) = filter.until_ms {
                query.push(" AND started_at_ms < ").push_bind(until);
            }
            if let Some(project) = &filter.project_id {
                query.push(" AND project_id = ").push_bind(project.clone());
            }
            if let Some(key) = &filter.api_key_id {
                query.push(" AND api_key_id = ").push_bind(key.clone());
            }
            query.push(
                " GROUP BY day, project_id, api_key_id, upstream_model, end_user \
                 ORDER BY day, project_id, api_key_id, upstream_model, end_user",
            );
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(SpendRow {
                        day: day_string(row.try_get::<i64, _>(0)?),
                        project_id: row.try_get(1)?,
                        api_key_id: row.try_get(2)?,
                        model: row.try_get(3)?,
                        end_user: row.try_get(4)?,
                        requests: row.try_get(5)?,
                        tokens_in: row.try_get(6)?,
                        tokens_out: row.try_get(7)?,
                        cost_usd: row.try_get(8)?,
                        tokens_cached: row.try_get(9)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        Ok(rows)
    }

    /// Total cost recorded for a project or key since a moment.
    pub async fn spent_since(
        &self,
        scope: SpendScope<'_>,
        since_ms: i64,
    ) -> Result<f64, StoreError> {
        let (column, id) = match scope {
            SpendScope::Project(id) => ("project_id", id),
            SpendScope::Key(id) => ("api_key_id", id),
        };
        let total = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) FROM request_log WHERE {column} = "
            ));
            query.push_bind(id.to_string()).push(" AND started_at_ms >= ").push_bind(since_ms);
            query.build().fetch_one(pool).await?.try_get::<f64, _>(0)?
        });
        Ok(total)
    }
}

/// `YYYY-MM-DD` for a day number since the epoch (proleptic Gregorian, UTC).
pub fn day_string(day: i64) -> String {
    utc_date(day * DAY_MS).to_string()
}

/// Start of the UTC day containing `ms`.
pub fn day_start_ms(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// Start of the UTC month containing `ms`.
pub fn month_start_ms(ms: i64) -> i64 {
    let day_of_month = i64::from(utc_date(ms).day());
    day_start_ms(ms) - (day_of_month - 1) * DAY_MS
}

/// The UTC calendar date of `ms` (clamped to the calendar's range).
fn utc_date(ms: i64) -> jiff::civil::Date {
    let timestamp = jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    jiff::tz::Offset::UTC.to_datetime(timestamp).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_of_no_rows_is_positive_zero() {
        let total = total_cost_usd(&[]);
        assert!(total == 0.0 && total.is_sign_positive());
        assert_eq!(serde_json::json!(total).to_string(), "0.0");
        let row = |cost_usd| SpendRow {
            day: "2026-01-01".into(),
            project_id: None,
            api_key_id: None,
            model: None,
            end_user: None,
            requests: 1,
            tokens_in: 0,
            tokens_out: 0,
            tokens_cached: 0,
            cost_usd,
        };
        assert_eq!(total_cost_usd(&[row(0.25), row(0.5)]), 0.75);
    }

    #[test]
    fn formats_days_and_finds_period_starts() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(20_414), "2025-11-22");
        assert_eq!(day_string(11_016), "2000-02-29");
        let ms = 20_414 * DAY_MS + 5_000;
        assert_eq!(day_start_ms(ms), 20_414 * DAY_MS);
        assert_eq!(day_string(month_start_ms(ms) / DAY_MS), "2025-11-01");
    }
}
