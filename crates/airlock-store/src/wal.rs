//! The write-ahead log (WAL) behind a durable log: a record is on disk,
//! fsynced, before it is acknowledged, so a record whose acknowledgement was
//! awaited survives a hard kill of the process.
//!
//! One writer thread per log (file I/O blocks, so no runtime worker waits on
//! it) takes every record that has arrived, appends them all with one write
//! and one `fdatasync` (group commit: records that arrive while a sync runs
//! form the next group), acknowledges them, and hands them to the database
//! writer, which batches them into the database as in the fast mode. Once
//! every record of a segment is committed to the database the segment is
//! removed, or, for the segment still being written, truncated. On start,
//! [`replay`] inserts what the segments still hold (inserts are idempotent
//! by record id, so rows a batch had already inserted are not duplicated)
//! and removes them, before anything is served.
//!
//! A segment is a file `NNNNNNNNNNNNNNNNNNNN.wal` (its number, growing) that
//! starts with an 8-byte magic; each record follows as a frame: its length
//! (u32, little-endian), the CRC-32C of its bytes (u32, little-endian), and
//! the record as JSON. A frame cut short by a crash mid-write, or one whose
//! checksum does not match, ends what is read of its segment: it and what
//! follows are dropped with a warning, never a panic.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::log_writer::{LogRecord, LogWriterStats, Queued};
use crate::{Store, StoreError};

/// Where a log's WAL lives and how it groups records.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// The log's own directory (created when missing), e.g.
    /// `<data_dir>/wal/requests`.
    pub dir: PathBuf,
    /// How long the writer waits for more records after the first of a
    /// group before it writes them. Zero writes at once: records that arrive
    /// during a sync are the next group anyway.
    pub linger: Duration,
}

/// The first bytes of every segment.
pub(crate) const MAGIC: &[u8; 8] = b"AIRWAL1\n";
/// A frame's length and checksum.
const FRAME_HEADER: usize = 8;
/// The largest record a frame may hold; a longer length is corruption.
pub(crate) const MAX_RECORD_BYTES: usize = 64 << 20;
/// A segment this long is closed and a new one begun.
const SEGMENT_BYTES: u64 = 4 << 20;
/// Most records written as one group.
const MAX_GROUP: usize = 4096;
/// How often a writer with no new records removes the segments the database
/// has caught up with, while any hold records.
const HOUSEKEEPING: Duration = Duration::from_millis(200);
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// One record on its way into the WAL.
pub(crate) struct Entry<R> {
    pub record: R,
    /// The record as JSON.
    pub payload: Vec<u8>,
    /// Told once the record is synced (or its write failed, which is logged).
    pub ack: oneshot::Sender<()>,
}

/// How far the database writer has caught up with the WAL, in the WAL's
/// sequence numbers (each record appended gets the next, from 1).
pub(crate) struct Progress {
    /// Every record up to this one is committed to the database.
    committed: AtomicU64,
    /// The first record that will not reach the database in this run (its
    /// batch failed, or the queue was full): from it on, segments stay for
    /// the next start's replay.
    held_from: AtomicU64,
}

impl Progress {
    pub fn new() -> Self {
        Progress {
            committed: AtomicU64::new(0),
            held_from: AtomicU64::new(u64::MAX),
        }
    }

    /// Records up to `seq` are committed (batches commit in sequence order).
    pub fn committed(&self, seq: u64) {
        self.committed.fetch_max(seq, Ordering::Release);
    }

    /// Record `seq` will not be committed by this run.
    pub fn hold(&self, seq: u64) {
        self.held_from.fetch_min(seq, Ordering::Release);
    }

    /// Every record up to this one may leave the WAL.
    fn removable_through(&self) -> u64 {
        let held_from = self.held_from.load(Ordering::Acquire);
        self.committed
            .load(Ordering::Acquire)
            .min(held_from.saturating_sub(1))
    }
}

/// The writer's segments: the one being written, and those closed but
/// still holding records the database has not committed.
pub(crate) struct Segments {
    dir: PathBuf,
    max_bytes: u64,
    next_number: u64,
    /// The sequence number the next record appended gets.
    next_seq: u64,
    /// Closed segments, oldest first, with the last record each holds.
    closed: VecDeque<(PathBuf, u64)>,
    open: Option<OpenSegment>,
}

