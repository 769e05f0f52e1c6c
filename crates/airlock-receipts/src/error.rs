//! [`FormatError`]: what is wrong with a malformed encoding (a hash, a tile
//! path, an entry bundle, a checkpoint body).

/// A hash, tile path, entry bundle or checkpoint that does not follow its
/// format.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    #[error("a hash is 32 bytes, this one has {0}")]
    HashLength(usize),
    #[error("{0} is not standard base64")]
    Base64(&'static str),
    #[error("tile path {path:?} is malformed: {reason}")]
    TilePath { path: String, reason: &'static str },
    #[error("entry {index} has {len} bytes, more than an entry bundle's 65535")]
    EntryTooLong { index: usize, len: usize },
    #[error("the entry bundle ends inside entry {index}")]
    TruncatedEntryBundle { index: usize },
    #[error("the checkpoint is malformed: {0}")]
    Checkpoint(&'static str),
}
