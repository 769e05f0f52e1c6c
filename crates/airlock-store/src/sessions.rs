//! Realtime (WebSocket voice) sessions: one record per session, with its
//! transcript, in the `realtime_sessions` table.
//!
//! The gateway hands each finished session to [`SessionLog::record`], which
//! never waits; one [`SessionLogWriter`] task appends them in batches and
//! drains the queue on shutdown (the shared pipeline of
//! [`crate::log_writer`]; in a durable log, behind a write-ahead log). The
//! admin API lists sessions newest first, and reads one with its
//! transcript. A session's cost is not counted in spend:
//! the gateway also writes a request-log record for it, and spend sums that.

use std::future::Future;

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, QueryBuilder, Row};

use crate::database::{ROWS_PER_STATEMENT, from_json, on_pool, optional_text, text, to_json};
use crate::log_writer::{LogRecord, LogSender, LogWriter};
use crate::{SealedColumn, Store, StoreError};

/// One realtime session as the gateway saw it. Holds no secrets. The
/// transcript is user content: it lives only in the database and the admin
/// API (and, in a durable log, in the write-ahead log until it is in the
/// database). A field missing from a WAL record takes its default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(default)]
pub struct SessionRecord {
    /// A UUIDv7, so ids sort by time.
    pub id: String,
    /// `gemini_live` or `openai_realtime`: the protocol the client spoke.
    pub surface: String,
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    /// The project and key the client authenticated with, if any.
    pub project_id: Option<String>,
    pub api_key_id: Option<String>,
    /// The end user named by a verified token, if any.
    pub end_user: Option<String>,
    /// The model the client named (before aliases).
    pub model: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    /// The provider key's id (e.g. `gemini#0`), never the key.
    pub key_id: Option<String>,
    /// The WebSocket close code sent to the client.
    #[sqlx(try_from = "i32")]
    pub close_code: u16,
    /// Why the session ended, as a machine name: `client_closed`,
    /// `upstream_closed`, `idle_timeout`, `max_duration`, `message_rate`,
    /// `frame_too_large`, `invalid_message`, `upstream_error`, `shutdown`,
    /// `model_not_allowed`, ...
    pub close_reason: String,
    /// The close frame's human-readable reason.
    pub close_detail: Option<String>,
    /// Frames and bytes from the client to the provider.
    pub frames_in: i64,
    /// Frames and bytes from the provider to the client.
    pub frames_out: i64,
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    /// Server-side tool webhook calls made, and how many of them failed.
    pub tool_calls: i64,
    pub tool_failures: i64,
    /// What the session cost at list prices, when the model has a price.
    pub cost_usd: Option<f64>,
    /// What was said, in order. Empty in listings.
    #[sqlx(skip)]
    pub transcript: Vec<TranscriptEntry>,
}

/// One utterance of a session's transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    pub at_ms: i64,
    /// `user` or `model`.
    pub role: String,
    pub text: String,
}

/// Which sessions to list: newest first, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub project_id: Option<String>,
    pub api_key_id: Option<String>,
    /// Only sessions started at or after this moment (milliseconds since the epoch).
    pub since_ms: Option<i64>,
    /// At most this many (0 lists none), capped at [`SessionFilter::MAX_LIMIT`].
    pub limit: u32,
    /// Only sessions older than this one: pass the last id of a page to get
    /// the next.
    pub before_id: Option<String>,
}

impl SessionFilter {
    /// The most sessions one listing returns.
    pub const MAX_LIMIT: u32 = 1000;
}

/// The session log's sending side, cloned into every session. Never blocks.
pub type SessionLog = LogSender<SessionRecord>;

/// The session log's writer task.
pub type SessionLogWriter = LogWriter<SessionRecord>;

impl LogRecord for SessionRecord {
    const LOG: &'static str = "session log";

    fn insert_batch(
        store: &Store,
        batch: &[Self],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        store.insert_session_records(batch)
    }
}

