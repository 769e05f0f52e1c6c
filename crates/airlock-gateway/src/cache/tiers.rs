//! Where cached answers are kept: hot entries in memory (`moka`, bounded
//! by bytes, each until its time to live runs out), every entry in the
//! database (small bodies inline, large ones in the media object store
//! when there is one), and an in-memory index of the keys stored, so a
//! miss never touches the database. An entry only in the database is read
//! once and held in memory again; one whose blob has gone is a miss, and
//! its row is removed.
//!
//! Writes, hit counts and sweeps (expired entries, the total size bound,
//! and once an hour blobs no entry names) run in background tasks: the
//! request path never waits for them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use airlock_store::{Blobs, CacheEntry, CacheHits, RemovedEntry, Store};
use http::{HeaderValue, StatusCode};
use tokio::sync::mpsc;

use super::answer::{CachedAnswer, CachedBody, Tokens};
use super::key::CacheKey;
use crate::clock::now_ms;

/// How the tiers are sized.
#[derive(Debug, Clone, Copy)]
pub struct TierLimits {
    /// Bytes of answers held in memory.
    pub memory_bytes: u64,
    /// Bytes of answers stored in all; the least recently used go first.
    pub max_bytes: u64,
    /// Bodies larger than this go to the object store (when there is one).
    pub inline_bytes: usize,
}

/// An entry as the tiers hold it.
#[derive(Clone)]
pub(crate) struct Held {
    pub answer: CachedAnswer,
    pub expires_at_ms: i64,
}

/// What describes an entry besides its answer.
pub(crate) struct Describe {
    pub project_id: Option<String>,
    /// The end user whose request made it, for the inventory of user data.
    pub end_user: Option<String>,
    pub operation: &'static str,
    pub provider: String,
    pub model: String,
}

/// An entry on its way to the store: made into a row by the writer, off
/// the request's path.
struct Pending {
    key: CacheKey,
    answer: CachedAnswer,
    describe: Describe,
    created_at_ms: i64,
    expires_at_ms: i64,
}

impl Pending {
    fn into_entry(self) -> CacheEntry {
        let encoded = self.answer.body.encode();
        CacheEntry {
            key: self.key.hex(),
            project_id: self.describe.project_id,
            end_user: self.describe.end_user,
            operation: self.describe.operation.to_string(),
            provider: self.describe.provider,
            model: self.describe.model,
            status: self.answer.status.as_u16(),
            content_type: self
                .answer
                .content_type
                .to_str()
                .unwrap_or_default()
                .to_string(),
            streamed: self.answer.body.is_stream(),
            size: encoded.len() as u64,
            body: Some(encoded),
            blob_key: None,
            usage: serde_json::to_string(&self.answer.tokens).ok(),
            cost_usd: self.answer.cost_usd,
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
            hits: 0,
            last_hit_at_ms: None,
        }
    }
}

/// Stored writes waiting for the writer task.
const WRITE_QUEUE: usize = 1024;
/// How long the writer gathers entries after the first of a batch: one
/// commit for all of them, and no store work in step with each answer.
const WRITE_BATCH_WAIT: Duration = Duration::from_millis(25);
/// The most entries written in one commit.
const WRITE_BATCH: usize = 256;
/// How often hit counts are written, and expired entries swept.
const FLUSH_EVERY: Duration = Duration::from_secs(5);
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Rows taken per sweep step.
const SWEEP_BATCH: u32 = 500;
/// How often the object store is searched for blobs no entry names.
const ORPHANS_EVERY: Duration = Duration::from_secs(3600);
/// A blob is written before its entry's row: one younger than this may be
/// on its way to being named, and is left alone.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);
/// Where entries' blobs are kept in the object store.
const BLOB_PREFIX: &str = "cache";

/// The tiers.
pub(crate) struct Tiers {
    memory: moka::sync::Cache<CacheKey, Held>,
    /// Keys stored, with when each expires.
    index: Mutex<HashMap<CacheKey, i64>>,
    store: Store,
    blobs: Option<Blobs>,
    limits: TierLimits,
    writes: mpsc::Sender<Pending>,
    hits: Mutex<HashMap<CacheKey, (i64, i64)>>,
}

