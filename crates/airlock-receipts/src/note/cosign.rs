//! C2SP tlog-cosignature/v1 with Ed25519: a witness's statement that it saw
//! a checkpoint, at a time. The signature line is
//! `— <name> base64(key ID || timestamp || signature)`, the key ID the first
//! 4 bytes of SHA-256(name || "\n" || 0x04 || public key), the timestamp 8
//! bytes big-endian (POSIX seconds), and the Ed25519 signature over
//! `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's text.
//!
//! A cosigner's secret is an ordinary signer key text (`PRIVATE+KEY+…`,
//! what `SignerKey::generate` makes): the same Ed25519 key, with the
//! cosignature key ID. Its verifier key is written with type 0x04.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};

use super::keys::{SignerKey, check_key_name, ed25519_seed, key_id, public_key_of};
use super::{NoteError, check_note_text, parse_note};

/// The key ID type byte of Ed25519 cosignatures.
const COSIGNATURE_TYPE: u8 = 0x04;

/// Bytes of a cosignature after its key ID: timestamp and signature.
const TIMESTAMPED_SIGNATURE_BYTES: usize = 8 + 64;

/// A witness's private key, signing cosignatures under its name.
pub struct CosignerKey {
    name: String,
    key_id: u32,
    key_pair: Ed25519KeyPair,
}

impl fmt::Debug for CosignerKey {
    /// Names the key without showing its secret.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("CosignerKey")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl CosignerKey {
    /// The cosigner of a signer key text (`PRIVATE+KEY+…`).
    pub fn parse(text: &str) -> Result<CosignerKey, NoteError> {
        let signer = SignerKey::parse(text)?;
        let seed = ed25519_seed(text)?;
        let key_pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| NoteError::MalformedSignerKey("its seed is not an Ed25519 seed"))?;
        let public_key = public_key_of(&key_pair);
        Ok(CosignerKey {
            key_id: cosigner_key_id(signer.name(), &public_key),
            name: signer.name().to_owned(),
            key_pair,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, to check this key's cosignatures.
    pub fn verifier(&self) -> CosignerVerifier {
        CosignerVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            public_key: public_key_of(&self.key_pair),
        }
    }

    /// The cosignature line over a checkpoint's `text` at `timestamp`
    /// (POSIX seconds), ending in a newline.
    pub fn cosign(&self, text: &str, timestamp: u64) -> Result<String, NoteError> {
        check_note_text(text)?;
        let signature = self
            .key_pair
            .sign(signed_message(text, timestamp).as_bytes());
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(signature.as_ref());
        Ok(format!("— {} {}\n", self.name, STANDARD.encode(bytes)))
    }
}

/// A witness's public key: `<name>+<key ID>+<base64(0x04 || public key)>`.
#[derive(Clone, Debug, PartialEq)]
pub struct CosignerVerifier {
    name: String,
    key_id: u32,
    public_key: [u8; 32],
}

impl CosignerVerifier {
    pub fn parse(text: &str) -> Result<CosignerVerifier, NoteError> {
        let malformed = NoteError::MalformedVerifierKey;
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(stated), Some(key)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("it does not have the form <name>+<key ID>+<key>"));
        };
        check_key_name(name)?;
        let stated = (stated.len() == 8)
            .then(|| u32::from_str_radix(stated, 16).ok())
            .flatten()
            .ok_or(malformed("its key ID is not 8 hex digits"))?;
        let bytes = STANDARD
            .decode(key)
            .map_err(|_| malformed("its key is not standard base64"))?;
        let public_key = match bytes.split_first() {
            Some((&COSIGNATURE_TYPE, key)) => <[u8; 32]>::try_from(key)
                .map_err(|_| malformed("its Ed25519 key is not 32 bytes"))?,
            _ => return Err(malformed("it is not an Ed25519 cosigner (type 0x04) key")),
        };
        let computed = cosigner_key_id(name, &public_key);
        if computed != stated {
            return Err(NoteError::KeyHashMismatch {
                name: name.to_owned(),
                stated,
                computed,
            });
        }
        Ok(CosignerVerifier {
            name: name.to_owned(),
            key_id: computed,
            public_key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for CosignerVerifier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![COSIGNATURE_TYPE];
        bytes.extend_from_slice(&self.public_key);
        write!(
            formatter,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(bytes)
        )
    }
}

/// The time (POSIX seconds) of `cosigner`'s cosignature on `note`, once it
/// verifies.
pub fn verify_cosignature(note: &str, cosigner: &CosignerVerifier) -> Result<u64, NoteError> {
    let note = parse_note(note)?;
    let signature = note
        .signatures
        .iter()
        .find(|signature| signature.name == cosigner.name && signature.key_hash == cosigner.key_id)
        .ok_or_else(|| NoteError::NoSignatureByKey {
            name: cosigner.name.clone(),
            key_hash: cosigner.key_id,
        })?;
    let bad = || NoteError::BadSignature {
        name: cosigner.name.clone(),
        key_hash: cosigner.key_id,
    };
    if signature.signature.len() != TIMESTAMPED_SIGNATURE_BYTES {
        return Err(bad());
    }
    let (timestamp, ed25519) = signature.signature.split_at(8);
    let timestamp = u64::from_be_bytes(timestamp.try_into().map_err(|_| bad())?);
    if timestamp > i64::MAX as u64 {
        return Err(bad());
    }
    UnparsedPublicKey::new(&ED25519, cosigner.public_key)
        .verify(signed_message(&note.text, timestamp).as_bytes(), ed25519)
        .map_err(|_| bad())?;
    Ok(timestamp)
}

fn signed_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

fn cosigner_key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    key_id(name, COSIGNATURE_TYPE, public_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::sign_note;

    #[test]
    fn a_cosignature_verifies_with_its_time_and_fails_on_anything_else() {
        let (log_text, _) = SignerKey::generate("example.com/log").unwrap();
        let log = SignerKey::parse(&log_text).unwrap();
        let (witness_text, _) = SignerKey::generate("witness.example/w1").unwrap();
        let witness = CosignerKey::parse(&witness_text).unwrap();
        let verifier = CosignerVerifier::parse(&witness.verifier().to_string()).unwrap();
        assert_eq!(verifier, witness.verifier());
        let text = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let mut note = sign_note(text, &[&log]).unwrap();
        note.push_str(&witness.cosign(text, 1_679_315_147).unwrap());
        assert_eq!(verify_cosignature(&note, &verifier), Ok(1_679_315_147));
        // The log's own signature still opens the note beside it.
        crate::note::open_note(&note, &log.verifier()).unwrap();

        // Another text, another time or another witness does not verify.
        let other = note.replace("\n5\n", "\n6\n");
        assert!(matches!(
            verify_cosignature(&other, &verifier),
            Err(NoteError::BadSignature { .. })
        ));
        let (stranger_text, _) = SignerKey::generate("witness.example/w1").unwrap();
        let stranger = CosignerKey::parse(&stranger_text).unwrap().verifier();
        assert!(matches!(
            verify_cosignature(&note, &stranger),
            Err(NoteError::NoSignatureByKey { .. })
        ));
        // A log key is not a cosigner key: the type byte differs.
        assert!(CosignerVerifier::parse(&log.verifier().to_string()).is_err());
        assert_ne!(
            witness.verifier().to_string(),
            SignerKey::parse(&witness_text)
                .unwrap()
                .verifier()
                .to_string()
        );
    }
}