struct OpenSegment {
    file: File,
    path: PathBuf,
    len: u64,
    /// The last record it holds; `None` while it holds none.
    last_seq: Option<u64>,
}

impl Segments {
    /// Segments in `dir`, numbered from `next_number` on (after any left
    /// there), closed at `max_bytes`.
    fn new(dir: &Path, next_number: u64, max_bytes: u64) -> Self {
        Segments {
            dir: dir.to_path_buf(),
            max_bytes,
            next_number,
            next_seq: 1,
            closed: VecDeque::new(),
            open: None,
        }
    }

    /// The sequence number of the next record appended.
    fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Whether any segment holds records.
    fn hold_records(&self) -> bool {
        !self.closed.is_empty()
            || self
                .open
                .as_ref()
                .is_some_and(|open| open.last_seq.is_some())
    }

    /// Appends `payloads` as one write and syncs it. The records get the
    /// next sequence numbers whether or not the write succeeds; after a
    /// failure the next group starts a new segment, so nothing is ever
    /// appended after a torn frame.
    fn append(&mut self, payloads: &[&[u8]]) -> io::Result<()> {
        let last_seq = self.next_seq + payloads.len() as u64 - 1;
        self.next_seq = last_seq + 1;
        if self
            .open
            .as_ref()
            .is_some_and(|open| open.len >= self.max_bytes)
        {
            self.close_open();
        }
        let written = self.write(payloads, last_seq);
        if written.is_err() {
            self.close_open();
        }
        written
    }

    fn write(&mut self, payloads: &[&[u8]], last_seq: u64) -> io::Result<()> {
        let open = match self.open.take() {
            Some(open) => open,
            None => self.create()?,
        };
        let open = self.open.insert(open);
        let size: usize = payloads.iter().map(|p| FRAME_HEADER + p.len()).sum();
        let mut bytes = Vec::with_capacity(MAGIC.len() + size);
        if open.len == 0 {
            bytes.extend_from_slice(MAGIC);
        }
        for payload in payloads {
            push_frame(&mut bytes, payload);
        }
        open.file.write_all(&bytes)?;
        open.file.sync_data()?;
        open.len += bytes.len() as u64;
        open.last_seq = Some(last_seq);
        Ok(())
    }

