//! Test support: a deterministic random number generator and a tiled log
//! kept in memory, grown only through `airlock_receipts::append`.

use std::collections::HashMap;

use airlock_receipts::{Hash, TileId, TileSet, append, edge_tiles, leaf_hash};

/// SplitMix64: reproducible pseudo-random numbers without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// The leaf hashes of entries "0", "1", ... as big-endian u32s.
pub fn leaves(count: u32) -> Vec<Hash> {
    (0..count).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// A log's tiles as a store would hold them: the latest contents of each.
#[derive(Default)]
pub struct TiledLog {
    pub size: u64,
    pub tiles: HashMap<TileId, Vec<Hash>>,
}

impl TiledLog {
    /// Appends leaf hashes the way a log would: read the edge tiles, call
    /// `append`, store what it returns. Returns the tiles written.
    pub fn append(&mut self, leaves: &[Hash]) -> Vec<(TileId, Vec<Hash>)> {
        let mut partials = Vec::new();
        for (tile, width) in edge_tiles(self.size) {
            let level = tile.level as usize;
            partials.resize(level + 1, Vec::new());
            let stored = &self.tiles[&tile];
            assert_eq!(stored.len() as u64, width, "stored edge tile {tile:?}");
            partials[level] = stored.clone();
        }
        let written = append(self.size, &partials, leaves).expect("append");
        for (tile, hashes) in &written {
            assert!(!hashes.is_empty() && hashes.len() <= 256, "{tile:?}");
            self.tiles.insert(*tile, hashes.clone());
        }
        self.size += leaves.len() as u64;
        written
    }

    /// Every stored tile, as fetched for a tree of the log's current size.
    pub fn tile_set(&self) -> TileSet {
        self.tile_set_of(self.tiles.keys().copied())
    }

    /// The given tiles, cut to their width in a tree of the current size.
    pub fn tile_set_of(&self, tiles: impl IntoIterator<Item = TileId>) -> TileSet {
        let mut set = TileSet::new();
        for tile in tiles {
            let width = tile.width_at(self.size) as usize;
            set.insert(tile, self.tiles[&tile][..width].to_vec());
        }
        set
    }
}
