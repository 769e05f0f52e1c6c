//! An issuer's JSON Web Key Set: the public keys usable for RS256 and
//! ES256, and signature verification with them (ring).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde_json::Value;

use super::token::Alg;

/// Keys read from one document at most; the rest are ignored.
const MAX_KEYS: usize = 100;

/// RSA moduli accepted, in bytes (2048 to 8192 bits, as ring verifies).
const RSA_MODULUS_BYTES: std::ops::RangeInclusive<usize> = 256..=1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The uncompressed SEC1 point: `04 || x || y`.
    P256 {
        point: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    kid: Option<String>,
    /// The one algorithm the key may be used with.
    alg: Alg,
    material: Material,
}

impl Key {
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            Material::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            Material::P256 { point } => {
                signature.len() == 64
                    && UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                        .verify(message, signature)
                        .is_ok()
            }
        }
    }
}

/// The usable keys of one JWKS document.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
}

/// Whether a key set can check a token's signature.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The signature verifies with one of the token's keys.
    Valid,
    /// The token's keys are here, and none verifies the signature (or none
    /// is of the token's algorithm).
    Invalid,
    /// No key here fits the token: the set may be out of date.
    Unknown,
}

impl KeySet {
    /// Reads a JWKS document, keeping only the keys usable for signature
    /// verification with RS256 or ES256. A document without any is an error.
    pub(crate) fn parse(body: &[u8]) -> Result<KeySet, &'static str> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let document: Document =
            serde_json::from_slice(body).map_err(|_| "the key set is not a JWKS document")?;
        let keys: Vec<Key> = document
            .keys
            .iter()
            .take(MAX_KEYS)
            .filter_map(parse_key)
            .collect();
        if keys.is_empty() {
            return Err("the key set holds no RS256 or ES256 signing key");
        }
        Ok(KeySet { keys })
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Checks `signature` over `message` with the keys the token names: the
    /// keys with its `kid`, or when it has none, every key of its algorithm.
    pub(crate) fn check(
        &self,
        kid: Option<&str>,
        alg: Alg,
        message: &[u8],
        signature: &[u8],
    ) -> Lookup {
        let mut named = false;
        let mut candidates = false;
        for key in &self.keys {
            if kid.is_some() && key.kid.as_deref() != kid {
                continue;
            }
            named = true;
            if key.alg != alg {
                continue;
            }
            candidates = true;
            if key.verifies(message, signature) {
                return Lookup::Valid;
            }
        }
        match (kid, named, candidates) {
            // A kid-less token with no key of its algorithm: keys may come.
            (None, _, false) => Lookup::Unknown,
            (Some(_), false, _) => Lookup::Unknown,
            _ => Lookup::Invalid,
        }
    }
}

fn field<'a>(jwk: &'a Value, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

/// A big-endian unsigned integer, leading zero bytes dropped.
fn unsigned(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(field(jwk, name)?).ok()?;
    let start = bytes.iter().position(|&b| b != 0)?;
    Some(bytes[start..].to_vec())
}

fn coordinate(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(field(jwk, name)?).ok()?;
    (bytes.len() == 32).then_some(bytes)
}