    /// A new, empty segment; the directory is synced so its entry survives a
    /// crash as its contents do.
    fn create(&mut self) -> io::Result<OpenSegment> {
        let path = self.dir.join(segment_name(self.next_number));
        self.next_number += 1;
        let mut options = OpenOptions::new();
        options.append(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(OpenSegment {
            file,
            path,
            len: 0,
            last_seq: None,
        })
    }

    /// Closes the segment being written: kept until its records are
    /// committed, removed now if it holds none.
    fn close_open(&mut self) {
        if let Some(open) = self.open.take() {
            match open.last_seq {
                Some(last_seq) => self.closed.push_back((open.path, last_seq)),
                None => remove(&open.path),
            }
        }
    }

    /// Removes the closed segments whose records are all committed
    /// (`through` and before), and empties the open one when all of its
    /// records are.
    fn remove_committed(&mut self, through: u64) {
        while let Some((path, last_seq)) = self.closed.front() {
            if *last_seq > through {
                break;
            }
            remove(path);
            self.closed.pop_front();
        }
        let Some(open) = &mut self.open else {
            return;
        };
        if open.last_seq.is_none_or(|last_seq| last_seq > through) {
            return;
        }
        // Appends go on at the (new) end: the file is opened to append.
        match open.file.set_len(0) {
            Ok(()) => {
                open.len = 0;
                open.last_seq = None;
            }
            Err(error) => {
                tracing::warn!(%error, path = %open.path.display(), "cannot truncate a write-ahead log segment; starting a new one");
                self.close_open();
                self.remove_committed(through);
            }
        }
    }
}

fn segment_name(number: u64) -> String {
    format!("{number:020}.wal")
}

fn remove(path: &Path) {
    if let Err(error) = fs::remove_file(path) {
        tracing::warn!(%error, path = %path.display(), "cannot remove a write-ahead log segment");
    }
}

pub(crate) fn push_frame(bytes: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("records are far below 4 GiB");
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&CRC.checksum(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
}

/// The whole frames of a segment's bytes, and what follows them when that
/// is not a whole frame with its checksum: a torn or corrupt tail, with
/// why it was dropped.
pub(crate) fn frames(bytes: &[u8]) -> (Vec<&[u8]>, Option<(usize, &'static str)>) {
    if bytes.is_empty() {
        // Created, and the process died before the first write.
        return (Vec::new(), None);
    }
    let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        return (Vec::new(), Some((bytes.len(), "not a segment")));
    };
    let mut payloads = Vec::new();
    while !rest.is_empty() {
        let Some((header, body)) = rest.split_first_chunk::<FRAME_HEADER>() else {
            return (payloads, Some((rest.len(), "torn frame header")));
        };
        let [l0, l1, l2, l3, c0, c1, c2, c3] = *header;
        let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        let crc = u32::from_le_bytes([c0, c1, c2, c3]);
        if len > MAX_RECORD_BYTES {
            return (payloads, Some((rest.len(), "impossible frame length")));
        }
        let Some(payload) = body.get(..len) else {
            return (payloads, Some((rest.len(), "torn frame")));
        };
        if CRC.checksum(payload) != crc {
            return (payloads, Some((rest.len(), "checksum mismatch")));
        }
        payloads.push(payload);
        rest = &body[len..];
    }
    (payloads, None)
}

/// The records of one segment file, in order. A torn or corrupt tail is
/// dropped and a record that does not parse is skipped, each with a warning.
pub(crate) fn read_segment<R: DeserializeOwned>(path: &Path) -> io::Result<Vec<R>> {
    let bytes = fs::read(path)?;
    let (payloads, damage) = frames(&bytes);
    if let Some((dropped_bytes, why)) = damage {
        tracing::warn!(
            path = %path.display(),
            dropped_bytes,
            kept_records = payloads.len(),
            "write-ahead log segment ends in a damaged frame ({why}): the rest of it is dropped"
        );
    }
    Ok(payloads
        .into_iter()
        .filter_map(|payload| match serde_json::from_slice(payload) {
            Ok(record) => Some(record),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "write-ahead log record does not parse: skipped");
                None
            }
        })
        .collect())
}

/// The segments in `dir`, oldest first, by number. Other files are left alone.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let number = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".wal"))
            .and_then(|number| number.parse::<u64>().ok());
        if let Some(number) = number {
            segments.push((number, path));
        }
    }
    segments.sort();
    Ok(segments)
}

/// Creates the WAL directory (owner only: records hold what the database
/// holds) and inserts the records its segments hold into the database,
/// removing each segment once its records are committed. A segment that
/// cannot be read or inserted is left for the next start. Returns the
/// number the writer's first segment takes.
pub(crate) async fn replay<R: LogRecord>(store: &Store, dir: &Path) -> Result<u64, StoreError> {
    let wal_error = |source| StoreError::Wal {
        path: dir.display().to_string(),
        source,
    };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(wal_error)?;
    let segments = list_segments(dir).map_err(wal_error)?;
    let next_number = segments.last().map_or(1, |(number, _)| number + 1);
    let mut replayed = 0;
    for (_, path) in segments {
        let records: Vec<R> = match read_segment(&path) {
            Ok(records) => records,
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "cannot read a write-ahead log segment; left for the next start");
                continue;
            }
        };
        let mut inserted = Ok(());
        for batch in records.chunks(crate::log_writer::MAX_BATCH) {
            inserted = R::insert_batch(store, batch).await;
            if inserted.is_err() {
                break;
            }
        }
        match inserted {
            Ok(()) => {
                replayed += records.len();
                remove(&path);
            }
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "cannot replay a write-ahead log segment into the database; left for the next start")
            }
        }
    }
    if replayed > 0 {
        tracing::info!(
            records = replayed,
            "{} replayed from its write-ahead log",
            R::LOG
        );
    }
    Ok(next_number)
}

