//! Property checks: a log grown by `append` in random-sized batches gives,
//! through its tiles, the roots and proofs of the naive reference, for
//! every size up to 600 and across the 256 and 65536 tile boundaries; the
//! proofs verify, and corrupted ones fail with the right error.

use airlock_receipts::{
    Hash, NeededTiles, ProofError, TileId, consistency_proof, edge_tiles, entry_bundle,
    inclusion_proof, leaf_hash, parse_entry_bundle, root, verify_consistency, verify_inclusion,
};

use crate::reference::Reference;
use crate::support::{Rng, TiledLog, leaves};

const SIZES: u32 = 600;

/// A log of `SIZES` leaves grown in random batches, checking the root and
/// a proof of each kind through the tiles after every batch.
fn grown_log(rng: &mut Rng, reference: &mut Reference) -> TiledLog {
    let leaves = leaves(SIZES);
    let mut log = TiledLog::default();
    while log.size < u64::from(SIZES) {
        let batch = rng.between(1, 80).min(u64::from(SIZES) - log.size) as usize;
        let start = log.size as usize;
        log.append(&leaves[start..start + batch]);
        let size = log.size;
        let mut tiles = log.tile_set();
        assert_eq!(
            root(size, &mut tiles),
            reference.mth(0, size as usize),
            "size {size}"
        );
        let leaf = rng.between(0, size - 1);
        assert_eq!(
            inclusion_proof(leaf, size, &mut tiles),
            Ok(reference.path(leaf as usize, size as usize))
        );
        let old = rng.between(1, size);
        let expected = if old == size {
            vec![]
        } else {
            reference.proof(old as usize, size as usize)
        };
        assert_eq!(consistency_proof(old, size, &mut tiles), Ok(expected));
        assert_eq!(tiles.missing(), None, "size {size}");
    }
    log
}

#[test]
fn proofs_through_appended_tiles_match_the_reference_and_verify() {
    let mut rng = Rng::new(1);
    let leaves = leaves(SIZES);
    let mut reference = Reference::new(leaves.clone());
    let log = grown_log(&mut rng, &mut reference);
    let mut tiles = log.tile_set();
    for size in 1..=u64::from(SIZES) {
        let tree_root = reference.mth(0, size as usize);
        assert_eq!(root(size, &mut tiles), tree_root, "size {size}");
        for leaf in [0, size - 1, rng.between(0, size - 1)] {
            let proof = inclusion_proof(leaf, size, &mut tiles).expect("leaf in tree");
            assert_eq!(
                proof,
                reference.path(leaf as usize, size as usize),
                "leaf {leaf} of {size}"
            );
            assert_eq!(
                verify_inclusion(&leaves[leaf as usize], leaf, size, &proof, &tree_root),
                Ok(()),
                "leaf {leaf} of {size}"
            );
        }
        for old in [size / 2, rng.between(1, size)] {
            if old == 0 {
                continue;
            }
            let proof = consistency_proof(old, size, &mut tiles).expect("old <= new");
            let expected = if old == size {
                vec![]
            } else {
                reference.proof(old as usize, size as usize)
            };
            assert_eq!(proof, expected, "{old} to {size}");
            let old_root = reference.mth(0, old as usize);
            assert_eq!(
                verify_consistency(old, size, &old_root, &tree_root, &proof),
                Ok(()),
                "{old} to {size}"
            );
        }
        assert_eq!(consistency_proof(0, size, &mut tiles), Ok(vec![]));
        assert_eq!(
            verify_consistency(0, size, &airlock_receipts::empty_root(), &tree_root, &[]),
            Ok(())
        );
    }
    assert_eq!(tiles.missing(), None);
}

/// The length of RFC 6962's PATH(leaf, D[size]), following its recursion.
fn path_len(leaf: u64, size: u64) -> usize {
    if size == 1 {
        return 0;
    }
    let k = 1 << (63 - (size - 1).leading_zeros());
    1 + if leaf < k {
        path_len(leaf, k)
    } else {
        path_len(leaf - k, size - k)
    }
}