/// One JWK, if it is a public signing key for RS256 or ES256.
fn parse_key(jwk: &Value) -> Option<Key> {
    if jwk.get("use").is_some_and(|u| u != "sig") {
        return None;
    }
    match jwk.get("key_ops") {
        None | Some(Value::Null) => {}
        Some(Value::Array(ops)) if ops.iter().any(|op| op == "verify") => {}
        Some(_) => return None,
    }
    let kid = match jwk.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return None,
    };
    let declared = match jwk.get("alg") {
        None | Some(Value::Null) => None,
        Some(Value::String(alg)) => Some(Alg::from_name(alg)?),
        Some(_) => return None,
    };
    let (alg, material) = match field(jwk, "kty")? {
        "RSA" => {
            let n = unsigned(jwk, "n")?;
            let e = unsigned(jwk, "e")?;
            if !RSA_MODULUS_BYTES.contains(&n.len()) || e.len() > 8 {
                return None;
            }
            (Alg::Rs256, Material::Rsa { n, e })
        }
        "EC" if field(jwk, "crv")? == "P-256" => {
            let mut point = vec![0x04];
            point.extend(coordinate(jwk, "x")?);
            point.extend(coordinate(jwk, "y")?);
            (Alg::Es256, Material::P256 { point })
        }
        _ => return None,
    };
    if declared.is_some_and(|declared| declared != alg) {
        return None;
    }
    Some(Key { kid, alg, material })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ec_key() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    fn ec_jwk(key: &EcdsaKeyPair, kid: &str) -> Value {
        let point = key.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&point[1..33]), "y": b64(&point[33..])})
    }

    fn rsa_jwk(kid: &str, n_len: usize) -> Value {
        let mut n = vec![0xc5; n_len];
        n[n_len - 1] = 0x01;
        json!({"kty": "RSA", "kid": kid, "n": b64(&n), "e": "AQAB"})
    }

    #[test]
    fn keeps_only_usable_signing_keys() {
        let ec = ec_key();
        let document = json!({"keys": [
            rsa_jwk("rsa", 256),
            ec_jwk(&ec, "ec"),
            // A leading zero byte on the modulus is tolerated.
            {"kty": "RSA", "kid": "zero", "n": b64(&[&[0u8][..], &[0xc5; 256]].concat()), "e": "AQAB"},
            // Unusable: too short, for encryption, other curves and types,
            // an algorithm that does not fit, a malformed field.
            rsa_jwk("weak", 128),
            {"kty": "RSA", "use": "enc", "n": b64(&[0xc5; 256]), "e": "AQAB"},
            {"kty": "RSA", "key_ops": ["encrypt"], "n": b64(&[0xc5; 256]), "e": "AQAB"},
            {"kty": "RSA", "alg": "RS512", "n": b64(&[0xc5; 256]), "e": "AQAB"},
            {"kty": "RSA", "alg": "ES256", "n": b64(&[0xc5; 256]), "e": "AQAB"},
            {"kty": "RSA", "kid": 5, "n": b64(&[0xc5; 256]), "e": "AQAB"},
            {"kty": "EC", "crv": "P-384", "x": b64(&[1; 48]), "y": b64(&[1; 48])},
            {"kty": "EC", "crv": "P-256", "x": b64(&[1; 31]), "y": b64(&[1; 32])},
            {"kty": "oct", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "x": b64(&[1; 32])},
            "not an object",
            {"kty": "RSA", "n": "not base64!", "e": "AQAB"},
        ]});
        let set = KeySet::parse(&serde_json::to_vec(&document).unwrap()).unwrap();
        let kids: Vec<_> = set.keys.iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("rsa"), Some("ec"), Some("zero")]);
        assert!(matches!(&set.keys[2].material, Material::Rsa { n, .. } if n.len() == 256));
    }

    #[test]
    fn rejects_documents_without_usable_keys() {
        for body in [
            &b"not json"[..],
            b"{}",
            b"[]",
            br#"{"keys": {}}"#,
            br#"{"keys": []}"#,
            br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#,
        ] {
            assert!(KeySet::parse(body).is_err());
        }
    }

    #[test]
    fn checks_signatures_with_the_named_key() {
        let rng = SystemRandom::new();
        let (a, b) = (ec_key(), ec_key());
        let document = json!({"keys": [ec_jwk(&a, "a"), ec_jwk(&b, "b"), rsa_jwk("r", 256)]});
        let set = KeySet::parse(&serde_json::to_vec(&document).unwrap()).unwrap();
        let message = b"header.payload";
        let by_a = a.sign(&rng, message).unwrap();
        let by_a = by_a.as_ref();

        assert_eq!(
            set.check(Some("a"), Alg::Es256, message, by_a),
            Lookup::Valid
        );
        assert_eq!(set.check(None, Alg::Es256, message, by_a), Lookup::Valid);
        assert_eq!(
            set.check(Some("b"), Alg::Es256, message, by_a),
            Lookup::Invalid
        );
        assert_eq!(
            set.check(Some("a"), Alg::Es256, b"other", by_a),
            Lookup::Invalid
        );
        assert_eq!(
            set.check(Some("a"), Alg::Es256, message, &by_a[..63]),
            Lookup::Invalid
        );
        assert_eq!(
            set.check(Some("a"), Alg::Rs256, message, by_a),
            Lookup::Invalid
        );
        assert_eq!(
            set.check(Some("r"), Alg::Rs256, message, by_a),
            Lookup::Invalid
        );
        assert_eq!(
            set.check(Some("c"), Alg::Es256, message, by_a),
            Lookup::Unknown
        );

        let only_ec =
            KeySet::parse(&serde_json::to_vec(&json!({"keys": [ec_jwk(&a, "a")]})).unwrap())
                .unwrap();
        assert_eq!(
            only_ec.check(None, Alg::Rs256, message, by_a),
            Lookup::Unknown
        );
    }
}
