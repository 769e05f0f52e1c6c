//! The C2SP tlog-tiles layout of a tree: tiles of height 8 (256 hashes
//! wide). The level-L tile with index N holds the hashes of the complete
//! subtrees of height 8·L numbered N·256 .. N·256 + W; the last tile of a
//! level is partial (W < 256) until it fills.
//!
//! - [`TileId`]: which tile, and its width in a tree of a given size.
//! - [`path`]: tile and entry bundle paths.
//! - [`mod@append`]: the tiles an append writes.
//! - [`sources`]: proofs computed through stored tiles.
//! - [`bundle`]: entry bundles.

pub mod append;
pub mod bundle;
pub mod path;
pub mod sources;

pub use append::{TileError, append, edge_tiles};
pub use bundle::{entry_bundle, parse_entry_bundle};
pub use path::TilePath;
pub use sources::{NeededTiles, TileSet};

/// A tile holds the hashes of subtrees 8 levels apart.
pub const TILE_HEIGHT: u32 = 8;

/// A full tile has 2^8 hashes.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// A tile: its level (0 holds leaf hashes) and index within the level.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct TileId {
    pub level: u32,
    pub index: u64,
}

impl TileId {
    /// How many hashes this tile has in a tree of `size` leaves: 256 when
    /// full, fewer for the level's last (partial) tile, 0 when the tile
    /// does not exist yet.
    pub fn width_at(&self, size: u64) -> u64 {
        let hashes = hashes_at_level(size, self.level);
        let full_tiles = hashes >> TILE_HEIGHT;
        match self.index.cmp(&full_tiles) {
            std::cmp::Ordering::Less => TILE_WIDTH,
            std::cmp::Ordering::Equal => hashes % TILE_WIDTH,
            std::cmp::Ordering::Greater => 0,
        }
    }

    /// The path of this tile as it is in a tree of `size` leaves (partial
    /// or full), or `None` when it has no hashes there.
    pub fn path_at(&self, size: u64) -> Option<TilePath> {
        let width = match self.width_at(size) {
            0 => return None,
            TILE_WIDTH => None,
            partial => Some(partial as u16),
        };
        Some(TilePath::Hashes {
            level: self.level,
            index: self.index,
            width,
        })
    }
}

/// The tiles and entry bundles that a copy of the log holding everything
/// for a tree of `old` leaves lacks for a tree of `new` leaves: at each
/// level, the tiles that filled since, and the level's partial tile at
/// `new` (when that level grew); with each level-0 tile, its entry bundle.
/// In level order, each level's tiles in index order.
pub fn grown_tiles(old: u64, new: u64) -> Vec<TilePath> {
    let mut paths = Vec::new();
    for level in 0..u64::BITS / TILE_HEIGHT {
        let (before, after) = (hashes_at_level(old, level), hashes_at_level(new, level));
        if after <= before {
            continue;
        }
        let partial = after % TILE_WIDTH;
        let last = match partial {
            0 => after >> TILE_HEIGHT,
            _ => (after >> TILE_HEIGHT) + 1,
        };
        for index in before >> TILE_HEIGHT..last {
            let width = match index == after >> TILE_HEIGHT {
                true => Some(partial as u16),
                false => None,
            };
            paths.push(TilePath::Hashes {
                level,
                index,
                width,
            });
            if level == 0 {
                paths.push(TilePath::Entries { index, width });
            }
        }
    }
    paths
}

/// How many complete subtrees of height 8·`level` a tree of `size` leaves
/// has, i.e. how many hashes the tiles of that level hold together.
pub(crate) fn hashes_at_level(size: u64, level: u32) -> u64 {
    level
        .checked_mul(TILE_HEIGHT)
        .and_then(|height| size.checked_shr(height))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grown_tiles_are_the_filled_tiles_and_the_new_partial_ones() {
        let paths = |old, new| -> Vec<String> {
            grown_tiles(old, new)
                .iter()
                .map(TilePath::to_path)
                .collect()
        };
        assert_eq!(
            paths(0, 3),
            ["tile/0/000.p/3", "tile/entries/000.p/3"].map(String::from)
        );
        assert!(paths(5, 5).is_empty());
        // 256 → 513: tile 0/001 filled, 0/002 partial, level 1 grew to 2.
        assert_eq!(
            paths(256, 513),
            [
                "tile/0/001",
                "tile/entries/001",
                "tile/0/002.p/1",
                "tile/entries/002.p/1",
                "tile/1/000.p/2",
            ]
            .map(String::from)
        );
        // Growing within one level-0 tile leaves level 1 alone.
        assert_eq!(
            paths(300, 310),
            ["tile/0/001.p/54", "tile/entries/001.p/54"].map(String::from)
        );
        // Every tile a tree of `new` leaves has is written by some step
        // on the way from 0, once full and at the last partial width.
        let mut written = std::collections::BTreeSet::new();
        let mut size = 0;
        for step in [1, 255, 700, 65_536, 3, 70_000] {
            written.extend(paths(size, size + step));
            size += step;
        }
        for level in 0..3 {
            let full = hashes_at_level(size, level) >> TILE_HEIGHT;
            for index in 0..=full {
                let tile = TileId { level, index };
                if let Some(path) = tile.path_at(size) {
                    assert!(written.contains(&path.to_path()), "{path:?}");
                }
            }
        }
    }

    #[test]
    fn widths_follow_the_spec_example_of_70000_leaves() {
        // tlog-tiles: 273 full level-0 tiles, a partial of width 112, one
        // full level-1 tile, a partial of 17, a level-2 partial of 1.
        let size = 70_000;
        let tile = |level, index| TileId { level, index };
        assert_eq!(tile(0, 272).width_at(size), 256);
        assert_eq!(tile(0, 273).width_at(size), 112);
        assert_eq!(tile(0, 274).width_at(size), 0);
        assert_eq!(tile(1, 0).width_at(size), 256);
        assert_eq!(tile(1, 1).width_at(size), 17);
        assert_eq!(tile(2, 0).width_at(size), 1);
        assert_eq!(tile(3, 0).width_at(size), 0);
        assert_eq!(tile(99, 0).width_at(size), 0);
        assert_eq!(
            tile(0, 273).path_at(size).map(|p| p.to_path()).as_deref(),
            Some("tile/0/273.p/112")
        );
        assert_eq!(
            tile(1, 0).path_at(size).map(|p| p.to_path()).as_deref(),
            Some("tile/1/000")
        );
        assert_eq!(tile(3, 0).path_at(size), None);
    }
}
