//! The request log: one record per HTTP request, from the request path to the
//! `request_log` table, which spend is summed from.
//!
//! Handlers call [`RequestLog::record`], which never waits; one
//! [`RequestLogWriter`] task appends the records in batches and drains the
//! queue on shutdown (the shared pipeline of [`crate::log_writer`]); in a
//! durable log each record is in the write-ahead log ([`crate::wal`]) first.

use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;

use serde::{Deserialize, Serialize};
use sqlx::query::Query;
use sqlx::{Arguments, Database, QueryBuilder, Row};

use crate::database::{column_count, insert_sql, on_pool, optional_text, prepared_chunks, text};
use crate::log_writer::{LogRecord, LogSender, LogWriter};
use crate::receipts::{NewLeaves, ReceiptClaims, append_leaves};
use crate::rollups::{rollup_rows, rollup_upserts, user_rollup_rows, user_rollup_upserts};
use crate::{Backend, Store, StoreError};

/// One request as the gateway saw it. Holds no secrets and no user content.
/// Serialised (as JSON) only into a durable log's write-ahead log; a field
/// missing there (written by an older version) takes its default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(default)]
pub struct RequestRecord {
    pub id: String,
    pub started_at_ms: i64,
    /// `openai` or `gemini`: the protocol the client spoke.
    pub surface: String,
    /// What the client asked for, e.g. `chat.completions` or `generateContent`.
    pub operation: String,
    /// The model the client named (before aliases).
    pub model: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    /// The provider key's id (e.g. `gemini#1`), never the key.
    pub key_id: Option<String>,
    #[sqlx(try_from = "i32")]
    pub status: u16,
    pub latency_us: i64,
    pub ttft_us: Option<i64>,
    /// Prompt tokens, cached ones included.
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    /// The part of `tokens_in` the provider read from its prompt cache,
    /// when it said.
    pub tokens_cached: Option<i64>,
    pub streamed: bool,
    /// `ok`, `error`, `client_disconnected` or `upstream_disconnected`.
    pub outcome: String,
    /// The project and key the client authenticated with, if any.
    pub project_id: Option<String>,
    pub api_key_id: Option<String>,
    /// The end user named by a verified token, if any.
    pub end_user: Option<String>,
    /// What the request cost at list prices, when the model has a price.
    pub cost_usd: Option<f64>,
    /// The conversation a stateful turn belongs to.
    pub conversation_id: Option<String>,
    /// How many of the conversation's oldest turns the history policy left
    /// out of what the provider was sent (for stateful turns).
    pub history_turns_dropped: Option<i64>,
    /// Whether `tokens_in` or `tokens_out` (and so `cost_usd`) are Airlock's
    /// estimate, not the provider's count: a stream the client left before
    /// the provider reported its usage.
    pub tokens_estimated: bool,
    /// What the response cache did: `hit`, `miss` or `bypass`; `None` when
    /// it played no part.
    pub cache: Option<String>,
    /// For a cache hit: what the answer cost when it was made, which this
    /// request did not spend (its own `cost_usd` is 0).
    pub saved_usd: Option<f64>,
    /// The web origin it came from (`https://app.example.com`), when a
    /// browser sent it.
    pub origin: Option<String>,
    /// What its receipt carries beyond this record, when receipts are on:
    /// a record with claims gets a receipt in the same transaction.
    #[sqlx(skip)]
    pub receipt: Option<ReceiptClaims>,
}

/// The request log's sending side, cloned into every request. Never blocks.
pub type RequestLog = LogSender<RequestRecord>;

/// The request log's writer task.
pub type RequestLogWriter = LogWriter<RequestRecord>;

impl LogRecord for RequestRecord {
    const LOG: &'static str = "request log";

    fn insert_batch(
        store: &Store,
        batch: &[Self],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        store.insert_request_records(batch)
    }
}

