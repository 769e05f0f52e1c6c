//! The request log: one durable pipeline from the request path to the database.
//!
//! Handlers call [`RequestLog::record`], which never waits: the record goes into
//! a bounded channel. One writer task drains the channel and appends records in
//! batches (group commit), retrying a failed batch before giving up on it. On
//! shutdown the writer drains everything still queued before it returns.
//! A full queue drops the record and counts it, so a slow database can slow
//! nothing but the log.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Store;

/// One request as the gateway saw it. Holds no secrets and no user content.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
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
}

/// Counters of the log pipeline, for health and metrics.
#[derive(Debug, Default)]
pub struct LogWriterStats {
    pub written: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_write_failed: AtomicU64,
}

/// The sending side, cloned into every request. Never blocks.
#[derive(Clone)]
pub struct RequestLog {
    sender: mpsc::Sender<RequestRecord>,
    stats: Arc<LogWriterStats>,
}

impl RequestLog {
    /// Queues a record for the writer; drops (and counts) it if the queue is full.
    pub fn record(&self, record: RequestRecord) {
        if let Err(error) = self.sender.try_send(record) {
            self.stats
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "request log queue full: record dropped");
        }
    }

    pub fn stats(&self) -> &LogWriterStats {
        &self.stats
    }

    /// Records waiting to be written.
    pub fn queue_depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }
}

/// The writer task's handle: owns the task, and the way to stop it cleanly.
pub struct RequestLogWriter {
    task: JoinHandle<()>,
}

/// Most records appended in one transaction.
const MAX_BATCH: usize = 1024;
/// Attempts per batch before it is counted as dropped.
const WRITE_ATTEMPTS: u32 = 5;

impl RequestLogWriter {
    /// Starts the writer; `capacity` bounds the queue.
    pub fn start(store: Store, capacity: usize) -> (RequestLog, RequestLogWriter) {
        let (sender, receiver) = mpsc::channel(capacity);
        let stats = Arc::new(LogWriterStats::default());
        let task = tokio::spawn(write_batches(store, receiver, stats.clone()));
        (RequestLog { sender, stats }, RequestLogWriter { task })
    }

    /// Waits until every queued record is written. Every [`RequestLog`] clone
    /// must have been dropped first, or this waits for them.
    pub async fn finish(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "request log writer failed");
        }
    }
}

/// How long the writer lets records gather after the first of a batch:
/// at low traffic this turns one transaction per request into one per
/// interval, off the request path.
const LINGER: Duration = Duration::from_millis(20);

async fn write_batches(
    store: Store,
    mut receiver: mpsc::Receiver<RequestRecord>,
    stats: Arc<LogWriterStats>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() < MAX_BATCH && !receiver.is_closed() {
            tokio::time::sleep(LINGER).await;
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
        }
        write_with_retry(&store, &batch, &stats).await;
        batch.clear();
    }
}

async fn write_with_retry(store: &Store, batch: &[RequestRecord], stats: &LogWriterStats) {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=WRITE_ATTEMPTS {
        match store.insert_request_records(batch).await {
            Ok(()) => {
                stats
                    .written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                return;
            }
            Err(error) if attempt < WRITE_ATTEMPTS => {
                tracing::warn!(%error, attempt, records = batch.len(), "request log write failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(error) => {
                tracing::error!(%error, records = batch.len(), "request log write failed; batch dropped");
            }
        }
    }
    stats
        .dropped_write_failed
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
}
