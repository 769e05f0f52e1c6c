//! Client authentication: who may use the gateway.
//!
//! A client key arrives as the SDKs send it: `Authorization: Bearer` (OpenAI),
//! `x-goog-api-key` or `?key=` (Google). Keys are compared as SHA-256 digests,
//! so the configured key is never held in plain form after start-up.

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A client key as presented, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    Bearer(&'a str),
    GoogApiKey(&'a str),
    QueryKey(&'a str),
    Absent,
}

impl<'a> Credential<'a> {
    /// Reads the credential from a request's headers and query string.
    pub fn from_request(headers: &'a HeaderMap, query: Option<&'a str>) -> Credential<'a> {
        if let Some(key) = headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) {
            return Credential::GoogApiKey(key);
        }
        if let Some(key) = query.and_then(query_key) {
            return Credential::QueryKey(key);
        }
        let authorization = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(value) = authorization
            && let Some(token) = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        {
            return Credential::Bearer(token.trim());
        }
        Credential::Absent
    }

    /// Whether the client authenticated the way Google's SDKs do.
    pub fn is_google_style(self) -> bool {
        matches!(self, Credential::GoogApiKey(_) | Credential::QueryKey(_))
    }

    fn key(self) -> Option<&'a str> {
        match self {
            Credential::Bearer(key) | Credential::GoogApiKey(key) | Credential::QueryKey(key) => {
                Some(key)
            }
            Credential::Absent => None,
        }
    }
}

/// The `key` parameter of a query string, left percent-encoded as keys never need decoding.
fn query_key(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| pair.strip_prefix("key="))
}

/// The gateway's client key policy.
#[derive(Clone)]
pub struct ClientAuth {
    master_key_digest: Option<[u8; 32]>,
}

impl ClientAuth {
    /// Every request must carry `master_key`.
    pub fn with_master_key(master_key: &str) -> Self {
        ClientAuth {
            master_key_digest: Some(digest(master_key)),
        }
    }

    /// No client key is required (loopback development only).
    pub fn open() -> Self {
        ClientAuth {
            master_key_digest: None,
        }
    }

    pub fn requires_key(&self) -> bool {
        self.master_key_digest.is_some()
    }

    pub fn check(&self, credential: Credential<'_>) -> Result<(), ApiError> {
        let Some(expected) = &self.master_key_digest else {
            return Ok(());
        };
        let key = credential
            .key()
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::MissingKey)?;
        let presented = digest(key);
        // Compare every byte so timing does not reveal a matching prefix.
        let difference = presented
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference == 0 {
            Ok(())
        } else {
            Err(ApiError::InvalidKey)
        }
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn reads_each_credential_form() {
        let h = headers(&[("authorization", "Bearer abc")]);
        assert_eq!(
            Credential::from_request(&h, None),
            Credential::Bearer("abc")
        );
        let h = headers(&[("x-goog-api-key", "g")]);
        assert_eq!(
            Credential::from_request(&h, None),
            Credential::GoogApiKey("g")
        );
        let h = HeaderMap::new();
        assert_eq!(
            Credential::from_request(&h, Some("alt=sse&key=q")),
            Credential::QueryKey("q")
        );
        assert_eq!(
            Credential::from_request(&h, Some("alt=sse")),
            Credential::Absent
        );
    }

    #[test]
    fn checks_the_master_key() {
        let auth = ClientAuth::with_master_key("secret");
        assert!(auth.check(Credential::Bearer("secret")).is_ok());
        assert!(auth.check(Credential::QueryKey("secret")).is_ok());
        assert!(matches!(
            auth.check(Credential::Bearer("nope")),
            Err(ApiError::InvalidKey)
        ));
        assert!(matches!(
            auth.check(Credential::Absent),
            Err(ApiError::MissingKey)
        ));
        assert!(matches!(
            auth.check(Credential::Bearer("")),
            Err(ApiError::MissingKey)
        ));
        assert!(ClientAuth::open().check(Credential::Absent).is_ok());
    }
}