/// Every column but the transcript, in [`SessionRecord`]'s field names.
const SESSION_COLUMNS: &str = "id, surface, started_at_ms, ended_at_ms, project_id, api_key_id, \
     end_user, model, provider, upstream_model, key_id, close_code, close_reason, close_detail, \
     frames_in, frames_out, bytes_in, bytes_out, tokens_in, tokens_out, tool_calls, tool_failures, \
     cost_usd";

impl Store {
    /// Appends a batch of session records in one transaction. Records already
    /// stored (by id) are left as they are, so a retried batch is harmless.
    /// PostgreSQL text cannot hold NUL, so NUL characters in text fields are
    /// stored as U+FFFD on either engine (the transcript's JSON escapes them).
    pub async fn insert_session_records(
        &self,
        records: &[SessionRecord],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let transcripts: Vec<String> = records
            .iter()
            .map(|r| self.seal(SealedColumn::Transcript, to_json(&r.transcript)))
            .collect();
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            for (chunk, transcripts) in records
                .chunks(ROWS_PER_STATEMENT)
                .zip(transcripts.chunks(ROWS_PER_STATEMENT))
            {
                let mut query = QueryBuilder::new(format!(
                    "INSERT INTO realtime_sessions ({SESSION_COLUMNS}, transcript) "
                ));
                query.push_values(chunk.iter().zip(transcripts), |mut row, (record, transcript)| {
                    row.push_bind(text(&record.id))
                        .push_bind(text(&record.surface))
                        .push_bind(record.started_at_ms)
                        .push_bind(record.ended_at_ms)
                        .push_bind(optional_text(&record.project_id))
                        .push_bind(optional_text(&record.api_key_id))
                        .push_bind(optional_text(&record.end_user))
                        .push_bind(optional_text(&record.model))
                        .push_bind(optional_text(&record.provider))
                        .push_bind(optional_text(&record.upstream_model))
                        .push_bind(optional_text(&record.key_id))
                        .push_bind(i32::from(record.close_code))
                        .push_bind(text(&record.close_reason))
                        .push_bind(optional_text(&record.close_detail))
                        .push_bind(record.frames_in)
                        .push_bind(record.frames_out)
                        .push_bind(record.bytes_in)
                        .push_bind(record.bytes_out)
                        .push_bind(record.tokens_in)
                        .push_bind(record.tokens_out)
                        .push_bind(record.tool_calls)
                        .push_bind(record.tool_failures)
                        .push_bind(record.cost_usd)
                        .push_bind(transcript.clone());
                });
                query.push(" ON CONFLICT (id) DO NOTHING");
                // Not kept prepared: each batch size is another statement.
                query.build().persistent(false).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Sessions matching the filter, newest (highest id) first, without
    /// their transcripts.
    pub async fn sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionRecord>, StoreError> {
        let limit = i64::from(filter.limit.min(SessionFilter::MAX_LIMIT));
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {SESSION_COLUMNS} FROM realtime_sessions"));
            let mut joiner = " WHERE ";
            if let Some(project_id) = &filter.project_id {
                query.push(joiner).push("project_id = ").push_bind(project_id.clone());
                joiner = " AND ";
            }
            if let Some(api_key_id) = &filter.api_key_id {
                query.push(joiner).push("api_key_id = ").push_bind(api_key_id.clone());
                joiner = " AND ";
            }
            if let Some(since_ms) = filter.since_ms {
                query.push(joiner).push("started_at_ms >= ").push_bind(since_ms);
                joiner = " AND ";
            }
            if let Some(before_id) = &filter.before_id {
                query.push(joiner).push("id < ").push_bind(before_id.clone());
            }
            query.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| SessionRecord::from_row(row).map_err(StoreError::from))
                .collect()
        })
    }

    /// One session, with its transcript.
    pub async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {SESSION_COLUMNS}, transcript FROM realtime_sessions WHERE id = "
            ));
            query.push_bind(id.to_string());
            let Some(row) = query.build().fetch_optional(pool).await? else {
                return Ok(None);
            };
            let mut session = SessionRecord::from_row(&row)?;
            let transcript = self.unseal(SealedColumn::Transcript, row.try_get::<String, _>("transcript")?)?;
            session.transcript = from_json(&transcript)?;
            Ok(Some(session))
        })
    }
}