/// Starts the writer thread over `dir`'s new segments (numbered from
/// `next_number`). It ends when every sender of `entries` is gone, after
/// writing what they sent, and hands back its segments for the last cleanup.
pub(crate) fn start_writer<R: LogRecord>(
    options: &WalOptions,
    next_number: u64,
    entries: std_mpsc::Receiver<Entry<R>>,
    queue: mpsc::Sender<Queued<R>>,
    progress: Arc<Progress>,
    stats: Arc<LogWriterStats>,
) -> io::Result<oneshot::Receiver<Segments>> {
    let mut segments = Segments::new(&options.dir, next_number, SEGMENT_BYTES);
    let linger = options.linger;
    let (done, finished) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("{} wal", R::LOG))
        .spawn(move || {
            let mut group = Vec::new();
            loop {
                // Idle with nothing to remove, the thread sleeps until a record comes.
                let next = if segments.hold_records() {
                    entries.recv_timeout(HOUSEKEEPING)
                } else {
                    entries.recv().map_err(|_| RecvTimeoutError::Disconnected)
                };
                match next {
                    Ok(first) => {
                        group.push(first);
                        gather(&entries, &mut group, linger);
                        commit(&mut segments, &mut group, &queue, &progress, &stats);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                segments.remove_committed(progress.removable_through());
            }
            // Dropping the queue's sender lets the database writer finish.
            drop(queue);
            let _ = done.send(segments);
        })?;
    Ok(finished)
}

/// Adds to `group` what arrives within `linger` of its first record, then
/// whatever else is already waiting.
fn gather<R>(entries: &std_mpsc::Receiver<Entry<R>>, group: &mut Vec<Entry<R>>, linger: Duration) {
    let deadline = Instant::now() + linger;
    while group.len() < MAX_GROUP {
        let wait = deadline.saturating_duration_since(Instant::now());
        let next = if wait.is_zero() {
            entries.try_recv().ok()
        } else {
            entries.recv_timeout(wait).ok()
        };
        // Nothing more within the linger, or nothing waiting, or no senders left.
        let Some(entry) = next else { break };
        group.push(entry);
    }
}

/// Writes a group with one sync, acknowledges it, and queues its records
/// for the database.
fn commit<R: LogRecord>(
    segments: &mut Segments,
    group: &mut Vec<Entry<R>>,
    queue: &mpsc::Sender<Queued<R>>,
    progress: &Progress,
    stats: &LogWriterStats,
) {
    let log = R::LOG;
    let first_seq = segments.next_seq();
    let payloads: Vec<&[u8]> = group.iter().map(|entry| entry.payload.as_slice()).collect();
    let synced = match segments.append(&payloads) {
        Ok(()) => {
            stats.wal_syncs.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(error) => {
            tracing::error!(%error, records = group.len(), "cannot write {log} records to the write-ahead log: they are not durable");
            false
        }
    };
    for (seq, entry) in (first_seq..).zip(group.drain(..)) {
        let _ = entry.ack.send(());
        let queued = Queued {
            record: entry.record,
            wal_seq: synced.then_some(seq),
        };
        if queue.try_send(queued).is_err() {
            if synced {
                progress.hold(seq);
                tracing::warn!(
                    "{log} queue full: record kept in the write-ahead log for the next start"
                );
            } else {
                stats.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("{log} queue full: record dropped");
            }
        }
    }
}

/// The last cleanup, once the database writer has committed what it will:
/// the segments whose records all reached the database are removed.
pub(crate) fn finish(mut segments: Segments, progress: &Progress) {
    segments.remove_committed(progress.removable_through());
    if segments
        .open
        .as_ref()
        .is_some_and(|open| open.last_seq.is_none())
    {
        // Empty: nothing in it for the next start.
        segments.close_open();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(texts: &[&str]) -> Vec<Vec<u8>> {
        texts
            .iter()
            .map(|t| format!("\"{t}\"").into_bytes())
            .collect()
    }

    fn append(segments: &mut Segments, texts: &[&str]) {
        let owned = payloads(texts);
        let borrowed: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        segments.append(&borrowed).unwrap();
    }

    fn read_all(dir: &Path) -> Vec<String> {
        list_segments(dir)
            .unwrap()
            .iter()
            .flat_map(|(_, path)| read_segment::<String>(path).unwrap())
            .collect()
    }

    #[test]
    fn appended_records_read_back_in_order_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        // Small segments: a new one after each group past 40 bytes.
        let mut segments = Segments::new(dir.path(), 1, 40);
        append(&mut segments, &["a", "b"]);
        append(&mut segments, &["c"]);
        append(&mut segments, &["d", "e"]);
        assert_eq!(read_all(dir.path()), ["a", "b", "c", "d", "e"]);
        assert_eq!(list_segments(dir.path()).unwrap().len(), 2);
        assert_eq!(segments.next_seq(), 6);
    }

    #[test]
    fn segments_are_removed_once_their_records_are_committed() {
        let dir = tempfile::tempdir().unwrap();
        // Segments close past 16 bytes: each group here fills one.
        let mut segments = Segments::new(dir.path(), 1, 16);
        append(&mut segments, &["a", "b"]); // seqs 1, 2: segment 1
        append(&mut segments, &["c"]); // 3: segment 2
        append(&mut segments, &["d"]); // 4: segment 3, still open
        assert_eq!(list_segments(dir.path()).unwrap().len(), 3);

        // Record 2 committed: segment 1 holds nothing else.
        segments.remove_committed(2);
        assert_eq!(read_all(dir.path()), ["c", "d"]);
        // Record 3 committed, not 4: the open segment keeps its record.
        segments.remove_committed(3);
        assert_eq!(read_all(dir.path()), ["d"]);
        // All committed: the open segment is emptied, and appends go on.
        segments.remove_committed(4);
        assert_eq!(read_all(dir.path()), Vec::<String>::new());
        let open = &segments.open.as_ref().unwrap().path;
        assert_eq!(fs::metadata(open).unwrap().len(), 0);
        append(&mut segments, &["e"]);
        assert_eq!(read_all(dir.path()), ["e"]);
    }

    #[test]
    fn a_torn_tail_is_dropped_and_the_records_before_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut segments = Segments::new(dir.path(), 1, SEGMENT_BYTES);
        append(&mut segments, &["kept", "also kept"]);
        let path = segments.open.as_ref().unwrap().path.clone();
        let whole = fs::read(&path).unwrap();

        // A crash mid-write: the last frame's bytes are cut short anywhere.
        let mut frame = Vec::new();
        push_frame(&mut frame, b"\"lost\"");
        for cut in 1..frame.len() {
            let mut torn = whole.clone();
            torn.extend_from_slice(&frame[..cut]);
            fs::write(&path, &torn).unwrap();
            assert_eq!(read_all(dir.path()), ["kept", "also kept"], "cut at {cut}");
        }

        // A frame whose bytes changed fails its checksum; so does what follows.
        let mut corrupt = whole.clone();
        *corrupt.last_mut().unwrap() ^= 0x20;
        fs::write(&path, &corrupt).unwrap();
        assert_eq!(read_all(dir.path()), ["kept"]);

        // Garbage that is not a segment at all reads as nothing, never a panic.
        fs::write(&path, b"\xff\xff\xff\xff garbage").unwrap();
        assert_eq!(read_all(dir.path()), Vec::<String>::new());
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 12]);
        fs::write(&path, &huge).unwrap();
        assert_eq!(read_all(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn a_failed_write_starts_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut segments = Segments::new(dir.path(), 1, SEGMENT_BYTES);
        append(&mut segments, &["a"]);
        // The next write fails (the directory is gone, a new segment cannot
        // be made), then the directory is back.
        segments.close_open();
        let moved = dir.path().with_extension("moved");
        fs::rename(dir.path(), &moved).unwrap();
        assert!(segments.append(&[b"\"b\"".as_slice()]).is_err());
        fs::rename(&moved, dir.path()).unwrap();
        append(&mut segments, &["c"]);
        assert_eq!(read_all(dir.path()), ["a", "c"]);
        // "b" took sequence number 2 all the same: "c" is 3.
        assert_eq!(segments.next_seq(), 4);
    }

    #[test]
    fn progress_holds_back_what_will_not_be_committed() {
        let progress = Progress::new();
        assert_eq!(progress.removable_through(), 0);
        progress.committed(5);
        assert_eq!(progress.removable_through(), 5);
        progress.hold(7);
        progress.committed(9);
        assert_eq!(progress.removable_through(), 6);
        progress.committed(3);
        assert_eq!(progress.removable_through(), 6);
    }
}
