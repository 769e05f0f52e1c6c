//! Retention: rows of a project's user data older than its policy allows,
//! deleted a bounded batch at a time (each batch one short statement, so
//! a sweep never holds the database long). The sweep that calls this, and
//! the policy, are the gateway's.

use sqlx::QueryBuilder;

use crate::database::on_pool;
use crate::{Store, StoreError};

/// A kind of user data a project keeps for a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainedKind {
    /// Logged request and answer bodies (`request_content`).
    Content,
    /// Request records (`request_log`).
    RequestLog,
    /// Realtime sessions' records and transcripts (`realtime_sessions`).
    Transcripts,
}

impl RetainedKind {
    pub const ALL: [RetainedKind; 3] = [
        RetainedKind::Content,
        RetainedKind::RequestLog,
        RetainedKind::Transcripts,
    ];

    /// Its name, as metrics label it.
    pub fn name(self) -> &'static str {
        match self {
            RetainedKind::Content => "content",
            RetainedKind::RequestLog => "request_log",
            RetainedKind::Transcripts => "transcripts",
        }
    }

    /// Its table and the column its age is read from.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            RetainedKind::Content => ("request_content", "created_at_ms"),
            RetainedKind::RequestLog => ("request_log", "started_at_ms"),
            RetainedKind::Transcripts => ("realtime_sessions", "started_at_ms"),
        }
    }
}

impl Store {
    /// Deletes at most `limit` rows of `kind` of a project from before
    /// `before_ms`; how many went (fewer than `limit`: none is left).
    pub async fn delete_expired(
        &self,
        kind: RetainedKind,
        project_id: &str,
        before_ms: i64,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let (table, age) = kind.table();
        let deleted = on_pool!(&self.pools, pool => {
            // Table and column names come from the enum above, never input.
            let mut query = QueryBuilder::new(format!(
                "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE project_id = "
            ));
            query
                .push_bind(project_id.to_string())
                .push(format!(" AND {age} < "))
                .push_bind(before_ms)
                .push(" LIMIT ")
                .push_bind(i64::from(limit))
                .push(")");
            query.build().execute(pool).await?.rows_affected()
        });
        Ok(deleted)
    }
}