impl Tiers {
    /// Opens the tiers over `store`, reading the index of what it holds,
    /// and starts their background tasks.
    pub(crate) async fn open(
        store: Store,
        blobs: Option<Blobs>,
        limits: TierLimits,
    ) -> Result<Arc<Tiers>, airlock_store::StoreError> {
        let now = now_ms();
        let index = store
            .cache_index(now)
            .await?
            .into_iter()
            .filter_map(|entry| Some((CacheKey::from_hex(&entry.key)?, entry.expires_at_ms)))
            .collect();
        let (writes, queued) = mpsc::channel(WRITE_QUEUE);
        let memory = moka::sync::Cache::builder()
            .max_capacity(limits.memory_bytes)
            .weigher(|_: &CacheKey, held: &Held| {
                u32::try_from(held.answer.body.size() + 256).unwrap_or(u32::MAX)
            })
            .build();
        let tiers = Arc::new(Tiers {
            memory,
            index: Mutex::new(index),
            store,
            blobs,
            limits,
            writes,
            hits: Mutex::default(),
        });
        tokio::spawn(write_entries(Arc::downgrade(&tiers), queued));
        tokio::spawn(upkeep(Arc::downgrade(&tiers)));
        Ok(tiers)
    }

    /// The entry of `key`, when one is kept and has not expired.
    pub(crate) async fn get(&self, key: &CacheKey) -> Option<Held> {
        let now = now_ms();
        if let Some(held) = self.memory.get(key) {
            if held.expires_at_ms > now {
                self.count_hit(key, now);
                return Some(held);
            }
            self.memory.invalidate(key);
        }
        let stored_until = self.lock_index().get(key).copied()?;
        if stored_until <= now {
            return None;
        }
        let held = self.read_stored(key).await?;
        self.memory.insert(*key, held.clone());
        self.count_hit(key, now);
        Some(held)
    }

    /// Keeps `answer` under `key` until `ttl` has passed.
    pub(crate) fn put(
        &self,
        key: CacheKey,
        answer: CachedAnswer,
        ttl: Duration,
        describe: Describe,
    ) {
        let created_at_ms = now_ms();
        let expires_at_ms = created_at_ms.saturating_add(ttl.as_millis() as i64);
        let held = Held {
            answer: answer.clone(),
            expires_at_ms,
        };
        self.memory.insert(key, held);
        let pending = Pending {
            key,
            answer,
            describe,
            created_at_ms,
            expires_at_ms,
        };
        if let Err(error) = self.writes.try_send(pending) {
            // Held in memory still; only the stored copy is lost.
            tracing::warn!(%error, "the cache's write queue is full: an entry is kept in memory only");
        }
    }

    /// Forgets every entry of a project (`None`: of every project);
    /// says how many stored entries went.
    pub(crate) async fn clear(
        &self,
        project_id: Option<&str>,
    ) -> Result<usize, airlock_store::StoreError> {
        let removed = self.store.cache_clear(project_id).await?;
        // Memory holds no project ids: a cleared project's hot entries go
        // with everything else held (they are read again from the store).
        self.memory.invalidate_all();
        self.forget(&removed).await;
        Ok(removed.len())
    }

    /// Bytes held in memory, and entries stored (for metrics).
    pub(crate) fn sizes(&self) -> (u64, usize) {
        (self.memory.weighted_size(), self.lock_index().len())
    }

    fn lock_index(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, i64>> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count_hit(&self, key: &CacheKey, now: i64) {
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        let counted = hits.entry(*key).or_insert((0, now));
        counted.0 += 1;
        counted.1 = now;
    }

    /// An entry read from the store; a row whose body cannot be read is
    /// removed (and is a miss).
    async fn read_stored(&self, key: &CacheKey) -> Option<Held> {
        let hex = key.hex();
        let entry = match self.store.cache_get(&hex).await {
            Ok(Some(entry)) => entry,
            Ok(None) => {
                self.lock_index().remove(key);
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, "reading a cache entry failed");
                return None;
            }
        };
        let body = match (&entry.body, &entry.blob_key, &self.blobs) {
            (Some(body), _, _) => Some(body.clone()),
            (None, Some(blob_key), Some(blobs)) => match blobs.get(blob_key, None).await {
                Ok(object) => object.bytes().await.ok(),
                Err(_) => None,
            },
            _ => None,
        };
        let held = body
            .and_then(|body| CachedBody::decode(entry.streamed, body))
            .and_then(|body| held_from(&entry, body));
        if held.is_none() {
            tracing::warn!("a cache entry's body is gone: removed, and answered as a miss");
            self.lock_index().remove(key);
            if let Ok(Some(removed)) = self.store.cache_remove(&hex).await {
                self.forget(&[removed]).await;
            }
        }
        held
    }

