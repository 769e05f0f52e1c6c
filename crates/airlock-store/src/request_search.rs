//! Reading the request log back a page at a time: newest first, filtered
//! by time, project, key, model, status and end user (the dashboard's
//! request log), one record by id, and spend by end user.

use serde::Serialize;
use sqlx::{QueryBuilder, Row};

use crate::database::on_pool;
use crate::request_log::{RECORD_COLUMNS, RequestRecord};
use crate::{Store, StoreError};

/// Which statuses a search keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Exactly this status.
    Is(u16),
    /// Below 400.
    Ok,
    /// 400 or more.
    Error,
}

/// A page of the request log: newest first, every filter optional.
#[derive(Debug, Clone, Default)]
pub struct RequestSearch {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub project_id: Option<String>,
    pub api_key_id: Option<String>,
    pub model: Option<String>,
    pub status: Option<StatusFilter>,
    pub end_user: Option<String>,
    /// Only records older than this one (the last of the previous page).
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

impl RequestSearch {
    /// The most records one page holds.
    pub const MAX_LIMIT: i64 = 500;
}

/// One end user's spend in a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserSpend {
    pub end_user: String,
    pub requests: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_usd: f64,
}

impl Store {
    /// A page of request records matching `search`, newest first.
    pub async fn search_requests(
        &self,
        search: &RequestSearch,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        let records = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {RECORD_COLUMNS} FROM request_log WHERE 1 = 1"
            ));
            if let Some(since) = search.since_ms {
                query.push(" AND started_at_ms >= ").push_bind(since);
            }
            if let Some(until) = search.until_ms {
                query.push(" AND started_at_ms < ").push_bind(until);
            }
            if let Some(project) = &search.project_id {
                query.push(" AND project_id = ").push_bind(project.clone());
            }
            if let Some(key) = &search.api_key_id {
                query.push(" AND api_key_id = ").push_bind(key.clone());
            }
            if let Some(model) = &search.model {
                query.push(" AND model = ").push_bind(model.clone());
            }
            if let Some(user) = &search.end_user {
                query.push(" AND end_user = ").push_bind(user.clone());
            }
            match search.status {
                Some(StatusFilter::Is(status)) => {
                    query.push(" AND status = ").push_bind(i32::from(status));
                }
                Some(StatusFilter::Ok) => {
                    query.push(" AND status < 400");
                }
                Some(StatusFilter::Error) => {
                    query.push(" AND status >= 400");
                }
                None => {}
            }
            if let Some((at, id)) = &search.before {
                query
                    .push(" AND (started_at_ms < ")
                    .push_bind(*at)
                    .push(" OR (started_at_ms = ")
                    .push_bind(*at)
                    .push(" AND id < ")
                    .push_bind(id.clone())
                    .push("))");
            }
            query
                .push(" ORDER BY started_at_ms DESC, id DESC LIMIT ")
                .push_bind(search.limit.clamp(0, RequestSearch::MAX_LIMIT));
            query.build_query_as::<RequestRecord>().fetch_all(pool).await?
        });
        Ok(records)
    }

    /// One request record by id.
    pub async fn request_record(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        let record = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {RECORD_COLUMNS} FROM request_log WHERE id = "
            ));
            query.push_bind(id.to_string());
            query.build_query_as::<RequestRecord>().fetch_optional(pool).await?
        });
        Ok(record)
    }

    /// Spend by end user from `since_ms` on (of one project, or all), the
    /// most spent first, at most `limit` users. From a UTC day's start, read
    /// from the users' daily rollups; otherwise from the log (through its
    /// time index: grouping by an expression keeps the planner off the end
    /// user index, which would visit every record that has one).
    pub async fn spend_by_user(
        &self,
        since_ms: i64,
        project_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<UserSpend>, StoreError> {
        let from_rollups = since_ms.rem_euclid(86_400_000) == 0;
        let rows = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(if from_rollups {
                "SELECT end_user, CAST(SUM(requests) AS BIGINT), CAST(SUM(tokens_in) AS BIGINT), \
                 CAST(SUM(tokens_out) AS BIGINT), CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS cost \
                 FROM request_user_rollups WHERE bucket_ms >= "
            } else {
                "SELECT end_user || '' AS user_name, CAST(COUNT(*) AS BIGINT), \
                 CAST(COALESCE(SUM(tokens_in), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(tokens_out), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) AS cost \
                 FROM request_log WHERE end_user IS NOT NULL AND started_at_ms >= "
            });
            query.push_bind(since_ms);
            if let Some(project) = project_id {
                query.push(" AND project_id = ").push_bind(project.to_string());
            }
            query
                .push(" GROUP BY 1 ORDER BY cost DESC, 1 LIMIT ")
                .push_bind(limit);
            query
                .build()
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(UserSpend {
                        end_user: row.try_get(0)?,
                        requests: row.try_get(1)?,
                        tokens_in: row.try_get(2)?,
                        tokens_out: row.try_get(3)?,
                        cost_usd: row.try_get(4)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        Ok(rows)
    }
}
