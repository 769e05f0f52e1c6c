//! Appending leaves to a tiled tree: which tiles change and their new
//! contents, given only the tree's right-edge partial tiles.

use super::{TILE_HEIGHT, TILE_WIDTH, TileId, hashes_at_level};
use crate::hash::{Hash, merkle_root_of};

/// Levels a tree of at most 2^64 leaves can have tiles at.
const LEVELS: u32 = u64::BITS / TILE_HEIGHT;

/// Why [`append`] cannot compute the new tiles.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum TileError {
    #[error(
        "the partial tile at level {level} of a tree of {size} has {expected} hashes, {found} were given"
    )]
    PartialWidth {
        level: u32,
        size: u64,
        expected: u64,
        found: u64,
    },
    #[error("a tree of {size} leaves cannot take {added} more")]
    TreeTooLarge { size: u64, added: usize },
}

/// The tiles whose contents change when `leaves` (leaf hashes) are
/// appended to a tree of `size` leaves whose right-edge partial tiles are
/// `partials`: `partials[L]` holds the hashes of the last, incomplete tile
/// at level L (`(size >> 8L) & 255` of them; empty, or absent past the
/// end of the slice, when that is 0).
///
/// Returns every tile to write with its full new contents: the tiles that
/// fill up (their roots cascading to the level above) and the new partial
/// tiles, level by level, in index order.
pub fn append(
    size: u64,
    partials: &[Vec<Hash>],
    leaves: &[Hash],
) -> Result<Vec<(TileId, Vec<Hash>)>, TileError> {
    check_partials(size, partials)?;
    let too_large = TileError::TreeTooLarge {
        size,
        added: leaves.len(),
    };
    u64::try_from(leaves.len())
        .ok()
        .and_then(|added| size.checked_add(added))
        .ok_or(too_large)?;

    let mut written = Vec::new();
    let mut incoming = leaves.to_vec();
    let mut level = 0;
    while !incoming.is_empty() {
        let mut index = hashes_at_level(size, level) >> TILE_HEIGHT;
        let mut tile = partials.get(level as usize).cloned().unwrap_or_default();
        let mut full_tile_roots = Vec::new();
        for hash in incoming {
            tile.push(hash);
            if tile.len() as u64 == TILE_WIDTH {
                full_tile_roots.push(merkle_root_of(&tile));
                written.push((TileId { level, index }, std::mem::take(&mut tile)));
                index += 1;
            }
        }
        if !tile.is_empty() {
            written.push((TileId { level, index }, tile));
        }
        incoming = full_tile_roots;
        level += 1;
    }
    Ok(written)
}

/// The partial tiles [`append`] needs for a tree of `size` leaves: each
/// level's last tile with its width, for the levels where that is not 0.
pub fn edge_tiles(size: u64) -> Vec<(TileId, u64)> {
    (0..LEVELS)
        .filter_map(|level| {
            let hashes = hashes_at_level(size, level);
            let width = hashes % TILE_WIDTH;
            let tile = TileId {
                level,
                index: hashes >> TILE_HEIGHT,
            };
            (width > 0).then_some((tile, width))
        })
        .collect()
}

fn check_partials(size: u64, partials: &[Vec<Hash>]) -> Result<(), TileError> {
    let levels = partials.len().max(LEVELS as usize);
    for (level, position) in (0..).zip(0..levels) {
        let expected = hashes_at_level(size, level) % TILE_WIDTH;
        let found = partials.get(position).map_or(0, Vec::len) as u64;
        if found != expected {
            return Err(TileError::PartialWidth {
                level,
                size,
                expected,
                found,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn leaves(range: std::ops::Range<u32>) -> Vec<Hash> {
        range.map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn edge_tiles_follow_the_spec_examples() {
        let tile = |level, index| TileId { level, index };
        assert_eq!(
            edge_tiles(70_000),
            vec![(tile(0, 273), 112), (tile(1, 1), 17), (tile(2, 0), 1)]
        );
        // A tree of 256: a full level-0 tile and a level-1 partial of 1.
        assert_eq!(edge_tiles(256), vec![(tile(1, 0), 1)]);
        assert_eq!(edge_tiles(0), vec![]);
        assert_eq!(edge_tiles(u64::MAX).len(), 8);
    }

    #[test]
    fn filling_a_tile_cascades_its_root() {
        let first = leaves(0..200);
        let written = append(0, &[], &first).expect("append to an empty tree");
        assert_eq!(
            written,
            vec![(TileId { level: 0, index: 0 }, first.clone())]
        );

        let second = leaves(200..300);
        let written = append(200, std::slice::from_ref(&first), &second).expect("append");
        let mut full = first;
        full.extend_from_slice(&second[..56]);
        let ids: Vec<TileId> = written.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            vec![
                TileId { level: 0, index: 0 },
                TileId { level: 0, index: 1 },
                TileId { level: 1, index: 0 },
            ]
        );
        assert_eq!(written[0].1, full);
        assert_eq!(written[1].1, second[56..]);
        assert_eq!(written[2].1, vec![merkle_root_of(&full)]);
    }

    #[test]
    fn partials_must_match_the_size() {
        let three = leaves(0..3);
        assert_eq!(
            append(4, std::slice::from_ref(&three), &three),
            Err(TileError::PartialWidth {
                level: 0,
                size: 4,
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            append(3, &[three.clone(), three.clone()], &three),
            Err(TileError::PartialWidth {
                level: 1,
                size: 3,
                expected: 0,
                found: 3
            })
        );
        assert_eq!(
            append(256, &[], &three),
            Err(TileError::PartialWidth {
                level: 1,
                size: 256,
                expected: 1,
                found: 0
            })
        );
        assert_eq!(append(3, &[three.clone(), vec![]], &[]), Ok(vec![]));
        let nearly_full: Vec<Vec<Hash>> = edge_tiles(u64::MAX - 1)
            .into_iter()
            .map(|(_, width)| vec![Hash::default(); width as usize])
            .collect();
        assert_eq!(
            append(u64::MAX - 1, &nearly_full, &three),
            Err(TileError::TreeTooLarge {
                size: u64::MAX - 1,
                added: 3
            })
        );
        assert_eq!(
            append(u64::MAX, &[], &three),
            Err(TileError::PartialWidth {
                level: 0,
                size: u64::MAX,
                expected: 255,
                found: 0
            })
        );
    }
}
