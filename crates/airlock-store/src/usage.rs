//! A key's usage by day, summed from the request log: requests, errors,
//! tokens, spend and the web origins the requests came from. What a
//! widget's owner reads for its publishable key.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{QueryBuilder, Row};

use crate::database::on_pool;
use crate::spend::day_string;
use crate::{Store, StoreError};

/// One day of a key's usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UsageDay {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub requests: i64,
    /// Requests answered with a status of 400 or more.
    pub errors: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_usd: f64,
    /// Requests by the origin they came from (those no browser sent are
    /// not counted here).
    pub origins: BTreeMap<String, i64>,
}

impl Store {
    /// A key's usage by day from `since_ms` (inclusive) to `until_ms`
    /// (exclusive), days with no request left out, oldest first.
    pub async fn key_usage(
        &self,
        key_id: &str,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> Result<Vec<UsageDay>, StoreError> {
        let mut days: BTreeMap<i64, UsageDay> = BTreeMap::new();
        on_pool!(&self.pools, pool => {
            let mut totals = QueryBuilder::new(
                "SELECT started_at_ms / 86400000 AS day, COUNT(*), \
                 CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(tokens_in), 0) AS BIGINT), CAST(COALESCE(SUM(tokens_out), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) \
                 FROM request_log WHERE api_key_id = ",
            );
            within(&mut totals, key_id, since_ms, until_ms);
            totals.push(" GROUP BY day");
            for row in totals.build().fetch_all(pool).await? {
                let day: i64 = row.try_get(0)?;
                days.insert(day, UsageDay {
                    day: day_string(day),
                    requests: row.try_get(1)?,
                    errors: row.try_get(2)?,
                    tokens_in: row.try_get(3)?,
                    tokens_out: row.try_get(4)?,
                    cost_usd: row.try_get(5)?,
                    origins: BTreeMap::new(),
                });
            }
            let mut origins = QueryBuilder::new(
                "SELECT started_at_ms / 86400000 AS day, origin, COUNT(*) FROM request_log WHERE api_key_id = ",
            );
            within(&mut origins, key_id, since_ms, until_ms);
            origins.push(" AND origin IS NOT NULL GROUP BY day, origin");
            for row in origins.build().fetch_all(pool).await? {
                let day: i64 = row.try_get(0)?;
                if let Some(usage) = days.get_mut(&day) {
                    usage.origins.insert(row.try_get(1)?, row.try_get(2)?);
                }
            }
        });
        Ok(days.into_values().collect())
    }
}

/// ` = key AND started_at_ms >= since [AND started_at_ms < until]`.
fn within<'q, DB: sqlx::Database>(
    query: &mut QueryBuilder<'q, DB>,
    key_id: &str,
    since_ms: i64,
    until_ms: Option<i64>,
) where
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query
        .push_bind(key_id.to_string())
        .push(" AND started_at_ms >= ")
        .push_bind(since_ms);
    if let Some(until) = until_ms {
        query.push(" AND started_at_ms < ").push_bind(until);
    }
}
