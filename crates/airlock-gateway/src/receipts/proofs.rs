//! Reading what a computation over the tree needs: a proof or a root is
//! run once to learn which tiles it reads, they are fetched (from memory
//! when read before), and it is run again over them.
//!
//! The hashes of complete subtrees of 256 leaves or more are remembered
//! too: they never change, every proof reads a few of them, and each
//! costs up to 255 hashes to compute from its tile.

use std::collections::HashMap;
use std::sync::Arc;

use airlock_receipts::tiles::{NeededTiles, TILE_HEIGHT, TileId, TileSet};
use airlock_receipts::{Hash, SubtreeHashes};
use airlock_store::{Store, StoreError};

/// Tiles held at once (at most 8 KiB each): the upper levels' and the
/// right edge's, which every proof reads, and the most recent others.
const TILES_KEPT: u64 = 4096;

/// Subtree hashes held at once (a tree of ten million has about 78,000
/// subtrees of 256 leaves or more).
const SUBTREES_KEPT: u64 = 200_000;

/// A subtree (height, index) whose hash is held.
type SubtreeId = (u32, u64);

/// Tiles and large subtrees' hashes read so far. A tile only grows, and
/// its first hashes never change: one held with at least the hashes a
/// tree size needs serves it. A complete subtree's hash never changes.
pub struct TileCache {
    tiles: moka::sync::Cache<TileId, Arc<Vec<Hash>>>,
    subtrees: moka::sync::Cache<SubtreeId, Hash>,
}

impl TileCache {
    pub fn new() -> TileCache {
        TileCache {
            tiles: moka::sync::Cache::new(TILES_KEPT),
            subtrees: moka::sync::Cache::new(SUBTREES_KEPT),
        }
    }

    /// `compute` over the tree of `size` leaves, run over the tiles it
    /// reads; an error when a tile it needs is not stored (a damaged tree).
    pub async fn compute<T>(
        &self,
        store: &Store,
        size: u64,
        compute: impl Fn(&mut TileReader<'_>) -> T,
    ) -> Result<T, StoreError> {
        let mut needed = NeededTiles::new();
        // The held subtree hashes the first pass used: the second uses the
        // same, whatever was evicted meanwhile.
        let mut held = HashMap::new();
        compute(&mut TileReader::Needed {
            tiles: &mut needed,
            cache: self,
            held: &mut held,
        });
        let mut tiles = TileSet::new();
        for id in needed.tiles() {
            if let Some(hashes) = self.tile(store, id, id.width_at(size)).await? {
                tiles.insert(id, hashes.as_ref().clone());
            }
        }
        let value = compute(&mut TileReader::Tiles {
            tiles: &mut tiles,
            cache: self,
            held: &held,
        });
        if let Some(missing) = tiles.missing() {
            return Err(StoreError::Corrupt(format!(
                "receipts tile {}/{} is missing or too short",
                missing.level, missing.index
            )));
        }
        Ok(value)
    }

    /// Holds a tile's hashes read with something else (a receipt's leaf
    /// tile), unless a copy as long is held.
    pub fn hold(&self, id: TileId, hashes: Vec<Hash>) {
        let longer = self
            .tiles
            .get(&id)
            .is_none_or(|held| held.len() < hashes.len());
        if !hashes.is_empty() && longer {
            self.tiles.insert(id, Arc::new(hashes));
        }
    }

    /// A tile's stored hashes, at least `width` of them when the store
    /// has them: from memory when a copy held has as many.
    pub async fn tile(
        &self,
        store: &Store,
        id: TileId,
        width: u64,
    ) -> Result<Option<Arc<Vec<Hash>>>, StoreError> {
        if let Some(hashes) = self
            .tiles
            .get(&id)
            .filter(|held| held.len() as u64 >= width)
        {
            return Ok(Some(hashes));
        }
        let Some((_, hashes)) = store.receipt_tiles(&[id]).await?.into_iter().next() else {
            return Ok(None);
        };
        let hashes = Arc::new(hashes);
        self.tiles.insert(id, hashes.clone());
        Ok(Some(hashes))
    }
}

impl Default for TileCache {
    fn default() -> Self {
        TileCache::new()
    }
}

/// Whether a subtree's hash is worth holding: one of 256 leaves or more.
fn held_height(height: u32) -> bool {
    height >= TILE_HEIGHT
}

/// The tree's hashes as a computation reads them: first which tiles it
/// needs are recorded (a subtree hash held needs none), then they are read.
pub enum TileReader<'a> {
    Needed {
        tiles: &'a mut NeededTiles,
        cache: &'a TileCache,
        held: &'a mut HashMap<SubtreeId, Hash>,
    },
    Tiles {
        tiles: &'a mut TileSet,
        cache: &'a TileCache,
        held: &'a HashMap<SubtreeId, Hash>,
    },
}

impl SubtreeHashes for TileReader<'_> {
    fn subtree(&mut self, height: u32, index: u64) -> Hash {
        let id = (height, index);
        match self {
            TileReader::Needed { tiles, cache, held } => {
                match held_height(height)
                    .then(|| cache.subtrees.get(&id))
                    .flatten()
                {
                    Some(hash) => {
                        held.insert(id, hash);
                        hash
                    }
                    None => tiles.subtree(height, index),
                }
            }
            TileReader::Tiles { tiles, cache, held } => {
                if let Some(hash) = held.get(&id) {
                    return *hash;
                }
                let hash = tiles.subtree(height, index);
                if held_height(height) && tiles.missing().is_none() {
                    cache.subtrees.insert(id, hash);
                }
                hash
            }
        }
    }
}
