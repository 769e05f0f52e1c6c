//! End users' ID tokens for tests: an ES256 key that signs them, a JWKS
//! server that publishes it, and a verifier that trusts it.

use airlock_gateway::end_user::{IssuerConfig, JwtVerifier};
use axum::Json;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://login.example.test";
pub const AUDIENCE: &str = "story-app";

/// An ES256 key that signs test tokens, and its JWK.
pub struct Signer {
    key: EcdsaKeyPair,
}

impl Signer {
    pub fn new() -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Signer {
            key: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        }
    }

    pub fn jwk(&self) -> Value {
        let point = self.key.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
               "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
    }

    pub fn token(&self, subject: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header =
            URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}).to_string());
        let claims =
            json!({"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 600});
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

pub async fn jwks_server(jwk: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    serve_jwks(listener, jwk);
    format!("http://{addr}/jwks")
}

/// Serves `{"keys": [jwk]}` at `/jwks` on `listener`.
pub fn serve_jwks(listener: tokio::net::TcpListener, jwk: Value) {
    let app = axum::Router::new().route(
        "/jwks",
        get(move || async move { Json(json!({"keys": [jwk]})) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

pub fn trusting(jwks_url: String) -> JwtVerifier {
    JwtVerifier::new(vec![IssuerConfig {
        issuer: ISSUER.into(),
        audiences: vec![AUDIENCE.into()],
        jwks_url: Some(jwks_url),
        user_claim: None,
    }])
    .unwrap()
}
