//! Ed25519 note keys in Go's `sumdb/note` text formats: signer keys
//! `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>` and verifier keys
//! `<name>+<hash>+<base64(0x01 || public key)>`, where the key hash is the
//! first 4 bytes of SHA-256(name || "\n" || 0x01 || public key).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use super::{NoteError, check_note_text};

/// The signed-note signature type of Ed25519.
const ED25519_TYPE: u8 = 0x01;

const SIGNER_PREFIX: &str = "PRIVATE+KEY+";

/// A private key that signs notes under a key name.
pub struct SignerKey {
    name: String,
    key_hash: u32,
    key_pair: Ed25519KeyPair,
}

impl fmt::Debug for SignerKey {
    /// Names the key without showing its secret.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SignerKey")
            .field("name", &self.name)
            .field("key_hash", &format_args!("{:08x}", self.key_hash))
            .finish_non_exhaustive()
    }
}

impl SignerKey {
    /// Reads a signer key `PRIVATE+KEY+<name>+<hash>+<base64>` and checks
    /// its hash against the key. Errors never quote the text.
    pub fn parse(text: &str) -> Result<SignerKey, NoteError> {
        let malformed = NoteError::MalformedSignerKey;
        let rest = text
            .strip_prefix(SIGNER_PREFIX)
            .ok_or(malformed("it does not start with PRIVATE+KEY+"))?;
        let (name, stated_hash, key) = split_key_text(rest).ok_or(malformed(
            "it does not have the form PRIVATE+KEY+<name>+<key hash>+<key>",
        ))?;
        check_key_name(name)?;
        let stated_hash =
            parse_key_hash(stated_hash).ok_or(malformed("its key hash is not 8 hex digits"))?;
        let seed = decode_ed25519_key(key).map_err(malformed)?;
        let key_pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| malformed("its seed is not an Ed25519 seed"))?;
        let signer = SignerKey {
            name: name.to_owned(),
            key_hash: key_hash(name, public_key_of(&key_pair)),
            key_pair,
        };
        if signer.key_hash != stated_hash {
            return Err(NoteError::KeyHashMismatch {
                name: signer.name,
                stated: stated_hash,
                computed: signer.key_hash,
            });
        }
        Ok(signer)
    }

    /// A new random key named `name`: its signer key text (secret) and its
    /// verifier key text.
    pub fn generate(name: &str) -> Result<(String, String), NoteError> {
        check_key_name(name)?;
        let mut seed = [0u8; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| NoteError::Randomness)?;
        let key_pair =
            Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| NoteError::Randomness)?;
        let key_hash = key_hash(name, public_key_of(&key_pair));
        let signer_text = format!(
            "{SIGNER_PREFIX}{name}+{key_hash:08x}+{}",
            encode_ed25519_key(&seed)
        );
        let signer = SignerKey {
            name: name.to_owned(),
            key_hash,
            key_pair,
        };
        Ok((signer_text, signer.verifier().to_string()))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, to verify this key's signatures.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_hash: self.key_hash,
            public_key: public_key_of(&self.key_pair),
        }
    }

    /// The signature line of this key over a note's `text` (which must end
    /// in a newline): `— <name> <base64(key hash || signature)>\n`.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_note_text(text)?;
        let signature = self.key_pair.sign(text.as_bytes());
        let mut bytes = self.key_hash.to_be_bytes().to_vec();
        bytes.extend_from_slice(signature.as_ref());
        Ok(format!("— {} {}\n", self.name, STANDARD.encode(bytes)))
    }
}

/// A public key that checks notes signed under a key name.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifierKey {
    name: String,
    key_hash: u32,
    public_key: [u8; 32],
}

impl VerifierKey {
    /// Reads a verifier key `<name>+<hash>+<base64>` and checks its hash
    /// against the key.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let malformed = NoteError::MalformedVerifierKey;
        let (name, stated_hash, key) = split_key_text(text).ok_or(malformed(
            "it does not have the form <name>+<key hash>+<key>",
        ))?;
        check_key_name(name)?;
        let stated_hash =
            parse_key_hash(stated_hash).ok_or(malformed("its key hash is not 8 hex digits"))?;
        let public_key = decode_ed25519_key(key).map_err(malformed)?;
        let computed = key_hash(name, public_key);
        if computed != stated_hash {
            return Err(NoteError::KeyHashMismatch {
                name: name.to_owned(),
                stated: stated_hash,
                computed,
            });
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_hash: computed,
            public_key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    /// Whether `signature` is this key's Ed25519 signature of `text`.
    pub(crate) fn verifies(&self, text: &str, signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, self.public_key)
            .verify(text.as_bytes(), signature)
            .is_ok()
    }
}

impl fmt::Display for VerifierKey {
    /// The verifier key text.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}+{:08x}+{}",
            self.name,
            self.key_hash,
            encode_ed25519_key(&self.public_key)
        )
    }
}

/// The seed of a signer key text already checked by [`SignerKey::parse`].
pub(crate) fn ed25519_seed(text: &str) -> Result<[u8; 32], NoteError> {
    let (_, _, key) = text
        .strip_prefix(SIGNER_PREFIX)
        .and_then(split_key_text)
        .ok_or(NoteError::MalformedSignerKey("it has no key"))?;
    decode_ed25519_key(key).map_err(NoteError::MalformedSignerKey)
}

/// Key names are non-empty, without spaces, control characters or '+'.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    let valid = !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+');
    if !valid {
        return Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// `<name>+<hash>+<key>`; the key's base64 may itself hold '+'.
fn split_key_text(text: &str) -> Option<(&str, &str, &str)> {
    let mut parts = text.splitn(3, '+');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

fn parse_key_hash(text: &str) -> Option<u32> {
    if text.len() != 8 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

fn key_hash(name: &str, public_key: [u8; 32]) -> u32 {
    key_id(name, ED25519_TYPE, &public_key)
}

/// The first 4 bytes of SHA-256(name || "\n" || key type || public key):
/// how a signature line names its key (the type 0x01 for a log's
/// signature, 0x04 for a witness's cosignature).
pub(crate) fn key_id(name: &str, key_type: u8, public_key: &[u8; 32]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n")
        .chain_update([key_type])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

pub(crate) fn public_key_of(key_pair: &Ed25519KeyPair) -> [u8; 32] {
    let mut public_key = [0u8; 32];
    public_key.copy_from_slice(key_pair.public_key().as_ref());
    public_key
}

fn encode_ed25519_key(key: &[u8; 32]) -> String {
    let mut bytes = vec![ED25519_TYPE];
    bytes.extend_from_slice(key);
    STANDARD.encode(bytes)
}

/// The 32 key bytes of `base64(0x01 || key)`.
fn decode_ed25519_key(text: &str) -> Result<[u8; 32], &'static str> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| "its key is not standard base64")?;
    match bytes.split_first() {
        Some((&ED25519_TYPE, key)) => {
            <[u8; 32]>::try_from(key).map_err(|_| "its Ed25519 key is not 32 bytes")
        }
        Some(_) => Err("its key is not an Ed25519 (type 0x01) key"),
        None => Err("its key is empty"),
    }
}