#[test]
fn corrupted_proofs_fail_with_the_right_error() {
    let mut rng = Rng::new(2);
    let leaves = leaves(SIZES);
    let mut reference = Reference::new(leaves.clone());
    let log = grown_log(&mut rng, &mut reference);
    let mut tiles = log.tile_set();
    for size in (2..=u64::from(SIZES)).step_by(7) {
        let tree_root = reference.mth(0, size as usize);
        let leaf = rng.between(0, size - 1);
        let proof = inclusion_proof(leaf, size, &mut tiles).expect("leaf in tree");
        let leaf_hash = leaves[leaf as usize];
        for position in 0..proof.len() {
            let mut flipped = proof.clone();
            flipped[position].0[rng.between(0, 31) as usize] ^= 1 << rng.between(0, 7);
            assert_eq!(
                verify_inclusion(&leaf_hash, leaf, size, &flipped, &tree_root),
                Err(ProofError::InclusionRootMismatch)
            );
        }
        // Another position: the proof's length decides which error. (A
        // size that keeps the path's shape is no probe: leaf 6's path is
        // the same in trees of 9 and 10, so the proof for 9 also leads to
        // 9's root when called one of 10. Go's tests probe size * 2 and
        // size / 2.)
        for (other_leaf, other_size) in [
            (leaf + 1, size),
            (leaf ^ 1, size),
            (leaf, size * 2),
            (leaf, size / 2),
        ] {
            if other_leaf >= other_size {
                continue;
            }
            let expected_len = path_len(other_leaf, other_size);
            let expected = if expected_len == proof.len() {
                ProofError::InclusionRootMismatch
            } else {
                ProofError::WrongProofLength {
                    got: proof.len(),
                    expected: expected_len,
                }
            };
            assert_eq!(
                verify_inclusion(&leaf_hash, other_leaf, other_size, &proof, &tree_root),
                Err(expected),
                "leaf {other_leaf} of {other_size} with the proof of {leaf} of {size}"
            );
        }
        assert_eq!(
            verify_inclusion(&leaf_hash, size, size, &proof, &tree_root),
            Err(ProofError::LeafNotInTree { leaf: size, size })
        );

        let old = rng.between(1, size - 1);
        let old_root = reference.mth(0, old as usize);
        let proof = consistency_proof(old, size, &mut tiles).expect("old < new");
        for position in 0..proof.len() {
            let mut flipped = proof.clone();
            flipped[position].0[rng.between(0, 31) as usize] ^= 1 << rng.between(0, 7);
            let error = verify_consistency(old, size, &old_root, &tree_root, &flipped);
            assert!(
                matches!(
                    error,
                    Err(ProofError::OldRootMismatch | ProofError::NewRootMismatch)
                ),
                "{old} to {size}, proof[{position}] flipped: {error:?}"
            );
        }
        let mut longer = proof.clone();
        longer.push(tree_root);
        assert_eq!(
            verify_consistency(old, size, &old_root, &tree_root, &longer),
            Err(ProofError::WrongProofLength {
                got: longer.len(),
                expected: proof.len()
            })
        );
        // A complete old tree's root is not rebuilt from the proof but
        // feeds the new root, so a wrong one shows there.
        let wrong_old_root = if old.is_power_of_two() {
            ProofError::NewRootMismatch
        } else {
            ProofError::OldRootMismatch
        };
        assert_eq!(
            verify_consistency(old, size, &tree_root, &tree_root, &proof),
            Err(wrong_old_root)
        );
        assert_eq!(
            verify_consistency(old, size, &old_root, &old_root, &proof),
            Err(ProofError::NewRootMismatch)
        );
        assert_eq!(
            verify_consistency(size, old, &old_root, &tree_root, &proof),
            Err(ProofError::OldLargerThanNew {
                old: size,
                new: old
            })
        );
    }
}

