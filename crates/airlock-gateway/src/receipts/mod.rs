//! Verifiable receipts (see `docs/receipts.md`): each request's receipt
//! is a leaf of one append-only Merkle tree that the request log's writer
//! appends to (`airlock_store`), checkpoints of the tree signed as C2SP
//! signed notes at an interval, and the proofs that tie a receipt, or an
//! older checkpoint, to the latest one.
//!
//! `Receipts` is what the state holds: the signing key (and a witness's
//! key that cosigns each checkpoint, when configured), the store, and the
//! full tiles read so far (they never change, so they are kept in memory,
//! bounded). `proofs.rs` reads the tiles a proof needs; `anchor.rs`
//! publishes checkpoints to a webhook.

mod anchor;
mod mirror;
mod proofs;

use std::sync::Arc;
use std::time::Duration;

use airlock_receipts::tiles::TileId;
use airlock_receipts::{
    Checkpoint, CosignerKey, CosignerVerifier, Hash, SignerKey, VerifierKey, sign_note,
};
use airlock_store::{ReceiptClaims, Store, StoreError, StoredCheckpoint, StoredReceipt};

pub use anchor::Anchor;
pub use mirror::Mirror;
pub use proofs::TileCache;

/// The receipts log of a gateway.
pub struct Receipts {
    store: Store,
    signer: SignerKey,
    /// A second key that cosigns each checkpoint (C2SP tlog-cosignature).
    witness: Option<CosignerKey>,
    /// Where checkpoints are published, when anywhere.
    anchor: Option<Anchor>,
    /// The object store the log's tiles are copied to, when they are.
    mirror: Option<Mirror>,
    origin: String,
    interval: Duration,
    tiles: TileCache,
    /// The latest checkpoint as of the last look at the store (each
    /// interval): what proofs are made against.
    latest: std::sync::Mutex<Option<StoredCheckpoint>>,
}

/// A receipt with what proves it: its inclusion proof against the latest
/// checkpoint.
pub struct ProvenReceipt {
    pub receipt: StoredReceipt,
    pub proof: Vec<Hash>,
    pub checkpoint: StoredCheckpoint,
}

/// Why a receipt cannot be given yet.
pub enum ReceiptLookup {
    Proven(Box<ProvenReceipt>),
    /// Stored, but no checkpoint covers it yet: ask again shortly.
    Pending,
    NotFound,
}

impl Receipts {
    /// A log signed by `signer`, whose name is the checkpoints' origin,
    /// checkpointed every `interval` when it grew.
    pub fn new(store: Store, signer: SignerKey, interval: Duration) -> Receipts {
        let origin = signer.name().to_string();
        Receipts {
            store,
            signer,
            witness: None,
            anchor: None,
            mirror: None,
            origin,
            interval,
            tiles: TileCache::new(),
            latest: std::sync::Mutex::new(None),
        }
    }

    /// Each checkpoint cosigned by `witness` too.
    pub fn with_witness(mut self, witness: CosignerKey) -> Receipts {
        self.witness = Some(witness);
        self
    }

    /// Checkpoints published through `anchor`.
    pub fn with_anchor(mut self, anchor: Anchor) -> Receipts {
        self.anchor = Some(anchor);
        self
    }

    /// The log's tiles and checkpoints copied to an object store as it
    /// grows.
    pub fn with_mirror(mut self, mirror: Mirror) -> Receipts {
        self.mirror = Some(mirror);
        self
    }

    /// The key that checks the witness's cosignatures, when there is one.
    pub fn witness(&self) -> Option<CosignerVerifier> {
        self.witness.as_ref().map(CosignerKey::verifier)
    }

    /// The key that verifies the log's checkpoints.
    pub fn verifier(&self) -> VerifierKey {
        self.signer.verifier()
    }

    /// How often a grown tree is checkpointed.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// A new request's claims: a fresh receipt id, digests to come. The
    /// id is a UUIDv7 (`rcpt_` and 32 hex digits), so it tells when it was
    /// made; its random bits come from a fast generator, as a request id's.
    pub fn claims() -> ReceiptClaims {
        let random = fastrand::u128(..).to_le_bytes();
        let mut bits = [0u8; 10];
        bits.copy_from_slice(&random[..10]);
        let id = uuid::Builder::from_unix_timestamp_millis(crate::clock::now_ms() as u64, &bits)
            .into_uuid();
        ReceiptClaims {
            receipt_id: format!("{RECEIPT_ID_PREFIX}{}", id.simple()),
            ..ReceiptClaims::default()
        }
    }

