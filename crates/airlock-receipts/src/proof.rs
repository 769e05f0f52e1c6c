//! Computing a tree's root, inclusion proofs (RFC 6962 §2.1.1 `PATH`) and
//! consistency proofs (§2.1.2 `PROOF`) from the hashes of complete
//! subtrees, which a [`SubtreeHashes`] source provides (stored tiles, say).
//!
//! Every `MTH(D[k:n])` the RFC's recursion needs is either a complete
//! subtree or the right edge of one; the latter is computed by splitting
//! the range into descending aligned powers of two and folding their
//! hashes from the right.

use crate::hash::{Hash, empty_root, largest_power_of_two_below, node_hash};

pub use crate::verify::{verify_consistency, verify_inclusion};

/// A source of complete subtree hashes.
pub trait SubtreeHashes {
    /// The hash of the complete subtree of height `height` (2^height
    /// leaves) with index `index`: the one over leaves
    /// `index * 2^height .. (index + 1) * 2^height`.
    fn subtree(&mut self, height: u32, index: u64) -> Hash;
}

/// Why a proof cannot be made or does not verify.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    #[error("leaf {leaf} is not in a tree of {size}")]
    LeafNotInTree { leaf: u64, size: u64 },
    #[error("a tree of {old} leaves cannot be a prefix of a tree of {new}")]
    OldLargerThanNew { old: u64, new: u64 },
    #[error("proof has {got} hashes, expected {expected}")]
    WrongProofLength { got: usize, expected: usize },
    #[error("the inclusion proof does not lead to the checkpoint's root hash")]
    InclusionRootMismatch,
    #[error("the consistency proof does not lead to the old checkpoint's root hash")]
    OldRootMismatch,
    #[error("the consistency proof does not lead to the new checkpoint's root hash")]
    NewRootMismatch,
    #[error("two trees of {size} leaves have different root hashes")]
    SameSizeDifferentRoots { size: u64 },
    #[error("the root hash given for the empty tree is not SHA-256 of nothing")]
    NotTheEmptyRoot,
}

/// MTH of the first `size` leaves: [`empty_root`] for 0.
pub fn root(size: u64, hashes: &mut impl SubtreeHashes) -> Hash {
    if size == 0 {
        return empty_root();
    }
    range_hash(0, size, hashes)
}

/// RFC 6962 `PATH(leaf, D[size])`: the audit path of leaf `leaf`, from the
/// leaf's sibling up to the root's child.
pub fn inclusion_proof(
    leaf: u64,
    size: u64,
    hashes: &mut impl SubtreeHashes,
) -> Result<Vec<Hash>, ProofError> {
    if leaf >= size {
        return Err(ProofError::LeafNotInTree { leaf, size });
    }
    let mut proof = Vec::new();
    audit_path(leaf, 0, size, hashes, &mut proof);
    Ok(proof)
}

/// RFC 6962 `PROOF(old, D[new])`: empty when `old` is 0 or equals `new`
/// (RFC 9162 defines the proof only for `0 < old < new`).
pub fn consistency_proof(
    old: u64,
    new: u64,
    hashes: &mut impl SubtreeHashes,
) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::OldLargerThanNew { old, new });
    }
    let mut proof = Vec::new();
    if old != 0 && old != new {
        subproof(old, 0, new, true, hashes, &mut proof);
    }
    Ok(proof)
}

/// `PATH` over the leaves `start..end`, `leaf` among them; appends the
/// path's hashes to `proof`, deepest first.
fn audit_path(
    leaf: u64,
    start: u64,
    end: u64,
    hashes: &mut impl SubtreeHashes,
    proof: &mut Vec<Hash>,
) {
    if end - start == 1 {
        return;
    }
    let split = start + largest_power_of_two_below(end - start);
    if leaf < split {
        audit_path(leaf, start, split, hashes, proof);
        proof.push(range_hash(split, end, hashes));
    } else {
        audit_path(leaf, split, end, hashes, proof);
        proof.push(range_hash(start, split, hashes));
    }
}

/// `SUBPROOF(old_end - start, D[start:end], old_is_whole_subtree)`.
fn subproof(
    old_end: u64,
    start: u64,
    end: u64,
    old_is_whole_subtree: bool,
    hashes: &mut impl SubtreeHashes,
    proof: &mut Vec<Hash>,
) {
    if old_end == end {
        if !old_is_whole_subtree {
            proof.push(range_hash(start, end, hashes));
        }
        return;
    }
    let split = start + largest_power_of_two_below(end - start);
    if old_end <= split {
        subproof(old_end, start, split, old_is_whole_subtree, hashes, proof);
        proof.push(range_hash(split, end, hashes));
    } else {
        subproof(old_end, split, end, false, hashes, proof);
        proof.push(range_hash(start, split, hashes));
    }
}

/// `MTH(D[start:end])` for a range of the RFC's recursion, where `start`
/// is a multiple of the smallest power of two not below `end - start`: the
/// range's complete subtrees are aligned powers of two in descending
/// order, and its hash folds theirs from the right.
fn range_hash(start: u64, end: u64, hashes: &mut impl SubtreeHashes) -> Hash {
    let mut subtrees = Vec::new();
    let mut at = start;
    while at < end {
        let height = 63 - (end - at).leading_zeros();
        subtrees.push(hashes.subtree(height, at >> height));
        at += 1 << height;
    }
    let mut folded = subtrees.pop().unwrap_or_else(empty_root);
    while let Some(left) = subtrees.pop() {
        folded = node_hash(&left, &folded);
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, merkle_root_of};

    /// Subtree hashes straight from a list of leaf hashes.
    struct Leaves(Vec<Hash>);

    impl SubtreeHashes for Leaves {
        fn subtree(&mut self, height: u32, index: u64) -> Hash {
            let width = 1usize << height;
            let start = index as usize * width;
            merkle_root_of(&self.0[start..start + width])
        }
    }

    #[test]
    fn root_folds_subtrees_like_mth() {
        let leaves: Vec<Hash> = (0u32..40).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut source = Leaves(leaves.clone());
        for size in 0..=leaves.len() {
            assert_eq!(
                root(size as u64, &mut source),
                merkle_root_of(&leaves[..size]),
                "size {size}"
            );
        }
    }

    #[test]
    fn proofs_refuse_impossible_positions() {
        let mut source = Leaves(vec![leaf_hash(b"a"); 5]);
        assert_eq!(
            inclusion_proof(7, 5, &mut source),
            Err(ProofError::LeafNotInTree { leaf: 7, size: 5 })
        );
        assert_eq!(
            inclusion_proof(0, 0, &mut source),
            Err(ProofError::LeafNotInTree { leaf: 0, size: 0 })
        );
        assert_eq!(
            consistency_proof(5, 4, &mut source),
            Err(ProofError::OldLargerThanNew { old: 5, new: 4 })
        );
        assert_eq!(consistency_proof(0, 5, &mut source), Ok(vec![]));
        assert_eq!(consistency_proof(5, 5, &mut source), Ok(vec![]));
        assert_eq!(
            ProofError::LeafNotInTree { leaf: 7, size: 5 }.to_string(),
            "leaf 7 is not in a tree of 5"
        );
    }
}
