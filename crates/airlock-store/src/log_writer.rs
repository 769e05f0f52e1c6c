//! The batching writer every log shares: records go from the hot path to the
//! database through one bounded queue and one background task.
//!
//! Callers hold a [`LogSender`], whose [`record`](LogSender::record) never
//! waits: the record goes into a bounded channel. A full queue drops the record
//! and counts it, so a slow database can slow nothing but the log. One
//! [`LogWriter`] task drains the channel and appends records in batches (group
//! commit), retrying a failed batch before giving up on it. On shutdown the
//! writer drains everything still queued before it returns. Over SQLite the
//! task has a thread of its own ([`spawn_writer`]).
//!
//! A log started with [`LogWriter::start_durable`] puts a write-ahead log
//! ([`crate::wal`]) in front of the queue: `record` still never waits, and
//! the [`Appended`] it returns resolves once the record is synced to disk;
//! the WAL's writer then queues the record for the database as above. A
//! log started with [`LogWriter::start`] (the fast mode) has no WAL, and its
//! `Appended` is resolved from the start.
//!
//! What a log holds is a [`LogRecord`]: the request log's `RequestRecord` and
//! the session log's `SessionRecord` each say how a batch of them is inserted.

use std::future::Future;
use std::marker::PhantomData;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::wal::{self, Entry, Progress, Segments, WalOptions};
use crate::{Store, StoreError};

/// A record some log appends. Public only so it can bound [`LogWriter::start`];
/// it is not exported, so no other crate can implement it. It serialises
/// (as JSON) for the write-ahead log of a durable log.
pub trait LogRecord: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
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
    /// Syncs of the write-ahead log (a durable log's groups of records).
    pub wal_syncs: AtomicU64,
}

/// A record in the database queue, with its place in the write-ahead log
/// when it is in one.
pub(crate) struct Queued<R> {
    pub record: R,
    pub wal_seq: Option<u64>,
}

/// Resolves once a record is in the write-ahead log, synced; at once for
/// a log without one. A durable log's caller awaits it before the last
/// byte of its answer leaves. It never fails: a record the WAL could not
/// take is logged as an error, and still goes to the database.
/// `Appended::default()` is resolved already: nothing to wait for.
#[must_use = "await it before answering, or drop it where nobody waits for the answer"]
#[derive(Debug, Default)]
pub struct Appended(Option<oneshot::Receiver<()>>);

impl Future for Appended {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            None => Poll::Ready(()),
            // An error is a writer gone (it logged why): nothing to wait for.
            Some(synced) => Pin::new(synced).poll(cx).map(|_| ()),
        }
    }
}

/// The sending side of a log, cloned into every request or session. Never blocks.
pub struct LogSender<R> {
    sender: mpsc::Sender<Queued<R>>,
    /// A durable log's way into its write-ahead log.
    wal: Option<std_mpsc::Sender<Entry<R>>>,
    stats: Arc<LogWriterStats>,
}