impl Store {
    /// Appends a batch of request records in one statement (one commit).
    pub async fn insert_request_records(
        &self,
        records: &[RequestRecord],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let postgres = self.backend() == Backend::Postgres;
        on_pool!(&self.pools, pool => {
            let mut tx = pool.begin().await?;
            // Kept prepared, as chunks come in few sizes (a statement per
            // batch size, all kept, held ~80 MB after a load on SQLite).
            // Only what this batch inserted counts from here on: a
            // replayed record is already counted. Nearly always that is
            // every record, as the rows the INSERTs changed say.
            let mut changed = 0;
            for chunk in prepared_chunks(records) {
                changed += insert_records(chunk, Inserted::Counted)?
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            let new: Vec<&RequestRecord> = if changed == records.len() as u64 {
                records.iter().collect()
            } else {
                // Some were stored already (a write-ahead log replayed
                // after a crash): again, reading back the ids inserted.
                tx.rollback().await?;
                tx = pool.begin().await?;
                let mut inserted = HashSet::new();
                for chunk in prepared_chunks(records) {
                    let insert = insert_records(chunk, Inserted::Returned)?;
                    for row in insert.fetch_all(&mut *tx).await? {
                        inserted.insert(row.try_get::<String, _>(0)?);
                    }
                }
                records
                    .iter()
                    .filter(|record| inserted.contains(text(&record.id).as_ref()))
                    .collect()
            };
            let leaves = NewLeaves::of(&new);
            let rows = rollup_rows(&new);
            for mut upsert in rollup_upserts(&rows) {
                upsert.build().execute(&mut *tx).await?;
            }
            let users = user_rollup_rows(&new);
            for mut upsert in user_rollup_upserts(&users) {
                upsert.build().execute(&mut *tx).await?;
            }
            append_leaves!(tx, &leaves, postgres);
            tx.commit().await?;
        });
        Ok(())
    }

    /// The most recent request records, newest first.
    pub async fn recent_request_records(
        &self,
        limit: i64,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM request_log ORDER BY started_at_ms DESC, id DESC LIMIT "
        );
        let records = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(sql);
            query.push_bind(limit);
            query.build_query_as::<RequestRecord>().fetch_all(pool).await?
        });
        Ok(records)
    }
}

pub(crate) const RECORD_COLUMNS: &str = "id, started_at_ms, surface, operation, model, provider, upstream_model, \
     key_id, status, latency_us, ttft_us, tokens_in, tokens_out, streamed, outcome, \
     project_id, api_key_id, end_user, cost_usd, tokens_cached, conversation_id, \
     history_turns_dropped, tokens_estimated, cache, saved_usd, origin";

/// Values bound per record: one per column of [`RECORD_COLUMNS`].
const RECORD_BINDS: usize = column_count(RECORD_COLUMNS);

/// How an INSERT of records says which it inserted.
#[derive(Clone, Copy)]
enum Inserted {
    /// By how many rows it changed.
    Counted,
    /// By the ids it returns (`RETURNING id`): a row per record inserted,
    /// each read back from the database.
    Returned,
}

/// An INSERT of `records` (see [`insert_sql`]), their values bound into
/// arguments sized for them at once (grown bind by bind, a 500-row
/// chunk's 13,000 values were copied over and over into fresh pages),
/// text bound as the record holds it unless it must be changed.
fn insert_records<'q, DB>(
    records: &'q [RequestRecord],
    inserted: Inserted,
) -> Result<Query<'q, DB, DB::Arguments<'q>>, StoreError>
where
    DB: Database,
    DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    Cow<'q, str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Cow<'q, str>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let sql = insert_sql::<DB>(
        "request_log",
        RECORD_COLUMNS,
        match inserted {
            Inserted::Counted => " ON CONFLICT (id) DO NOTHING",
            Inserted::Returned => " ON CONFLICT (id) DO NOTHING RETURNING id",
        },
        records.len(),
    );
    let mut arguments = DB::Arguments::<'q>::default();
    arguments.reserve(records.len() * RECORD_BINDS, 0);
    // Each record's values, in RECORD_COLUMNS' order.
    let mut bind = |record: &'q RequestRecord| -> Result<(), sqlx::error::BoxDynError> {
        arguments.add(text(&record.id))?;
        arguments.add(record.started_at_ms)?;
        arguments.add(text(&record.surface))?;
        arguments.add(text(&record.operation))?;
        arguments.add(optional_text(&record.model))?;
        arguments.add(optional_text(&record.provider))?;
        arguments.add(optional_text(&record.upstream_model))?;
        arguments.add(optional_text(&record.key_id))?;
        arguments.add(i32::from(record.status))?;
        arguments.add(record.latency_us)?;
        arguments.add(record.ttft_us)?;
        arguments.add(record.tokens_in)?;
        arguments.add(record.tokens_out)?;
        arguments.add(record.streamed)?;
        arguments.add(text(&record.outcome))?;
        arguments.add(optional_text(&record.project_id))?;
        arguments.add(optional_text(&record.api_key_id))?;
        arguments.add(optional_text(&record.end_user))?;
        arguments.add(record.cost_usd)?;
        arguments.add(record.tokens_cached)?;
        arguments.add(optional_text(&record.conversation_id))?;
        arguments.add(record.history_turns_dropped)?;
        arguments.add(record.tokens_estimated)?;
        arguments.add(optional_text(&record.cache))?;
        arguments.add(record.saved_usd)?;
        arguments.add(optional_text(&record.origin))?;
        Ok(())
    };
    for record in records {
        bind(record).map_err(|error| StoreError::Corrupt(format!("a request record: {error}")))?;
    }
    Ok(sqlx::query_with(sql, arguments))
}