    /// Drops removed entries from memory, the index and the object store.
    /// Forgets entries whose rows and blobs were deleted elsewhere (an
    /// erasure of user data): memory and the index no longer hold them.
    pub(crate) fn forget_deleted(&self, keys: &[String]) {
        for key in keys.iter().filter_map(|key| CacheKey::from_hex(key)) {
            self.memory.invalidate(&key);
            self.lock_index().remove(&key);
        }
    }

    async fn forget(&self, removed: &[RemovedEntry]) {
        for entry in removed {
            if let Some(key) = CacheKey::from_hex(&entry.key) {
                self.memory.invalidate(&key);
                self.lock_index().remove(&key);
            }
            if let (Some(blob_key), Some(blobs)) = (&entry.blob_key, &self.blobs)
                && let Err(error) = blobs.delete(blob_key).await
            {
                tracing::warn!(%error, "deleting a cache entry's blob failed");
            }
        }
    }

    /// Deletes the blobs under the cache's prefix that no stored entry
    /// names and that were written before `written_before_ms` (left by a
    /// row that failed to commit, a crash between a blob and its row, or a
    /// blob whose deletion failed); says how many went. The listing comes
    /// before the names, so a row committed meanwhile is seen; a blob
    /// rewritten between the two is deleted, and its entry is then a miss
    /// that is repaired, as any entry whose blob has gone.
    pub(crate) async fn collect_orphan_blobs(&self, written_before_ms: i64) -> usize {
        let Some(blobs) = &self.blobs else { return 0 };
        let listed = match blobs.list(BLOB_PREFIX).await {
            Ok(listed) => listed,
            Err(error) => {
                tracing::warn!(%error, "listing the cache's blobs failed");
                return 0;
            }
        };
        let named = match self.store.cache_blob_keys().await {
            Ok(named) => named,
            Err(error) => {
                tracing::warn!(%error, "reading the cache's blob names failed");
                return 0;
            }
        };
        let mut collected = 0;
        for blob in listed {
            if blob.modified_at_ms >= written_before_ms || named.contains(&blob.key) {
                continue;
            }
            match blobs.delete(&blob.key).await {
                Ok(()) => collected += 1,
                Err(error) => tracing::warn!(%error, "deleting an orphaned cache blob failed"),
            }
        }
        if collected > 0 {
            tracing::info!(collected, "orphaned cache blobs deleted");
            crate::metrics::cache_orphans_collected(collected);
        }
        collected
    }

