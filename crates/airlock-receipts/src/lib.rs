//! The math and formats of Airlock's receipts transparency log: pure
//! functions, no I/O, no database, nothing async.
//!
//! - [`hash`]: RFC 6962 leaf and node hashes.
//! - [`proof`] and [`verify`]: the Merkle tree hash, inclusion and
//!   consistency proofs (RFC 6962 §2.1.1/§2.1.2), computed from complete
//!   subtree hashes, and their verification (RFC 9162 §2.1.3.2/§2.1.4.2).
//! - [`tiles`]: the C2SP tlog-tiles layout: tile paths, which tiles an
//!   append writes, proofs read through stored tiles, entry bundles.
//! - [`note`]: C2SP signed notes with Ed25519 keys in Go's key formats,
//!   and C2SP tlog-cosignature/v1 cosignatures of witnesses.
//! - [`checkpoint`]: C2SP tlog-checkpoint note bodies.
//! - [`entry`] and [`bundle`]: a receipt's log entry, and the receipt a
//!   client holds (entry, inclusion proof, checkpoint) and its offline
//!   verification.
//!
//! Storing tiles and checkpoints, and serving them, belong to the crates
//! that use this one.

pub mod bundle;
pub mod checkpoint;
mod decimal;
pub mod entry;
pub mod error;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tiles;
pub mod verify;

pub use bundle::{Bodies, ReceiptBundle, Verified, VerifyError};
pub use checkpoint::{Checkpoint, open_checkpoint};
pub use entry::{CheckResult, ReceiptChecks, ReceiptEntry, ReceiptUsage};
pub use error::FormatError;
pub use hash::{Hash, empty_root, leaf_hash, node_hash, sha256_hex};
pub use note::{
    CosignerKey, CosignerVerifier, Note, NoteError, NoteSignature, SignerKey, VerifierKey,
    open_note, parse_note, sign_note, verify_cosignature,
};
pub use proof::{ProofError, SubtreeHashes, consistency_proof, inclusion_proof, root};
pub use tiles::{
    NeededTiles, TILE_HEIGHT, TILE_WIDTH, TileError, TileId, TilePath, TileSet, append, edge_tiles,
    entry_bundle, grown_tiles, parse_entry_bundle,
};
pub use verify::{verify_consistency, verify_inclusion};
