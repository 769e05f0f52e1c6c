//! The batching writer every log shares: records go from the hot path to the
//! database through one bounded queue and one background task.
//!
//! Callers hold a [`LogSender`], whose [`record`](LogSender::record) never
//! waits: the record goes into a bounded channel. A full queue drops the record
//! and counts it, so a slow database can slow nothing but the log. One
//! [`LogWriter`] task drains the channel and appends records in batches (group
//! commit), retrying a failed batch before giving up on it. On shutdown the
//! writer drains everything still queued before it returns.
//!
//! What a log holds is a [`LogRecord`]: the request log's `RequestRecord` and
//! the session log's `SessionRecord` each say how a batch of them is inserted.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Store, StoreError};

/// A record some log appends. Public only so it can bound [`LogWriter::start`];
/// it is not exported, so no other crate can implement it.
pub trait LogRecord: Send + Sync + Sized + 'static {
    /// The log's name in diagnostics, e.g. `request log`.
    const LOG: &'static str;

    /// Appends a batch in one transaction. A retried batch must not
    /// duplicate rows.
    fn insert_batch(
        store: &Store,
        batch: &[Self],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Counters of a log pipeline, for health and metrics.
#[derive(Debug, Default)]
pub struct LogWriterStats {
    pub written: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_write_failed: AtomicU64,
}

/// The sending side of a log, cloned into every request or session. Never blocks.
pub struct LogSender<R> {
    sender: mpsc::Sender<R>,
    stats: Arc<LogWriterStats>,
}

impl<R> Clone for LogSender<R> {
    fn clone(&self) -> Self {
        LogSender {
            sender: self.sender.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<R: LogRecord> LogSender<R> {
    /// Queues a record for the writer; drops (and counts) it if the queue is full.
    pub fn record(&self, record: R) {
        if let Err(error) = self.sender.try_send(record) {
            self.stats
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "{} queue full: record dropped", R::LOG);
        }
    }
}

impl<R> LogSender<R> {
    pub fn stats(&self) -> &LogWriterStats {
        &self.stats
    }

    /// Records waiting to be written.
    pub fn queue_depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }
}

/// The writer task's handle: owns the task, and the way to stop it cleanly.
pub struct LogWriter<R> {
    task: JoinHandle<()>,
    records: PhantomData<fn(R)>,
}

/// Most records appended in one transaction.
const MAX_BATCH: usize = 1024;
/// Attempts per batch before it is counted as dropped.
const WRITE_ATTEMPTS: u32 = 5;
/// How long the writer lets records gather after the first of a batch:
/// at low traffic this turns one transaction per record into one per
/// interval, off the hot path.
const LINGER: Duration = Duration::from_millis(20);

impl<R: LogRecord> LogWriter<R> {
    /// Starts the writer; `capacity` bounds the queue.
    pub fn start(store: Store, capacity: usize) -> (LogSender<R>, LogWriter<R>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let stats = Arc::new(LogWriterStats::default());
        let task = tokio::spawn(write_batches(store, receiver, stats.clone()));
        let writer = LogWriter {
            task,
            records: PhantomData,
        };
        (LogSender { sender, stats }, writer)
    }

    /// Waits until every queued record is written. Every [`LogSender`] clone
    /// must have been dropped first, or this waits for them.
    pub async fn finish(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "{} writer failed", R::LOG);
        }
    }
}

async fn write_batches<R: LogRecord>(
    store: Store,
    mut receiver: mpsc::Receiver<R>,
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

async fn write_with_retry<R: LogRecord>(store: &Store, batch: &[R], stats: &LogWriterStats) {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=WRITE_ATTEMPTS {
        match R::insert_batch(store, batch).await {
            Ok(()) => {
                stats
                    .written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                return;
            }
            Err(error) if attempt < WRITE_ATTEMPTS => {
                tracing::warn!(%error, attempt, records = batch.len(), "{} write failed; retrying", R::LOG);
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(error) => {
                tracing::error!(%error, records = batch.len(), "{} write failed; batch dropped", R::LOG);
            }
        }
    }
    stats
        .dropped_write_failed
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
}
