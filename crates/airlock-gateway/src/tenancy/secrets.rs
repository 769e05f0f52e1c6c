//! Key secrets: how they are made and how they are stored (as digests).

use airlock_store::KeyKind;
use sha2::{Digest, Sha256};

/// Characters of the secret kept visible, to recognise a key by.
const VISIBLE_PREFIX: usize = 11;

/// A freshly made key: the secret is shown once and never stored.
pub struct MintedKey {
    pub secret: String,
    pub prefix: String,
    pub digest: String,
}

/// Makes a key: `ak_` (secret) or `pk_` (publishable) + 64 hex characters
/// (244 random bits, from the OS through UUID v4).
pub fn mint_key(kind: KeyKind) -> MintedKey {
    let prefix = match kind {
        KeyKind::Secret => "ak",
        KeyKind::Publishable => "pk",
    };
    let secret = format!("{prefix}_{}", random_hex());
    MintedKey {
        prefix: secret[..VISIBLE_PREFIX].to_string(),
        digest: digest_hex(&secret),
        secret,
    }
}

/// 64 hex characters: 244 random bits, from the OS through UUID v4.
pub fn random_hex() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The stored form of a secret.
pub fn digest_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_are_unique_and_stored_as_digests() {
        let a = mint_key(KeyKind::Secret);
        let b = mint_key(KeyKind::Secret);
        assert!(mint_key(KeyKind::Publishable).secret.starts_with("pk_"));
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("ak_") && a.secret.len() == 67);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(a.digest, digest_hex(&a.secret));
        assert_eq!(
            digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
