//! The end-user JWT verifier: tokens parsed, their signatures checked with
//! a fixed key set, their claims judged. A token made by the fuzzer alone
//! never has a valid signature, so claims are also signed here with the key
//! set's P-256 key, which takes arbitrary claims through every check.
//! Input: one byte choosing the mode, then
//! * 0: a token, verified as it is;
//! * 1: one byte choosing the header, then the claims, signed;
//! * 2: a JWKS document, against which a valid token is verified.
//!
//! Properties: no panic, and a token accepted names the issuer and a
//! bounded subject.
#![no_main]

use std::sync::LazyLock;

use airlock_gateway::fuzzing::{JWT_ISSUER, verify_jwt};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;

/// An RSA key the set also holds (the public half of a 2048-bit key made
/// for these tests), so RS256 tokens reach a signature check.
const RSA_N: &str = include_str!("../jwt_rsa_n.txt");

struct Keys {
    pair: EcdsaKeyPair,
    jwks: Vec<u8>,
    rng: SystemRandom,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // An uncompressed point: 0x04, then x and y.
    let point = pair.public_key().as_ref();
    let jwks = json!({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256", "use": "sig",
         "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])},
        {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
         "n": RSA_N.trim(), "e": "AQAB"},
    ]});
    Keys {
        pair,
        jwks: serde_json::to_vec(&jwks).unwrap(),
        rng,
    }
});

/// The headers a signed token may carry.
const HEADERS: [&str; 6] = [
    r#"{"alg":"ES256","kid":"ec-1","typ":"JWT"}"#,
    r#"{"alg":"ES256"}"#,
    r#"{"alg":"RS256","kid":"rsa-1"}"#,
    r#"{"alg":"ES256","kid":"other"}"#,
    r#"{"alg":"none"}"#,
    r#"{"alg":"ES256","kid":"ec-1","crit":["exp"]}"#,
];

/// `header.claims`, signed with the P-256 key.
fn signed(header: &str, claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = KEYS.pair.sign(&KEYS.rng, input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let verdict = match mode % 3 {
        0 => {
            let Ok(token) = std::str::from_utf8(rest) else {
                return;
            };
            verify_jwt(&KEYS.jwks, token)
        }
        1 => {
            let Some((&header, claims)) = rest.split_first() else {
                return;
            };
            let header = HEADERS[usize::from(header) % HEADERS.len()];
            verify_jwt(&KEYS.jwks, &signed(header, claims))
        }
        _ => {
            let claims = json!({"iss": JWT_ISSUER, "aud": "airlock-app", "sub": "user-1",
                                "exp": 1_700_000_600, "iat": 1_700_000_000});
            let token = signed(HEADERS[1], &serde_json::to_vec(&claims).unwrap());
            verify_jwt(rest, &token)
        }
    };
    if let Ok(user) = verdict {
        assert_eq!(user.issuer, JWT_ISSUER);
        assert!(!user.subject.is_empty() && user.subject.len() <= 512);
        assert!(!user.subject.chars().any(char::is_control));
    }
});