#[test]
fn needed_tiles_are_the_tiles_a_proof_reads() {
    let mut rng = Rng::new(3);
    let leaves = leaves(SIZES);
    let mut reference = Reference::new(leaves);
    let log = grown_log(&mut rng, &mut reference);
    let size = log.size;
    for _ in 0..50 {
        let leaf = rng.between(0, size - 1);
        let mut needed = NeededTiles::new();
        inclusion_proof(leaf, size, &mut needed).expect("leaf in tree");
        let old = rng.between(1, size - 1);
        consistency_proof(old, size, &mut needed).expect("old < new");
        root(size, &mut needed);
        let tiles = needed.tiles();
        assert!(
            tiles.windows(2).all(|pair| pair[0] < pair[1]),
            "sorted, once each"
        );

        let mut fetched = log.tile_set_of(tiles.iter().copied());
        assert_eq!(
            inclusion_proof(leaf, size, &mut fetched),
            Ok(reference.path(leaf as usize, size as usize))
        );
        assert_eq!(
            consistency_proof(old, size, &mut fetched),
            Ok(reference.proof(old as usize, size as usize))
        );
        assert_eq!(root(size, &mut fetched), reference.mth(0, size as usize));
        assert_eq!(fetched.missing(), None);

        let left_out = tiles[rng.between(0, tiles.len() as u64 - 1) as usize];
        let mut incomplete =
            log.tile_set_of(tiles.iter().copied().filter(|tile| *tile != left_out));
        inclusion_proof(leaf, size, &mut incomplete).expect("leaf in tree");
        consistency_proof(old, size, &mut incomplete).expect("old < new");
        root(size, &mut incomplete);
        assert_eq!(incomplete.missing(), Some(left_out));
    }
}

#[test]
fn append_crosses_the_256_and_65536_boundaries() {
    const TOTAL: u32 = 70_000;
    let mut rng = Rng::new(4);
    let leaves = leaves(TOTAL);
    let mut reference = Reference::new(leaves.clone());
    let mut log = TiledLog::default();
    let stops = [
        1, 255, 256, 257, 511, 512, 513, 65_535, 65_536, 65_537, 65_791, 65_792, 70_000,
    ];
    for stop in stops {
        while log.size < stop {
            let batch = rng.between(1, 5000).min(stop - log.size) as usize;
            let start = log.size as usize;
            log.append(&leaves[start..start + batch]);
        }
        let mut tiles = log.tile_set();
        assert_eq!(
            root(stop, &mut tiles),
            reference.mth(0, stop as usize),
            "size {stop}"
        );
        let leaf = rng.between(0, stop - 1);
        let proof = inclusion_proof(leaf, stop, &mut tiles).expect("leaf in tree");
        let tree_root = reference.mth(0, stop as usize);
        assert_eq!(
            verify_inclusion(&leaves[leaf as usize], leaf, stop, &proof, &tree_root),
            Ok(())
        );
        assert_eq!(tiles.missing(), None);
    }
    // tlog-tiles' example: 273 full level-0 tiles and a partial of 112,
    // a full level-1 tile and a partial of 17, a level-2 partial of 1.
    let tile = |level, index| TileId { level, index };
    assert_eq!(
        edge_tiles(70_000),
        vec![(tile(0, 273), 112), (tile(1, 1), 17), (tile(2, 0), 1)]
    );
    let mut stored: Vec<(TileId, usize)> = log
        .tiles
        .iter()
        .map(|(id, hashes)| (*id, hashes.len()))
        .collect();
    stored.sort();
    let mut expected: Vec<(TileId, usize)> = (0..273).map(|index| (tile(0, index), 256)).collect();
    expected.extend([
        (tile(0, 273), 112),
        (tile(1, 0), 256),
        (tile(1, 1), 17),
        (tile(2, 0), 1),
    ]);
    assert_eq!(stored, expected);
}

#[test]
fn an_entry_bundle_hashes_to_its_level_0_tile() {
    let entries: Vec<Vec<u8>> = (0..300u32)
        .map(|i| format!("entry {i}").into_bytes())
        .collect();
    let mut log = TiledLog::default();
    log.append(
        &entries
            .iter()
            .map(|entry| leaf_hash(entry))
            .collect::<Vec<Hash>>(),
    );
    let partial: Vec<&[u8]> = entries[256..].iter().map(Vec::as_slice).collect();
    let bundle = entry_bundle(&partial).expect("short entries");
    let parsed = parse_entry_bundle(&bundle).expect("a bundle");
    let hashes: Vec<Hash> = parsed.iter().map(|entry| leaf_hash(entry)).collect();
    assert_eq!(hashes, log.tiles[&TileId { level: 0, index: 1 }]);
}