    /// The receipt `receipt_id` with its proof, for a caller who may read
    /// receipts of `project` (`None`: any project).
    pub async fn lookup(
        &self,
        receipt_id: &str,
        project: Option<&str>,
    ) -> Result<ReceiptLookup, StoreError> {
        let Some(mut receipt) = self.store.receipt(receipt_id).await? else {
            // Given moments ago: the request log's writer has not appended it yet.
            return Ok(match issued_within(receipt_id, PENDING_WINDOW_MS) {
                true => ReceiptLookup::Pending,
                false => ReceiptLookup::NotFound,
            });
        };
        if project.is_some() && receipt.project_id.as_deref() != project {
            return Ok(ReceiptLookup::NotFound);
        }
        let Some(checkpoint) = self.latest().await? else {
            return Ok(ReceiptLookup::Pending);
        };
        if checkpoint.size <= receipt.leaf_index {
            return Ok(ReceiptLookup::Pending);
        }
        let (leaf, size) = (receipt.leaf_index, checkpoint.size);
        let leaf_tile = TileId {
            level: 0,
            index: leaf / airlock_receipts::tiles::TILE_WIDTH,
        };
        self.tiles
            .hold(leaf_tile, std::mem::take(&mut receipt.leaf_tile));
        let proof = self
            .tiles
            .compute(&self.store, size, |hashes| {
                airlock_receipts::inclusion_proof(leaf, size, hashes)
            })
            .await?
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok(ReceiptLookup::Proven(Box::new(ProvenReceipt {
            receipt,
            proof,
            checkpoint,
        })))
    }

    /// The latest signed checkpoint: as last seen (by [`Receipts::checkpoint`],
    /// each interval), or read from the store the first time.
    pub async fn latest(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        if let Some(latest) = self.held_latest() {
            return Ok(Some(latest));
        }
        self.refresh_latest().await
    }

    fn held_latest(&self) -> Option<StoredCheckpoint> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The latest checkpoint in the store (another instance may have signed
    /// a larger one), held from now on.
    async fn refresh_latest(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let latest = self.store.latest_receipt_checkpoint().await?;
        self.hold_latest(latest.clone());
        Ok(latest)
    }

    /// Holds `checkpoint` if it is larger than the one held.
    fn hold_latest(&self, checkpoint: Option<StoredCheckpoint>) {
        let mut held = self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let larger = |new: &StoredCheckpoint| held.as_ref().is_none_or(|old| new.size > old.size);
        if let Some(checkpoint) = checkpoint.filter(larger) {
            *held = Some(checkpoint);
        }
    }

    /// The proof that the tree of `old` leaves is a prefix of the tree of
    /// `new` leaves (`new` at most the latest checkpoint's size).
    pub async fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofRefused> {
        let latest = self.latest().await?.map_or(0, |checkpoint| checkpoint.size);
        if new > latest {
            return Err(ProofRefused::Beyond(latest));
        }
        if old > new {
            return Err(ProofRefused::Order);
        }
        let proof = self
            .tiles
            .compute(&self.store, new, |hashes| {
                airlock_receipts::consistency_proof(old, new, hashes)
            })
            .await?
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok(proof)
    }

    /// The stored hashes of one tile, at most `width` of them (all when
    /// `None`), or `None` when the tree does not have that many yet.
    pub async fn tile(
        &self,
        id: TileId,
        width: Option<u64>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let wanted = width.unwrap_or(airlock_receipts::tiles::TILE_WIDTH);
        let Some(hashes) = self.tiles.tile(&self.store, id, wanted).await? else {
            return Ok(None);
        };
        if (hashes.len() as u64) < wanted {
            return Ok(None);
        }
        Ok(Some(
            hashes[..wanted as usize]
                .iter()
                .flat_map(|hash| hash.0)
                .collect(),
        ))
    }

    /// The entry bundle of tile `index`: at most `width` entries (all 256
    /// when `None`), or `None` when the tree does not have them yet.
    pub async fn entry_bundle(
        &self,
        index: u64,
        width: Option<u64>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let wanted = width.unwrap_or(airlock_receipts::tiles::TILE_WIDTH);
        let from = index * airlock_receipts::tiles::TILE_WIDTH;
        let entries = self.store.receipt_entries(from, from + wanted).await?;
        if (entries.len() as u64) < wanted {
            return Ok(None);
        }
        let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        airlock_receipts::tiles::entry_bundle(&entries)
            .map(Some)
            .map_err(|error| StoreError::Corrupt(error.to_string()))
    }

    /// Signs a checkpoint of the tree as it is now, unless the latest one
    /// already covers it. Gives the latest checkpoint either way.
    pub async fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let latest = self.refresh_latest().await?;
        let size = self.store.receipt_log_size().await?;
        if latest.as_ref().is_some_and(|latest| latest.size >= size) || size == 0 {
            return Ok(latest);
        }
        let root = self
            .tiles
            .compute(&self.store, size, |hashes| {
                airlock_receipts::root(size, hashes)
            })
            .await?;
        let text = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .to_text();
        let mut note = sign_note(&text, &[&self.signer])
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        if let Some(witness) = &self.witness {
            let now = u64::try_from(crate::clock::now_ms() / 1000).unwrap_or(0);
            let cosignature = witness
                .cosign(&text, now)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            note.push_str(&cosignature);
        }
        let checkpoint = StoredCheckpoint {
            size,
            root,
            note,
            signed_at_ms: crate::clock::now_ms(),
        };
        self.store.insert_receipt_checkpoint(&checkpoint).await?;
        self.hold_latest(Some(checkpoint.clone()));
        Ok(Some(checkpoint))
    }