    /// Stores a batch of entries in one commit, large bodies in the object
    /// store first (an entry whose body cannot be stored is left out).
    async fn write(&self, entries: Vec<Pending>) {
        let mut ready = Vec::with_capacity(entries.len());
        for entry in entries {
            let mut entry = entry.into_entry();
            if let (Some(blobs), Some(body)) = (&self.blobs, &entry.body)
                && body.len() > self.limits.inline_bytes
            {
                let blob_key = format!("{BLOB_PREFIX}/{}", entry.key);
                if let Err(error) = blobs
                    .put(&blob_key, body.clone(), "application/octet-stream")
                    .await
                {
                    tracing::warn!(%error, "a cache entry's body could not be stored");
                    continue;
                }
                entry.body = None;
                entry.blob_key = Some(blob_key);
            }
            ready.push(entry);
        }
        match self.store.cache_put_many(&ready).await {
            Ok(()) => {
                let mut index = self.lock_index();
                for entry in &ready {
                    if let Some(key) = CacheKey::from_hex(&entry.key) {
                        index.insert(key, entry.expires_at_ms);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "storing cache entries failed"),
        }
    }

    async fn flush_hits(&self) {
        let hits: Vec<CacheHits> = {
            let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
            hits.drain()
                .map(|(key, (count, last_hit_at_ms))| CacheHits {
                    key: key.hex(),
                    count,
                    last_hit_at_ms,
                })
                .collect()
        };
        if !hits.is_empty()
            && let Err(error) = self.store.cache_add_hits(&hits).await
        {
            tracing::warn!(%error, "writing cache hit counts failed");
        }
    }

    async fn sweep(&self) {
        loop {
            match self.store.cache_take_expired(now_ms(), SWEEP_BATCH).await {
                Ok(removed) => {
                    let done = removed.len() < SWEEP_BATCH as usize;
                    self.forget(&removed).await;
                    if done {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "sweeping expired cache entries failed");
                    return;
                }
            }
        }
        match self.store.cache_evict_oldest(self.limits.max_bytes).await {
            Ok(removed) => self.forget(&removed).await,
            Err(error) => tracing::warn!(%error, "evicting cache entries failed"),
        }
    }
}

/// The entry as held, from its row and decoded body.
fn held_from(entry: &CacheEntry, body: CachedBody) -> Option<Held> {
    let tokens: Tokens = entry
        .usage
        .as_deref()
        .and_then(|usage| serde_json::from_str(usage).ok())
        .unwrap_or_default();
    Some(Held {
        answer: CachedAnswer {
            status: StatusCode::from_u16(entry.status).ok()?,
            content_type: HeaderValue::from_str(&entry.content_type).ok()?,
            body,
            tokens,
            cost_usd: entry.cost_usd,
        },
        expires_at_ms: entry.expires_at_ms,
    })
}

/// Stores queued entries in batches while the tiers live: the first
/// entry of a batch, then what arrives within [`WRITE_BATCH_WAIT`].
async fn write_entries(tiers: std::sync::Weak<Tiers>, mut queued: mpsc::Receiver<Pending>) {
    while let Some(first) = queued.recv().await {
        tokio::time::sleep(WRITE_BATCH_WAIT).await;
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match queued.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        let Some(tiers) = tiers.upgrade() else { return };
        tiers.write(batch).await;
    }
}

/// Writes hit counts and sweeps, while the tiers live.
async fn upkeep(tiers: std::sync::Weak<Tiers>) {
    let mut ticks = 0u64;
    let mut every = tokio::time::interval(FLUSH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(tiers) = tiers.upgrade() else { return };
        tiers.flush_hits().await;
        if ticks.is_multiple_of(SWEEP_EVERY.as_secs() / FLUSH_EVERY.as_secs()) {
            tiers.sweep().await;
        }
        if ticks.is_multiple_of(ORPHANS_EVERY.as_secs() / FLUSH_EVERY.as_secs()) {
            let grace = i64::try_from(ORPHAN_GRACE.as_millis()).unwrap_or(i64::MAX);
            tiers.collect_orphan_blobs(now_ms() - grace).await;
        }
        ticks += 1;
    }
}

#[cfg(test)]
mod tests {
    use airlock_store::BlobsConfig;
    use bytes::Bytes;

    use super::*;

    const LIMITS: TierLimits = TierLimits {
        memory_bytes: 1 << 20,
        max_bytes: 1 << 30,
        inline_bytes: 1024,
    };

    fn answer(body: &[u8]) -> CachedAnswer {
        CachedAnswer {
            status: StatusCode::OK,
            content_type: HeaderValue::from_static("application/json"),
            body: CachedBody::Whole(Bytes::copy_from_slice(body)),
            tokens: Tokens::default(),
            cost_usd: Some(0.25),
        }
    }

    fn describe() -> Describe {
        Describe {
            project_id: Some("proj".into()),
            end_user: None,
            operation: "chat.completions",
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
        }
    }

    /// Tiers over a SQLite store and a local folder of blobs (`blobs/`),
    /// in a temporary directory kept while the first value lives.
    async fn with_local_blobs() -> (tempfile::TempDir, Store, Blobs, Arc<Tiers>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_data_dir(dir.path()).await.unwrap();
        let blobs = Blobs::open(&BlobsConfig::Local {
            root: dir.path().join("blobs"),
            sync: false,
        })
        .unwrap();
        let tiers = Tiers::open(store.clone(), Some(blobs.clone()), LIMITS)
            .await
            .unwrap();
        (dir, store, blobs, tiers)
    }

    async fn stored(tiers: &Tiers, key: &CacheKey) {
        for _ in 0..200 {
            if tiers.lock_index().contains_key(key) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the entry was never stored");
    }

    fn key(n: u8) -> CacheKey {
        CacheKey::from_hex(&format!("{n:02x}").repeat(32)).expect("64 hex digits")
    }

    #[tokio::test]
    async fn an_entry_out_of_memory_is_read_back_from_the_store_and_its_blob() {
        let (_dir, store, _blobs, tiers) = with_local_blobs().await;
        let (small, large) = (vec![b's'; 100], vec![b'l'; 5000]);
        tiers.put(key(1), answer(&small), Duration::from_secs(60), describe());
        tiers.put(key(2), answer(&large), Duration::from_secs(60), describe());
        stored(&tiers, &key(1)).await;
        stored(&tiers, &key(2)).await;
        let row = store.cache_get(&key(2).hex()).await.unwrap().unwrap();
        assert!(
            row.body.is_none() && row.blob_key.is_some(),
            "a large body is a blob"
        );
        tiers.memory.invalidate_all();
        for (n, body) in [(1, &small), (2, &large)] {
            let held = tiers.get(&key(n)).await.expect("read back from the store");
            match held.answer.body {
                CachedBody::Whole(bytes) => assert_eq!(&bytes[..], &body[..]),
                other => panic!("{other:?}"),
            }
            assert_eq!(held.answer.cost_usd, Some(0.25));
        }
    }

    #[tokio::test]
    async fn blobs_no_entry_names_are_deleted_once_older_than_the_grace() {
        let (_dir, _store, blobs, tiers) = with_local_blobs().await;
        tiers.put(
            key(1),
            answer(&[b'l'; 5000]),
            Duration::from_secs(60),
            describe(),
        );
        stored(&tiers, &key(1)).await;
        let named = format!("{BLOB_PREFIX}/{}", key(1).hex());
        let orphan = format!("{BLOB_PREFIX}/{}", key(2).hex());
        let elsewhere = "media/not-the-caches";
        for blob in [orphan.as_str(), elsewhere] {
            blobs
                .put(
                    blob,
                    Bytes::from_static(b"left behind"),
                    "application/octet-stream",
                )
                .await
                .unwrap();
        }
        let keys = || async {
            let mut keys: Vec<String> = blobs
                .list(BLOB_PREFIX)
                .await
                .unwrap()
                .into_iter()
                .map(|blob| blob.key)
                .collect();
            keys.sort();
            keys
        };
        let mut both = vec![named.clone(), orphan.clone()];
        both.sort();
        assert_eq!(keys().await, both);
        // Within the grace, even the orphan stays.
        let an_hour_ago = now_ms() - 3_600_000;
        assert_eq!(tiers.collect_orphan_blobs(an_hour_ago).await, 0);
        assert_eq!(keys().await, both);
        // Past it, only the blob no entry names goes; the entry still reads.
        assert_eq!(tiers.collect_orphan_blobs(now_ms() + 1_000).await, 1);
        assert_eq!(keys().await, [named]);
        assert!(
            blobs.head(elsewhere).await.is_ok(),
            "outside the prefix: kept"
        );
        tiers.memory.invalidate_all();
        assert!(tiers.get(&key(1)).await.is_some());
    }

    #[tokio::test]
    async fn an_entry_whose_blob_has_gone_is_a_miss_and_is_removed() {
        let (dir, store, _blobs, tiers) = with_local_blobs().await;
        tiers.put(
            key(3),
            answer(&[b'x'; 5000]),
            Duration::from_secs(60),
            describe(),
        );
        stored(&tiers, &key(3)).await;
        std::fs::remove_dir_all(dir.path().join("blobs")).unwrap();
        tiers.memory.invalidate_all();
        assert!(tiers.get(&key(3)).await.is_none());
        assert!(store.cache_get(&key(3).hex()).await.unwrap().is_none());
        assert!(!tiers.lock_index().contains_key(&key(3)));
    }

    #[tokio::test]
    async fn an_expired_entry_is_a_miss_and_the_index_is_read_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_data_dir(dir.path()).await.unwrap();
        let tiers = Tiers::open(store.clone(), None, LIMITS).await.unwrap();
        tiers.put(key(4), answer(b"{}"), Duration::from_millis(1), describe());
        tiers.put(key(5), answer(b"{}"), Duration::from_secs(60), describe());
        stored(&tiers, &key(5)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(tiers.get(&key(4)).await.is_none());
        let reopened = Tiers::open(store, None, LIMITS).await.unwrap();
        assert!(!reopened.lock_index().contains_key(&key(4)));
        assert!(reopened.get(&key(5)).await.is_some());
    }
}
