//! SHA-256 hashes and the RFC 6962 §2.1 hashing of a Merkle tree: leaves
//! hashed with a 0x00 prefix, interior nodes with 0x01, the empty tree as
//! the hash of nothing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::FormatError;

/// A SHA-256 hash: a leaf, a node or a tree's root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// Standard base64 with padding, as checkpoints carry root hashes.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads standard base64 (canonical padding) of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Hash, FormatError> {
        let bytes = STANDARD
            .decode(text)
            .map_err(|_| FormatError::Base64("the hash"))?;
        Hash::from_slice(&bytes)
    }

    /// Lowercase hexadecimal.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The hash in `bytes`, which must be exactly 32 long.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, FormatError> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| FormatError::HashLength(bytes.len()))
    }
}

/// The hash of a log entry as a leaf: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    Hash(
        Sha256::new()
            .chain_update([0x00])
            .chain_update(entry)
            .finalize()
            .into(),
    )
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Hash(
        Sha256::new()
            .chain_update([0x01])
            .chain_update(left.0)
            .chain_update(right.0)
            .finalize()
            .into(),
    )
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// Plain SHA-256 of `bytes` in lowercase hexadecimal (not a tree hash).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// MTH of a list of hashes taken as the tree's lowest level (RFC 6962
/// §2.1: split at the largest power of two below the length).
pub(crate) fn merkle_root_of(hashes: &[Hash]) -> Hash {
    match hashes {
        [] => empty_root(),
        [only] => *only,
        _ => {
            let (left, right) =
                hashes.split_at(largest_power_of_two_below(hashes.len() as u64) as usize);
            node_hash(&merkle_root_of(left), &merkle_root_of(right))
        }
    }
}

/// The largest power of two strictly below `n`, for `n >= 2` (RFC 6962's
/// `k`); 1 for smaller `n`.
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    if n < 2 {
        return 1;
    }
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(sha256_hex(b""), empty_root().to_hex());
    }

    #[test]
    fn base64_round_trips_and_rejects_wrong_lengths() {
        let hash = leaf_hash(b"entry");
        assert_eq!(Hash::from_base64(&hash.to_base64()), Ok(hash));
        assert_eq!(Hash::from_base64("AAAA"), Err(FormatError::HashLength(3)));
        assert_eq!(
            Hash::from_base64("not base64!"),
            Err(FormatError::Base64("the hash"))
        );
        assert_eq!(Hash::from_slice(&[0; 33]), Err(FormatError::HashLength(33)));
    }

    #[test]
    fn largest_power_of_two_below_splits_like_rfc_6962() {
        let cases = [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (256, 128),
            (257, 256),
        ];
        for (n, k) in cases {
            assert_eq!(largest_power_of_two_below(n), k, "n = {n}");
        }
        assert_eq!(largest_power_of_two_below(u64::MAX), 1 << 63);
    }
}