    /// Starts checkpointing the tree every interval, and publishing the
    /// latest checkpoint through the anchor when there is one, while the
    /// gateway runs.
    pub fn start(self: &Arc<Self>) -> Running {
        let tasks = std::iter::once(self.spawn_checkpoints())
            .chain(anchor::spawn(self.clone()))
            .chain(Mirror::spawn(self.clone()))
            .collect();
        Running {
            receipts: self.clone(),
            tasks,
        }
    }

    fn spawn_checkpoints(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let receipts = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(receipts.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = receipts.checkpoint().await {
                    tracing::warn!(%error, "receipts checkpoint failed; retrying at the next interval");
                }
            }
        })
    }
}

/// The receipts log's background tasks, while the gateway runs.
pub struct Running {
    receipts: Arc<Receipts>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops the tasks, then signs a checkpoint covering the last records'
    /// receipts (and brings the object store's copy up to it): call it
    /// once the request log is flushed.
    pub async fn finish(self) -> Result<(), StoreError> {
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
        self.receipts.checkpoint().await?;
        if let Some(mirror) = &self.receipts.mirror {
            mirror.catch_up(&self.receipts).await;
        }
        Ok(())
    }
}

/// What every receipt id starts with.
const RECEIPT_ID_PREFIX: &str = "rcpt_";

/// How long after its answer a receipt not yet in the log is pending,
/// not unknown: the request log's writer appends within this, even
/// retrying a failed batch.
const PENDING_WINDOW_MS: i64 = 60_000;

/// Whether `receipt_id` is one this gateway's clock made in the last
/// `window_ms` (its UUIDv7 timestamp).
fn issued_within(receipt_id: &str, window_ms: i64) -> bool {
    let Some(id) = receipt_id
        .strip_prefix(RECEIPT_ID_PREFIX)
        .and_then(|hex| uuid::Uuid::try_parse(hex).ok())
    else {
        return false;
    };
    let Some((seconds, nanos)) = id.get_timestamp().map(|time| time.to_unix()) else {
        return false;
    };
    let made_ms = (seconds as i64) * 1000 + i64::from(nanos / 1_000_000);
    let age = crate::clock::now_ms() - made_ms;
    (0..window_ms).contains(&age)
}

/// Why a consistency proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProofRefused {
    #[error("the log's latest checkpoint has {0} entries")]
    Beyond(u64),
    #[error("the first tree size must not exceed the second")]
    Order,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_id_tells_whether_it_was_made_within_a_window() {
        let fresh = Receipts::claims().receipt_id;
        assert!(fresh.starts_with("rcpt_") && fresh.len() == 37, "{fresh}");
        assert!(issued_within(&fresh, PENDING_WINDOW_MS));
        let hour_ago = uuid::Builder::from_unix_timestamp_millis(
            (crate::clock::now_ms() - 3_600_000) as u64,
            &[7; 10],
        )
        .into_uuid();
        assert!(!issued_within(
            &format!("rcpt_{}", hour_ago.simple()),
            PENDING_WINDOW_MS
        ));
        for other in ["rcpt_nothing", "nothing", "", &fresh[5..]] {
            assert!(!issued_within(other, PENDING_WINDOW_MS), "{other}");
        }
    }
}
