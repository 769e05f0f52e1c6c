//! End users' identity: verifying the ID tokens (JWTs) that apps behind
//! their own login (Firebase Auth, Auth0, Google, any OIDC provider) send
//! along with their Airlock key, so limits and spend can be per end user.
//!
//! - `token.rs`: the compact JWS taken apart; the claims checked (issuer,
//!   audience, `exp`/`nbf`/`iat` with a minute's leeway, the user claim).
//! - `jwks.rs`: the issuer's key set (RSA and P-256 keys only) and the
//!   signature check (ring): RS256 and ES256, nothing else.
//! - `fetch.rs`: bounded fetches (5 s, 1 MiB) of key sets and OIDC discovery
//!   documents, and their cache lifetime (`Cache-Control: max-age`, else an
//!   hour, at least a minute).
//! - `verifier.rs`: [`JwtVerifier`], the per-issuer key caches and their
//!   refresh rules (an issuer with no keys yet is retried with a short
//!   backoff; its tokens meanwhile get [`JwtError::KeysUnavailable`], which
//!   the gateway answers with 503 and `Retry-After`).
//!
//! - `named.rs`: the end user a request's body names (`safety_identifier`,
//!   `user`): kept for the inventory of user data, never used for limits.
//!
//! Keys come only from configuration (a `jwks_url`, or the issuer's
//! discovery document): the token's own `jku`, `x5u` and `jwk` headers are
//! ignored. Errors never repeat token content.

mod fetch;
mod jwks;
mod named;
mod token;
mod verifier;

use std::time::{Duration, SystemTime};

pub use named::named_in_body;
pub(crate) use verifier::verify_with_keys;
pub use verifier::{FIRST_RETRY, JwtVerifier, MIN_REFRESH_INTERVAL};

/// One trusted issuer, from configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` value, e.g. `https://securetoken.google.com/my-project`.
    pub issuer: String,
    /// The accepted `aud` values (at least one).
    pub audiences: Vec<String>,
    /// The issuer's JWKS. When absent, found by OIDC discovery at
    /// `{issuer}/.well-known/openid-configuration` (`jwks_uri`).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The claim naming the end user; `sub` when absent.
    #[serde(default)]
    pub user_claim: Option<String>,
}

/// The end user a verified token names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndUser {
    /// The issuer, as configured (and as the token's `iss`).
    pub issuer: String,
    /// The value of the issuer's user claim.
    pub subject: String,
}

/// Why a token was refused. The messages are safe to show the client: they
/// never repeat token content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the user token is malformed")]
    Malformed,
    #[error("the user token's issuer is not trusted")]
    UnknownIssuer,
    #[error("the user token is signed with an unknown key")]
    UnknownKey,
    #[error("the user token's signature is invalid")]
    BadSignature,
    #[error("the user token has expired")]
    Expired,
    #[error("the user token is not valid yet")]
    NotYetValid,
    #[error("the user token is not meant for this application")]
    WrongAudience,
    #[error("the user token's signature algorithm is not supported (use RS256 or ES256)")]
    UnsupportedAlgorithm,
    #[error("the user token has no usable `{0}` claim")]
    MissingClaim(String),
    /// The issuer's keys could not be fetched and none are cached: the
    /// token cannot be judged yet (the gateway's problem, not the
    /// client's). The next fetch may start after `retry_after`.
    #[error("the issuer's signing keys are unavailable: {reason}")]
    KeysUnavailable {
        reason: String,
        retry_after: Duration,
    },
}

/// The time, for token validity and key cache ages; tests substitute their
/// own.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
