//! [`SubtreeHashes`] sources over tiles: [`TileSet`] reads subtree hashes
//! out of stored tiles, [`NeededTiles`] only records which tiles a
//! computation would read, so a caller can fetch exactly those first.

use std::collections::{BTreeSet, HashMap};

use super::{TILE_HEIGHT, TileId};
use crate::hash::{Hash, merkle_root_of};
use crate::proof::SubtreeHashes;

/// Where the hashes of a complete subtree are: the tile, the position of
/// its first hash there, and how many hashes (2^(height % 8)) it spans.
fn locate(height: u32, index: u64) -> (TileId, usize, usize) {
    let level = height / TILE_HEIGHT;
    let height_in_tile = height % TILE_HEIGHT;
    let subtrees_per_tile_bits = TILE_HEIGHT - height_in_tile;
    let tile = TileId {
        level,
        index: index >> subtrees_per_tile_bits,
    };
    let position_in_tile = index & ((1 << subtrees_per_tile_bits) - 1);
    let first = (position_in_tile << height_in_tile) as usize;
    (tile, first, 1 << height_in_tile)
}

/// Tiles as stored (full or partial), answering subtree hashes from them.
/// A subtree whose tile is absent or too narrow gives a zero hash and is
/// recorded: check [`TileSet::missing`] after a computation.
#[derive(Debug, Default)]
pub struct TileSet {
    tiles: HashMap<TileId, Vec<Hash>>,
    missing: Option<TileId>,
}

impl TileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tile's hashes, replacing any earlier contents of that tile.
    pub fn insert(&mut self, id: TileId, hashes: Vec<Hash>) {
        self.tiles.insert(id, hashes);
    }

    /// The first tile a computation needed but this set lacked (or had
    /// too few hashes of); when `Some`, the computation's result is wrong.
    pub fn missing(&self) -> Option<TileId> {
        self.missing
    }
}

impl SubtreeHashes for TileSet {
    fn subtree(&mut self, height: u32, index: u64) -> Hash {
        let (tile, first, count) = locate(height, index);
        let run = self
            .tiles
            .get(&tile)
            .and_then(|hashes| hashes.get(first..first + count));
        match run {
            Some(run) => merkle_root_of(run),
            None => {
                self.missing.get_or_insert(tile);
                Hash::default()
            }
        }
    }
}

/// Records the tiles a computation reads and answers zero hashes: run a
/// proof with it, fetch [`NeededTiles::tiles`], then run it again with a
/// [`TileSet`] of them.
#[derive(Debug, Default)]
pub struct NeededTiles {
    tiles: BTreeSet<TileId>,
}

impl NeededTiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// The tiles read so far, sorted, each once.
    pub fn tiles(&self) -> Vec<TileId> {
        self.tiles.iter().copied().collect()
    }
}

impl SubtreeHashes for NeededTiles {
    fn subtree(&mut self, height: u32, index: u64) -> Hash {
        self.tiles.insert(locate(height, index).0);
        Hash::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_subtrees_in_their_tiles() {
        let tile = |level, index| TileId { level, index };
        assert_eq!(locate(0, 0), (tile(0, 0), 0, 1));
        assert_eq!(locate(0, 257), (tile(0, 1), 1, 1));
        assert_eq!(locate(3, 33), (tile(0, 1), 8, 8));
        assert_eq!(locate(7, 3), (tile(0, 1), 128, 128));
        assert_eq!(locate(8, 0), (tile(1, 0), 0, 1));
        assert_eq!(locate(12, 17), (tile(1, 1), 16, 16));
        assert_eq!(locate(16, 1), (tile(2, 0), 1, 1));
        assert_eq!(locate(0, u64::MAX), (tile(0, u64::MAX >> 8), 255, 1));
    }

    #[test]
    fn reports_the_first_missing_tile() {
        let mut tiles = TileSet::new();
        tiles.insert(TileId { level: 0, index: 0 }, vec![Hash([1; 32]); 4]);
        assert_eq!(
            tiles.subtree(1, 1),
            crate::node_hash(&Hash([1; 32]), &Hash([1; 32]))
        );
        assert_eq!(tiles.missing(), None);
        assert_eq!(tiles.subtree(2, 1), Hash::default());
        assert_eq!(tiles.subtree(8, 0), Hash::default());
        assert_eq!(tiles.missing(), Some(TileId { level: 0, index: 0 }));
    }
}
