//! The log mirrored to the object store as it grows: under `receipts/`,
//! the C2SP tlog-tiles layout (`tile/<L>/<N>`, partial `.p/<W>`, entry
//! bundles `tile/entries/<N>`) and the latest signed `checkpoint`, so a
//! bucket (or a CDN in front of it) can serve the log to auditors and
//! mirrors without the gateway. Every interval (its own task, apart from
//! checkpointing) the copy catches up with the latest checkpoint: the
//! tiles that filled since (written once, never changed), the partial
//! tiles of the checkpoint's size, then the checkpoint. The tree size the
//! copy is complete for is kept beside it (`receipts/mirrored-size`), so
//! a restart, or another instance, goes on from there.

use std::sync::Arc;
use std::time::Duration;

use airlock_receipts::TilePath;
use airlock_store::{Blobs, StoredCheckpoint};
use bytes::Bytes;

use super::Receipts;

/// Where the log is kept in the object store.
pub const PREFIX: &str = "receipts";

/// The object (under [`PREFIX`]) holding the tree size the copy is
/// complete for.
const PROGRESS: &str = "mirrored-size";

/// At most this many level-0 tiles are copied in one round; a copy far
/// behind catches up round after round, yielding between them.
const TILES_PER_ROUND: u64 = 256;

/// The object store the log is copied to, and how far the copy is.
pub struct Mirror {
    blobs: Blobs,
    /// How often the copy catches up.
    interval: Duration,
    /// The tree size the copy is complete for, once read; held while a
    /// round runs, so rounds never overlap.
    mirrored: tokio::sync::Mutex<Option<u64>>,
}

impl Mirror {
    /// A copy in `blobs` that catches up every `interval`.
    pub fn new(blobs: Blobs, interval: Duration) -> Mirror {
        Mirror {
            blobs,
            interval,
            mirrored: tokio::sync::Mutex::new(None),
        }
    }

    /// Catches the copy up with the latest checkpoint, round by round:
    /// what fails is tried again at the next call.
    pub async fn catch_up(&self, receipts: &Receipts) {
        let latest = match receipts.latest().await {
            Ok(Some(latest)) => latest,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot read the checkpoint to copy the receipts log; trying at the next interval");
                return;
            }
        };
        loop {
            match self.publish(receipts, &latest).await {
                Ok(size) if size < latest.size => tokio::task::yield_now().await,
                Ok(_) => return,
                Err(error) => {
                    tracing::warn!(%error, "copying the receipts log to the object store failed; retrying at the next interval");
                    return;
                }
            }
        }
    }

    /// Copies what `checkpoint` has that the copy lacks (at most
    /// [`TILES_PER_ROUND`] level-0 tiles' worth), then the checkpoint
    /// itself once everything it covers is there. Returns the size the
    /// copy is complete for.
    async fn publish(
        &self,
        receipts: &Receipts,
        checkpoint: &StoredCheckpoint,
    ) -> Result<u64, String> {
        let mut mirrored = self.mirrored.lock().await;
        let first = mirrored.is_none();
        let from = match *mirrored {
            Some(size) => size,
            None => self.read_progress().await?,
        };
        if from >= checkpoint.size && !(first && from == checkpoint.size) {
            // Nothing new (or another instance copied a larger checkpoint):
            // the copy never goes back.
            *mirrored = Some(from);
            return Ok(from.max(checkpoint.size));
        }
        let tile = airlock_receipts::TILE_WIDTH;
        let to = checkpoint.size.min((from / tile + TILES_PER_ROUND) * tile);
        if to > from {
            for path in airlock_receipts::grown_tiles(from, to) {
                let bytes = match path {
                    TilePath::Hashes {
                        level,
                        index,
                        width,
                    } => {
                        let id = airlock_receipts::TileId { level, index };
                        receipts.tile(id, width.map(u64::from)).await
                    }
                    TilePath::Entries { index, width } => {
                        receipts.entry_bundle(index, width.map(u64::from)).await
                    }
                }
                .map_err(|error| error.to_string())?
                .ok_or_else(|| format!("{} is not in the log yet", path.to_path()))?;
                self.put(
                    &path.to_path(),
                    Bytes::from(bytes),
                    "application/octet-stream",
                )
                .await?;
            }
            self.put(
                PROGRESS,
                Bytes::from(to.to_string()),
                "text/plain; charset=utf-8",
            )
            .await?;
        }
        *mirrored = Some(to);
        if to == checkpoint.size {
            self.put(
                "checkpoint",
                Bytes::from(checkpoint.note.clone()),
                "text/plain; charset=utf-8",
            )
            .await?;
        }
        Ok(to)
    }

    /// Starts catching the copy up every interval, while the gateway runs.
    pub(super) fn spawn(receipts: Arc<Receipts>) -> Option<tokio::task::JoinHandle<()>> {
        let interval = receipts.mirror.as_ref()?.interval;
        Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Some(mirror) = &receipts.mirror {
                    mirror.catch_up(&receipts).await;
                }
            }
        }))
    }

    async fn put(&self, path: &str, bytes: Bytes, content_type: &str) -> Result<(), String> {
        let key = format!("{PREFIX}/{path}");
        self.blobs
            .put(&key, bytes, content_type)
            .await
            .map_err(|error| format!("writing {key}: {error}"))
    }

    /// The size the copy is complete for, as the object store says (0 for
    /// a copy not begun).
    async fn read_progress(&self) -> Result<u64, String> {
        let key = format!("{PREFIX}/{PROGRESS}");
        match self.blobs.get(&key, None).await {
            Ok(object) => {
                let bytes = object.bytes().await.map_err(|error| error.to_string())?;
                std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|text| text.trim().parse().ok())
                    .ok_or_else(|| format!("{key} does not hold a tree size"))
            }
            Err(airlock_store::BlobError::NotFound) => Ok(0),
            Err(error) => Err(format!("reading {key}: {error}")),
        }
    }
}
