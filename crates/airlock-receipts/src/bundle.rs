//! A receipt as a client holds it: the entry, its place in the tree, an
//! inclusion proof and the signed checkpoint it is proven against, and
//! its offline verification.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, open_checkpoint};
use crate::entry::ReceiptEntry;
use crate::hash::{Hash, leaf_hash, sha256_hex};
use crate::note::VerifierKey;
use crate::proof::verify_inclusion;

/// What `GET /v1/receipts/{id}` answers and `airlock receipts verify` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptBundle {
    /// Always `receipt`.
    pub object: String,
    pub id: String,
    pub leaf_index: u64,
    /// The entry, for reading: verification checks it is `entry_base64`'s.
    pub entry: ReceiptEntry,
    /// The entry's exact bytes, as hashed into the leaf.
    pub entry_base64: String,
    /// The inclusion proof's hashes (base64), leaf to root.
    pub inclusion_proof: Vec<String>,
    /// The checkpoint (a C2SP signed note) the proof leads to.
    pub checkpoint: String,
}

/// The bodies a verifier may hold, to check against the entry's digests.
#[derive(Debug, Default, Clone, Copy)]
pub struct Bodies<'a> {
    /// The request body as sent.
    pub request: Option<&'a [u8]>,
    /// The answer: a complete body as received, or a stream's text.
    pub response: Option<&'a [u8]>,
}

/// What a verified receipt proved.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub checkpoint: Checkpoint,
    pub leaf_index: u64,
    pub entry: ReceiptEntry,
    pub request_checked: bool,
    pub response_checked: bool,
}

/// Why a receipt did not verify. Each message says what was wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(String),
    #[error("the entry is not valid base64")]
    EntryEncoding,
    #[error("the entry's bytes are not a receipt entry: {0}")]
    EntryFormat(String),
    #[error("the readable entry differs from the entry's bytes (the bytes are what is proven)")]
    EntryMismatch,
    #[error("the receipt's id {0} is not the entry's {1}")]
    IdMismatch(String, String),
    #[error("inclusion proof hash {0} is not a valid hash")]
    ProofEncoding(usize),
    #[error("the entry is not in the log: {0}")]
    Inclusion(String),
    #[error("the {0} body's SHA-256 {1} is not the receipt's {2}")]
    BodyMismatch(&'static str, String, String),
    #[error("the receipt records no SHA-256 of the {0} body to check it against")]
    NoBodyDigest(&'static str),
}

impl ReceiptBundle {
    /// The entry's exact bytes.
    pub fn entry_bytes(&self) -> Result<Vec<u8>, VerifyError> {
        STANDARD
            .decode(&self.entry_base64)
            .map_err(|_| VerifyError::EntryEncoding)
    }

    /// Verifies the receipt offline: the checkpoint's signature by
    /// `verifier`, the entry's inclusion in the checkpoint's tree, and,
    /// for each body given, its SHA-256 against the entry's.
    pub fn verify(&self, verifier: &VerifierKey, bodies: Bodies) -> Result<Verified, VerifyError> {
        let checkpoint = open_checkpoint(&self.checkpoint, verifier)
            .map_err(|error| VerifyError::Checkpoint(error.to_string()))?;
        let bytes = self.entry_bytes()?;
        let entry: ReceiptEntry = serde_json::from_slice(&bytes)
            .map_err(|error| VerifyError::EntryFormat(error.to_string()))?;
        if entry != self.entry {
            return Err(VerifyError::EntryMismatch);
        }
        if entry.receipt != self.id {
            return Err(VerifyError::IdMismatch(self.id.clone(), entry.receipt));
        }
        let proof = self
            .inclusion_proof
            .iter()
            .enumerate()
            .map(|(at, hash)| Hash::from_base64(hash).map_err(|_| VerifyError::ProofEncoding(at)))
            .collect::<Result<Vec<_>, _>>()?;
        verify_inclusion(
            &leaf_hash(&bytes),
            self.leaf_index,
            checkpoint.size,
            &proof,
            &checkpoint.root,
        )
        .map_err(|error| VerifyError::Inclusion(error.to_string()))?;
        let request_checked = check_body("request", bodies.request, &entry.request_sha256)?;
        let response_checked = check_body("response", bodies.response, &entry.response_sha256)?;
        Ok(Verified {
            checkpoint,
            leaf_index: self.leaf_index,
            entry,
            request_checked,
            response_checked,
        })
    }
}

/// Whether `body` was checked against `digest` (an error when it differs,
/// or when there is a body but no digest to check it against).
fn check_body(
    which: &'static str,
    body: Option<&[u8]>,
    digest: &Option<String>,
) -> Result<bool, VerifyError> {
    let Some(body) = body else {
        return Ok(false);
    };
    let Some(expected) = digest else {
        return Err(VerifyError::NoBodyDigest(which));
    };
    let actual = sha256_hex(body);
    if &actual != expected {
        return Err(VerifyError::BodyMismatch(which, actual, expected.clone()));
    }
    Ok(true)
}
