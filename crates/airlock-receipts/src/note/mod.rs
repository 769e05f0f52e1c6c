//! C2SP signed notes: a text ending in a newline, a blank line, then one
//! signature line per key, `— <key name> <base64(key hash || signature)>`.
//! Signing, parsing, and opening a note with a trusted verifier key. The
//! keys themselves are in [`keys`]; witnesses' cosignatures in [`cosign`].

pub mod cosign;
pub mod keys;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use cosign::{CosignerKey, CosignerVerifier, verify_cosignature};
pub use keys::{SignerKey, VerifierKey};

use crate::FormatError;

/// The most signatures a note may carry (C2SP asks verifiers to accept at
/// least 16).
const MAX_SIGNATURES: usize = 100;

/// The largest note accepted, in bytes.
const MAX_NOTE_BYTES: usize = 1_000_000;

/// What is wrong with a key, a note or its signatures.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    #[error("the signer key is malformed: {0}")]
    MalformedSignerKey(&'static str),
    #[error("the verifier key is malformed: {0}")]
    MalformedVerifierKey(&'static str),
    #[error("key name {name:?} is not allowed: it must be non-empty, without spaces or '+'")]
    InvalidKeyName { name: String },
    #[error("the key {name} says its hash is {stated:08x} but it is {computed:08x}")]
    KeyHashMismatch {
        name: String,
        stated: u32,
        computed: u32,
    },
    #[error("the system's random number generator failed")]
    Randomness,
    #[error("a note's text must end with a newline")]
    TextWithoutFinalNewline,
    #[error("a note must not hold control characters other than newline")]
    ControlCharacter,
    #[error("the note is over {MAX_NOTE_BYTES} bytes")]
    TooLarge,
    #[error("a note needs at least one signature")]
    NoSigners,
    #[error("the note has no blank line followed by signature lines")]
    NoSignatures,
    #[error("the note has over {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    #[error("the note has no signature by the key {name}+{key_hash:08x}")]
    NoSignatureByKey { name: String, key_hash: u32 },
    #[error("the signature by the key {name}+{key_hash:08x} does not verify")]
    BadSignature { name: String, key_hash: u32 },
    #[error("the note's text is not a checkpoint: {0}")]
    NotACheckpoint(#[from] FormatError),
    #[error("the checkpoint's origin {origin:?} is not the log key's name {key_name:?}")]
    OriginMismatch { origin: String, key_name: String },
}

/// A parsed note (its signatures not yet checked, unless it came from
/// [`open_note`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hash: u32,
    pub signature: Vec<u8>,
}

/// The signed note of `text` (which must end in a newline) by `signers`.
pub fn sign_note(text: &str, signers: &[&SignerKey]) -> Result<String, NoteError> {
    if signers.is_empty() {
        return Err(NoteError::NoSigners);
    }
    let mut note = format!("{text}\n");
    for signer in signers {
        note.push_str(&signer.sign(text)?);
    }
    Ok(note)
}

/// Splits a note into its text and signatures, checking their form but not
/// the signatures.
pub fn parse_note(note: &str) -> Result<Note, NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge);
    }
    check_characters(note)?;
    // The text ends at the note's last blank line.
    let (text, signature_lines) = note.rsplit_once("\n\n").ok_or(NoteError::NoSignatures)?;
    let signature_lines = signature_lines
        .strip_suffix('\n')
        .ok_or(NoteError::NoSignatures)?;
    if signature_lines.split('\n').count() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures);
    }
    let signatures = signature_lines
        .split('\n')
        .enumerate()
        .map(|(line, text)| parse_signature_line(line + 1, text))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Note {
        text: format!("{text}\n"),
        signatures,
    })
}

/// The note, once the signatures by `verifier` (matched by key name and
/// hash) check; signatures by other keys are kept but not checked.
pub fn open_note(note: &str, verifier: &VerifierKey) -> Result<Note, NoteError> {
    let note = parse_note(note)?;
    let mut by_verifier = note
        .signatures
        .iter()
        .filter(|signature| {
            signature.name == verifier.name() && signature.key_hash == verifier.key_hash()
        })
        .peekable();
    if by_verifier.peek().is_none() {
        return Err(NoteError::NoSignatureByKey {
            name: verifier.name().to_owned(),
            key_hash: verifier.key_hash(),
        });
    }
    if by_verifier.any(|signature| !verifier.verifies(&note.text, &signature.signature)) {
        return Err(NoteError::BadSignature {
            name: verifier.name().to_owned(),
            key_hash: verifier.key_hash(),
        });
    }
    Ok(note)
}

/// A note's text ends in a newline and holds no other control character.
pub(crate) fn check_note_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::TextWithoutFinalNewline);
    }
    check_characters(text)
}

fn check_characters(text: &str) -> Result<(), NoteError> {
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::ControlCharacter);
    }
    Ok(())
}

/// `— <name> <base64(key hash || signature)>`, without its newline.
fn parse_signature_line(line: usize, text: &str) -> Result<NoteSignature, NoteError> {
    let malformed = |reason| NoteError::MalformedSignatureLine { line, reason };
    let rest = text
        .strip_prefix("— ")
        .ok_or(malformed("it does not start with an em dash and a space"))?;
    let (name, encoded) = rest
        .split_once(' ')
        .ok_or(malformed("it has no space between key name and signature"))?;
    keys::check_key_name(name).map_err(|_| malformed("its key name is not allowed"))?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| malformed("its signature is not standard base64"))?;
    match bytes.split_first_chunk::<4>() {
        Some((key_hash, signature)) if !signature.is_empty() => Ok(NoteSignature {
            name: name.to_owned(),
            key_hash: u32::from_be_bytes(*key_hash),
            signature: signature.to_vec(),
        }),
        _ => Err(malformed(
            "its signature is shorter than a key hash and a signature",
        )),
    }
}
