//! Verifying inclusion proofs (RFC 9162 §2.1.3.2) and consistency proofs
//! (§2.1.4.2) against root hashes.
//!
//! Both algorithms walk two indexes up the tree (`fn`, `sn` in the RFC);
//! `sibling_sides` runs that walk without hashes, which gives the proof's
//! expected length before any hashing, so a proof of the wrong length is
//! reported as such.

use crate::hash::{Hash, empty_root, node_hash};
use crate::proof::ProofError;

/// Checks that `proof` shows a leaf with hash `leaf_hash` at index `leaf`
/// in the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    leaf: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if leaf >= size {
        return Err(ProofError::LeafNotInTree { leaf, size });
    }
    let sides = sibling_sides(leaf, size - 1);
    check_length(proof, sides.len())?;
    let mut hash = *leaf_hash;
    for (side, sibling) in sides.into_iter().zip(proof) {
        hash = match side {
            Side::Left => node_hash(sibling, &hash),
            Side::Right => node_hash(&hash, sibling),
        };
    }
    if hash != *root {
        return Err(ProofError::InclusionRootMismatch);
    }
    Ok(())
}

/// Checks that `proof` shows the tree of `old` leaves with root `old_root`
/// is a prefix of the tree of `new` leaves with root `new_root`. For
/// `old == 0` the proof is empty and `old_root` must be [`empty_root`];
/// for `old == new` the proof is empty and the roots must be equal.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OldLargerThanNew { old, new });
    }
    if old == 0 || old == new {
        check_length(proof, 0)?;
        if old == 0 && *old_root != empty_root() {
            return Err(ProofError::NotTheEmptyRoot);
        }
        if old == new && old_root != new_root {
            return Err(ProofError::SameSizeDifferentRoots { size: old });
        }
        return Ok(());
    }
    // RFC 9162 §2.1.4.2 steps 2–5: when the old tree is complete its root
    // starts both hashes; otherwise the proof's first hash does.
    let mut old_index = old - 1;
    let mut new_index = new - 1;
    while old_index & 1 == 1 {
        old_index >>= 1;
        new_index >>= 1;
    }
    let sides = sibling_sides(old_index, new_index);
    let old_is_complete = old.is_power_of_two();
    check_length(proof, sides.len() + usize::from(!old_is_complete))?;
    let (seed, rest) = match proof.split_first() {
        Some((first, rest)) if !old_is_complete => (*first, rest),
        _ => (*old_root, proof),
    };
    let (mut old_hash, mut new_hash) = (seed, seed);
    for (side, hash) in sides.into_iter().zip(rest) {
        match side {
            Side::Left => {
                old_hash = node_hash(hash, &old_hash);
                new_hash = node_hash(hash, &new_hash);
            }
            Side::Right => new_hash = node_hash(&new_hash, hash),
        }
    }
    if old_hash != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if new_hash != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

/// Where a proof hash goes relative to the hash computed so far.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Left,
    Right,
}

/// The RFC 9162 walk from `index` (`fn`) within a tree whose last index is
/// `last` (`sn`): one side per proof hash, until `sn` reaches 0.
fn sibling_sides(mut index: u64, mut last: u64) -> Vec<Side> {
    let mut sides = Vec::new();
    while last != 0 {
        if index & 1 == 1 || index == last {
            sides.push(Side::Left);
            while index & 1 == 0 && index != 0 {
                index >>= 1;
                last >>= 1;
            }
        } else {
            sides.push(Side::Right);
        }
        index >>= 1;
        last >>= 1;
    }
    sides
}

fn check_length(proof: &[Hash], expected: usize) -> Result<(), ProofError> {
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            expected,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn a_single_leaf_tree_has_an_empty_proof() {
        let hash = leaf_hash(b"data");
        assert_eq!(verify_inclusion(&hash, 0, 1, &[], &hash), Ok(()));
        assert_eq!(
            verify_inclusion(&hash, 0, 1, &[hash], &hash),
            Err(ProofError::WrongProofLength {
                got: 1,
                expected: 0
            })
        );
        assert_eq!(
            verify_inclusion(&hash, 0, 1, &[], &empty_root()),
            Err(ProofError::InclusionRootMismatch)
        );
    }

    #[test]
    fn trivial_consistency_checks_roots() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        assert_eq!(verify_consistency(0, 5, &empty_root(), &a, &[]), Ok(()));
        assert_eq!(
            verify_consistency(0, 5, &a, &a, &[]),
            Err(ProofError::NotTheEmptyRoot)
        );
        assert_eq!(verify_consistency(3, 3, &a, &a, &[]), Ok(()));
        assert_eq!(
            verify_consistency(3, 3, &a, &b, &[]),
            Err(ProofError::SameSizeDifferentRoots { size: 3 })
        );
        assert_eq!(
            verify_consistency(3, 3, &a, &a, &[a]),
            Err(ProofError::WrongProofLength {
                got: 1,
                expected: 0
            })
        );
        assert_eq!(
            verify_consistency(4, 3, &a, &b, &[]),
            Err(ProofError::OldLargerThanNew { old: 4, new: 3 })
        );
        assert_eq!(
            verify_consistency(1, 2, &a, &b, &[]),
            Err(ProofError::WrongProofLength {
                got: 0,
                expected: 1
            })
        );
    }
}
