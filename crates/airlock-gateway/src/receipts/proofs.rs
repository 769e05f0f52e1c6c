//! Reading the tiles a computation over the tree needs: a proof or a root
//! is run once to learn which tiles it reads, they are fetched (full ones
//! from memory when read before), and it is run again over them.

use std::sync::Arc;

use airlock_receipts::tiles::{NeededTiles, TILE_WIDTH, TileId, TileSet};
use airlock_receipts::{Hash, SubtreeHashes};
use airlock_store::{Store, StoreError};

/// Full tiles held at once (8 KiB each): the upper levels' and the most
/// recent ones, which most proofs read.
const FULL_TILES_KEPT: u64 = 4096;

/// Full tiles read so far. A full tile never changes; a partial one is
/// always read from the store.
pub struct TileCache(moka::sync::Cache<TileId, Arc<Vec<Hash>>>);

impl TileCache {
    pub fn new() -> TileCache {
        TileCache(moka::sync::Cache::new(FULL_TILES_KEPT))
    }

    /// `compute` run over the tiles it reads; an error when a tile it
    /// needs is not stored (a damaged tree).
    pub async fn compute<T>(
        &self,
        store: &Store,
        compute: impl Fn(&mut TileReader<'_>) -> T,
    ) -> Result<T, StoreError> {
        let mut needed = NeededTiles::new();
        compute(&mut TileReader::Needed(&mut needed));
        let mut tiles = TileSet::new();
        for id in needed.tiles() {
            if let Some(hashes) = self.tile(store, id).await? {
                tiles.insert(id, hashes.as_ref().clone());
            }
        }
        let value = compute(&mut TileReader::Tiles(&mut tiles));
        if let Some(missing) = tiles.missing() {
            return Err(StoreError::Corrupt(format!(
                "receipts tile {}/{} is missing or too short",
                missing.level, missing.index
            )));
        }
        Ok(value)
    }

    /// A tile's stored hashes, from memory when it is full and was read before.
    pub async fn tile(
        &self,
        store: &Store,
        id: TileId,
    ) -> Result<Option<Arc<Vec<Hash>>>, StoreError> {
        if let Some(hashes) = self.0.get(&id) {
            return Ok(Some(hashes));
        }
        let Some((_, hashes)) = store.receipt_tiles(&[id]).await?.into_iter().next() else {
            return Ok(None);
        };
        let hashes = Arc::new(hashes);
        if hashes.len() as u64 == TILE_WIDTH {
            self.0.insert(id, hashes.clone());
        }
        Ok(Some(hashes))
    }
}

impl Default for TileCache {
    fn default() -> Self {
        TileCache::new()
    }
}

/// The tree's hashes as a computation reads them: first which tiles it
/// needs are recorded, then they are read.
pub enum TileReader<'a> {
    Needed(&'a mut NeededTiles),
    Tiles(&'a mut TileSet),
}

impl SubtreeHashes for TileReader<'_> {
    fn subtree(&mut self, height: u32, index: u64) -> Hash {
        match self {
            TileReader::Needed(needed) => needed.subtree(height, index),
            TileReader::Tiles(tiles) => tiles.subtree(height, index),
        }
    }
}
