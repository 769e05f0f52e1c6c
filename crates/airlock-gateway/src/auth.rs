//! Client authentication: who may use the gateway.
//!
//! A client key arrives as the SDKs send it: `Authorization: Bearer` (OpenAI),
//! `x-goog-api-key` or `?key=` (Google), `Token` (Google's ephemeral tokens),
//! or a browser's `openai-insecure-api-key.` WebSocket subprotocol. Keys are compared as SHA-256 digests,
//! so the configured key is never held in plain form after start-up.

use std::sync::Arc;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::realtime::upgrade::offered_protocols;
use crate::tenancy::tokens::{EphemeralTokens, TokenGrant, TokenRefusal};
use crate::tenancy::{KeyGrant, Tenancy, origin_matches};
use airlock_store::KeyKind;

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
                // google-genai sends ephemeral tokens as `Token auth_tokens/...`.
                .or_else(|| value.strip_prefix("Token "))
        {
            return Credential::Bearer(token.trim());
        }
        // Browsers cannot set headers on a WebSocket: OpenAI Realtime takes
        // the key as a subprotocol instead.
        if let Some(key) = key_subprotocol(headers) {
            return Credential::Bearer(key);
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

/// Who a request is.
#[derive(Debug, Clone)]
pub enum Principal {
    /// No key is required and none matched (loopback development).
    Anonymous,
    /// The master key: every model, no limits.
    Master,
    /// A project's key, with its scopes and limits.
    Key(Arc<KeyGrant>),
    /// An ephemeral token minted from a project's secret key.
    Token(TokenGrant),
}

impl Principal {
    pub fn grant(&self) -> Option<&KeyGrant> {
        match self {
            Principal::Key(grant) => Some(grant),
            Principal::Token(token) => token.grant.as_deref(),
            _ => None,
        }
    }
}

/// The subprotocol that carries a browser's OpenAI Realtime key; never echoed back.
pub const KEY_SUBPROTOCOL_PREFIX: &str = "openai-insecure-api-key.";

/// The key a browser sends as an `openai-insecure-api-key.KEY` subprotocol.
fn key_subprotocol(headers: &http::HeaderMap) -> Option<&str> {
    offered_protocols(headers)
        .find_map(|protocol| protocol.strip_prefix(KEY_SUBPROTOCOL_PREFIX))
        .filter(|key| !key.is_empty())
}

/// The gateway's client key policy: the master key, and the projects' keys.
#[derive(Clone)]
pub struct ClientAuth {
    master_key_digest: Option<[u8; 32]>,
    admin_token_digest: Option<[u8; 32]>,
    tenancy: Arc<Tenancy>,
    tokens: Arc<EphemeralTokens>,
}

impl ClientAuth {
    /// `master_key`, when given, is accepted on every model route;
    /// `admin_token` opens the admin API (the master key does when it is absent).
    pub fn new(master_key: Option<&str>, admin_token: Option<&str>, tenancy: Arc<Tenancy>) -> Self {
        ClientAuth {
            master_key_digest: master_key.map(digest),
            admin_token_digest: admin_token.map(digest),
            tenancy,
            tokens: Arc::default(),
        }
    }

    /// Keeps ephemeral tokens in Redis, shared by every instance.
    pub fn shared_tokens(mut self, cluster: std::sync::Arc<airlock_cluster::Cluster>) -> Self {
        self.tokens = Arc::new(EphemeralTokens::shared(cluster));
        self
    }

    /// Whether the admin API can be opened at all.
    pub fn has_admin_token(&self) -> bool {
        self.admin_token_digest.is_some() || self.master_key_digest.is_some()
    }

    pub fn is_admin(&self, token: &str) -> bool {
        match &self.admin_token_digest {
            Some(expected) => same_digest(&digest(token), expected),
            None => self.is_master(token),
        }
    }

    pub fn tenancy(&self) -> &Arc<Tenancy> {
        &self.tenancy
    }

    pub fn tokens(&self) -> &EphemeralTokens {
        &self.tokens
    }

    /// A key is required once a master key is set or any project key exists.
    pub fn requires_key(&self) -> bool {
        self.master_key_digest.is_some() || self.tenancy.has_keys()
    }

    /// Whether `key` is the master key, compared in constant time.
    pub fn is_master(&self, key: &str) -> bool {
        let Some(expected) = &self.master_key_digest else {
            return false;
        };
        same_digest(&digest(key), expected)
    }

    /// `origin` is the browser origin the request came from, if any.
    pub async fn authenticate(
        &self,
        credential: Credential<'_>,
        origin: Option<&str>,
        now_ms: i64,
    ) -> Result<Principal, ApiError> {
        let key = credential.key().filter(|k| !k.is_empty());
        let Some(key) = key else {
            return if self.requires_key() {
                Err(ApiError::MissingKey)
            } else {
                Ok(Principal::Anonymous)
            };
        };
        if self.is_master(key) {
            return Ok(Principal::Master);
        }
        if let Some(grant) = self.tenancy.find(key) {
            if grant.key.revoked_at_ms.is_some() {
                return Err(ApiError::KeyRevoked);
            }
            if grant.key.expires_at_ms.is_some_and(|at| at <= now_ms) {
                return Err(ApiError::KeyExpired);
            }
            if grant.key.kind == KeyKind::Publishable
                && !origin.is_some_and(|origin| {
                    origin_matches(&grant.project.settings.allowed_origins, origin)
                })
            {
                return Err(ApiError::OriginNotAllowed);
            }
            return Ok(Principal::Key(grant));
        }
        match self.tokens.redeem(key, now_ms, &self.tenancy).await {
            Some(Ok(token)) => {
                if token
                    .grant
                    .as_ref()
                    .is_some_and(|grant| grant.key.revoked_at_ms.is_some())
                {
                    return Err(ApiError::KeyRevoked);
                }
                return Ok(Principal::Token(token));
            }
            Some(Err(TokenRefusal::Expired)) => return Err(ApiError::KeyExpired),
            Some(Err(TokenRefusal::UsedUp)) => return Err(ApiError::TokenUsedUp),
            Some(Err(TokenRefusal::Unavailable)) => return Err(ApiError::SharedStateUnavailable),
            None => {}
        }
        // Google's SDKs always send some key: without a policy, any is fine.
        if self.requires_key() {
            Err(ApiError::InvalidKey)
        } else {
            Ok(Principal::Anonymous)
        }
    }
}

/// Compares every byte, so timing does not reveal a matching prefix.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    #[tokio::test]
    async fn checks_the_master_key_and_requires_keys_only_with_a_policy() {
        let dir = tempfile::tempdir().unwrap();
        let store = airlock_store::Store::open_data_dir(dir.path())
            .await
            .unwrap();
        let tenancy = Tenancy::load(store).await.unwrap();
        let auth = ClientAuth::new(Some("secret"), None, tenancy.clone());
        assert!(auth.is_admin("secret") && !auth.is_admin("other"));
        let separate = ClientAuth::new(Some("secret"), Some("admin"), tenancy.clone());
        assert!(separate.is_admin("admin") && !separate.is_admin("secret"));
        assert!(matches!(
            auth.authenticate(Credential::Bearer("secret"), None, 0)
                .await,
            Ok(Principal::Master)
        ));
        assert!(matches!(
            auth.authenticate(Credential::QueryKey("secret"), None, 0)
                .await,
            Ok(Principal::Master)
        ));
        assert!(matches!(
            auth.authenticate(Credential::Bearer("nope"), None, 0).await,
            Err(ApiError::InvalidKey)
        ));
        assert!(matches!(
            auth.authenticate(Credential::Absent, None, 0).await,
            Err(ApiError::MissingKey)
        ));
        assert!(matches!(
            auth.authenticate(Credential::Bearer(""), None, 0).await,
            Err(ApiError::MissingKey)
        ));
        let open = ClientAuth::new(None, None, tenancy);
        assert!(!open.has_admin_token());
        assert!(matches!(
            open.authenticate(Credential::Absent, None, 0).await,
            Ok(Principal::Anonymous)
        ));
        assert!(matches!(
            open.authenticate(Credential::GoogApiKey("any"), None, 0)
                .await,
            Ok(Principal::Anonymous)
        ));
    }
}