impl<R> Clone for LogSender<R> {
    fn clone(&self) -> Self {
        LogSender {
            sender: self.sender.clone(),
            wal: self.wal.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<R: LogRecord> LogSender<R> {
    /// Queues a record for the writer; drops (and counts) it if the queue is
    /// full. In a durable log the record goes to the write-ahead log first,
    /// and the answer resolves once it is synced there.
    pub fn record(&self, record: R) -> Appended {
        let Some(wal) = &self.wal else {
            self.enqueue(record);
            return Appended::default();
        };
        let payload = match serde_json::to_vec(&record) {
            Ok(payload) if payload.len() <= wal::MAX_RECORD_BYTES => payload,
            Ok(payload) => {
                let bytes = payload.len();
                tracing::error!(bytes, "{} record too large for the write-ahead log", R::LOG);
                self.enqueue(record);
                return Appended::default();
            }
            Err(error) => {
                tracing::error!(%error, "{} record cannot be serialised for the write-ahead log", R::LOG);
                self.enqueue(record);
                return Appended::default();
            }
        };
        let (ack, synced) = oneshot::channel();
        let entry = Entry {
            record,
            payload,
            ack,
        };
        match wal.send(entry) {
            Ok(()) => Appended(Some(synced)),
            // The WAL's writer is gone (it logged why): the queue is what is left.
            Err(std_mpsc::SendError(entry)) => {
                self.enqueue(entry.record);
                Appended::default()
            }
        }
    }

    fn enqueue(&self, record: R) {
        let queued = Queued {
            record,
            wal_seq: None,
        };
        if let Err(error) = self.sender.try_send(queued) {
            self.stats
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
            let error = match error {
                mpsc::error::TrySendError::Full(_) => "queue full",
                mpsc::error::TrySendError::Closed(_) => "writer stopped",
            };
            tracing::warn!("{} {error}: record dropped", R::LOG);
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
    /// Resolves when the task has ended (an error: it panicked).
    task: oneshot::Receiver<()>,
    /// A durable log's write-ahead log: its writer's segments once it has
    /// stopped, and how far the database has caught up.
    wal: Option<(oneshot::Receiver<Segments>, Arc<Progress>)>,
    records: PhantomData<fn(R)>,
}

/// Most records appended in one transaction.
pub(crate) const MAX_BATCH: usize = 1024;
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
        let writing = write_batches(store.clone(), receiver, stats.clone(), None);
        let task = spawn_writer(&store, writing);
        let writer = LogWriter {
            task,
            wal: None,
            records: PhantomData,
        };
        let sender = LogSender {
            sender,
            wal: None,
            stats,
        };
        (sender, writer)
    }

    /// Starts a durable log: first replays into the database what the
    /// write-ahead log in `wal.dir` still holds (a damaged tail is dropped
    /// with a warning), then starts its writer thread and the database
    /// writer. Fails only when the directory cannot be created or read.
    pub async fn start_durable(
        store: Store,
        capacity: usize,
        wal: WalOptions,
    ) -> Result<(LogSender<R>, LogWriter<R>), StoreError> {
        let next_segment = wal::replay::<R>(&store, &wal.dir).await?;
        let (sender, receiver) = mpsc::channel(capacity);
        let (entries, wal_entries) = std_mpsc::channel();
        let stats = Arc::new(LogWriterStats::default());
        let progress = Arc::new(Progress::new());
        let segments = wal::start_writer(
            &wal,
            next_segment,
            wal_entries,
            sender.clone(),
            progress.clone(),
            stats.clone(),
        )
        .map_err(|source| StoreError::Wal {
            path: wal.dir.display().to_string(),
            source,
        })?;
        let writing = write_batches(
            store.clone(),
            receiver,
            stats.clone(),
            Some(progress.clone()),
        );
        let task = spawn_writer(&store, writing);
        let writer = LogWriter {
            task,
            wal: Some((segments, progress)),
            records: PhantomData,
        };
        let sender = LogSender {
            sender,
            wal: Some(entries),
            stats,
        };
        Ok((sender, writer))
    }

    /// Replays into the database what a write-ahead log in `dir` still
    /// holds, if there is one, without starting a durable log: a log
    /// switched back to the fast mode still gets the records a durable run
    /// left behind.
    pub async fn replay_wal(store: &Store, dir: &Path) -> Result<(), StoreError> {
        if dir.is_dir() {
            wal::replay::<R>(store, dir).await?;
        }
        Ok(())
    }

    /// Waits until every queued record is written. Every [`LogSender`] clone
    /// must have been dropped first, or this waits for them. A durable log's
    /// segments whose records all reached the database are removed; what
    /// did not is replayed at the next start.
    pub async fn finish(self) {
        let segments = match self.wal {
            Some((segments, progress)) => segments.await.ok().map(|s| (s, progress)),
            None => None,
        };
        if self.task.await.is_err() {
            tracing::error!("{} writer failed", R::LOG);
        }
        if let Some((segments, progress)) = segments {
            wal::finish(segments, &progress);
        }
    }
}

/// Runs a log's writer, and says when it has ended.
///
/// Over SQLite, on a thread and runtime of its own: each statement of a
/// batch is a round trip to SQLite's thread, and on the runtime serving
/// requests every one of them waited behind each busy connection's task,
/// so under load the writer fell behind (and the queue dropped records)
/// while SQLite's thread stood idle. Over PostgreSQL the writer stays on
/// the calling runtime: a connection it opened is bound to the runtime it
/// was opened on, and the pool hands it to any task, after the writer too.
fn spawn_writer(
    store: &Store,
    writing: impl Future<Output = ()> + Send + 'static,
) -> oneshot::Receiver<()> {
    let (ended, task) = oneshot::channel();
    let writing = async move {
        writing.await;
        let _ = ended.send(());
    };
    if store.backend() == crate::Backend::Postgres {
        tokio::spawn(writing);
        return task;
    }
    // Without a thread or a runtime of its own, the writer shares the caller's.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::warn!(%error, "no runtime for a log writer: it shares the caller's");
            tokio::spawn(writing);
            return task;
        }
    };
    let (hand_over, handed) = std_mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("airlock-log".into())
        .spawn(move || {
            if let Ok(writing) = handed.recv() {
                runtime.block_on(writing);
            }
        });
    let refused = match spawned {
        Ok(_) => hand_over.send(writing).err().map(|back| back.0),
        Err(error) => {
            tracing::warn!(%error, "no thread for a log writer: it shares the caller's runtime");
            Some(writing)
        }
    };
    if let Some(writing) = refused {
        tokio::spawn(writing);
    }
    task
}

async fn write_batches<R: LogRecord>(
    store: Store,
    mut receiver: mpsc::Receiver<Queued<R>>,
    stats: Arc<LogWriterStats>,
    wal: Option<Arc<Progress>>,
) {
    let mut queued = Vec::with_capacity(MAX_BATCH);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut queued, MAX_BATCH).await > 0 {
        if queued.len() < MAX_BATCH && !receiver.is_closed() {
            tokio::time::sleep(LINGER).await;
            while queued.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(record) => queued.push(record),
                    Err(_) => break,
                }
            }
        }
        // The WAL's records come in its order: the batch spans these.
        let mut seqs = queued.iter().filter_map(|q: &Queued<R>| q.wal_seq);
        let first_seq = seqs.next();
        let last_seq = seqs.last().or(first_seq);
        batch.extend(queued.drain(..).map(|q| q.record));
        let written = write_with_retry(&store, &batch, &stats).await;
        if let (Some(progress), Some(first), Some(last)) = (&wal, first_seq, last_seq) {
            if written {
                progress.committed(last);
            } else {
                progress.hold(first);
            }
        }
        batch.clear();
    }
}

/// Whether the batch was written.
async fn write_with_retry<R: LogRecord>(
    store: &Store,
    batch: &[R],
    stats: &LogWriterStats,
) -> bool {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=WRITE_ATTEMPTS {
        match R::insert_batch(store, batch).await {
            Ok(()) => {
                stats
                    .written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                return true;
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
    false
}
