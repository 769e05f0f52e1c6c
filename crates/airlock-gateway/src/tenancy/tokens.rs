//! Ephemeral tokens: short-lived, use-counted stand-ins for a secret key,
//! minted by a backend for a browser so the browser never holds a
//! long-lived key. A token carries its key's project, scopes and limits,
//! and may be bound to one model.
//!
//! Tokens live in this instance's memory (they last at most
//! [`MAX_LIFETIME`]); in cluster mode, in Redis, so a token minted on one
//! instance is redeemed on any and its use count is one count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_cluster::{Cluster, Redeemed, StoredToken};

use super::{KeyGrant, Tenancy, digest_hex};

/// What every token's secret starts with: Gemini's `auth_tokens/` names and
/// OpenAI's `ek_` client secrets. Other keys are never looked up as tokens.
pub const TOKEN_PREFIXES: [&str; 2] = ["auth_tokens/", "ek_"];

/// The longest a token may live.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Tokens kept at most, so minting cannot exhaust memory.
const MAX_TOKENS: usize = 100_000;

/// What a token allows.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The key it was minted from; `None` when minted with the master key.
    pub grant: Option<Arc<KeyGrant>>,
    pub expires_at_ms: i64,
    /// The model the token is bound to, if any.
    pub model: Option<String>,
}

struct Entry {
    token: TokenGrant,
    /// `None`: unlimited within the lifetime.
    uses_left: Option<u32>,
}

/// Why a presented token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Expired,
    UsedUp,
    /// Kept in Redis, which cannot be reached.
    Unavailable,
}

#[derive(Default)]
pub struct EphemeralTokens {
    tokens: Mutex<HashMap<String, Entry>>,
    shared: Option<Arc<Cluster>>,
}

impl EphemeralTokens {
    /// Tokens kept in Redis, shared by every instance.
    pub fn shared(cluster: Arc<Cluster>) -> Self {
        EphemeralTokens {
            tokens: Mutex::default(),
            shared: Some(cluster),
        }
    }

    /// Keeps a new token; `secret` is the token as the client will present it.
    pub async fn insert(
        &self,
        secret: &str,
        token: TokenGrant,
        uses: Option<u32>,
        now_ms: i64,
    ) -> Result<(), &'static str> {
        if let Some(cluster) = &self.shared {
            let stored = StoredToken {
                key_id: token.grant.as_ref().map(|grant| grant.key.id.clone()),
                model: token.model,
                expires_at_ms: token.expires_at_ms,
            };
            return cluster
                .store_token(&digest_hex(secret), &stored, uses)
                .await
                .map_err(|_| "the shared token store is unreachable");
        }
        let mut tokens = self.tokens.lock().map_err(|_| "token store unavailable")?;
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, entry| {
                entry.token.expires_at_ms > now_ms && entry.uses_left != Some(0)
            });
            if tokens.len() >= MAX_TOKENS {
                return Err("too many live tokens; try again later");
            }
        }
        tokens.insert(
            digest_hex(secret),
            Entry {
                token,
                uses_left: uses,
            },
        );
        Ok(())
    }

    /// Looks a presented secret up and spends one use. `None` when it is no
    /// token at all. The grant is the key's as it is now (`tenancy`), so a
    /// token outlives no change to its key.
    pub async fn redeem(
        &self,
        secret: &str,
        now_ms: i64,
        tenancy: &Tenancy,
    ) -> Option<Result<TokenGrant, TokenRefusal>> {
        if !TOKEN_PREFIXES
            .iter()
            .any(|prefix| secret.starts_with(prefix))
        {
            return None;
        }
        let redeemed = match &self.shared {
            Some(cluster) => match cluster.redeem_token(&digest_hex(secret), now_ms).await {
                Ok(Redeemed::Unknown) => return None,
                Ok(Redeemed::Expired) => Err(TokenRefusal::Expired),
                Ok(Redeemed::UsedUp) => Err(TokenRefusal::UsedUp),
                Ok(Redeemed::Valid(stored)) => {
                    Ok((stored.key_id, stored.model, stored.expires_at_ms))
                }
                Err(_) => Err(TokenRefusal::Unavailable),
            },
            None => self.redeem_locally(secret, now_ms)?.map(|token| {
                let key_id = token.grant.as_ref().map(|grant| grant.key.id.clone());
                (key_id, token.model, token.expires_at_ms)
            }),
        };
        Some(redeemed.and_then(|(key_id, model, expires_at_ms)| {
            let grant = match key_id {
                None => None,
                // A key deleted since: the token is gone with it.
                Some(id) => Some(tenancy.find_by_id(&id).ok_or(TokenRefusal::Expired)?),
            };
            Ok(TokenGrant {
                grant,
                expires_at_ms,
                model,
            })
        }))
    }

    fn redeem_locally(
        &self,
        secret: &str,
        now_ms: i64,
    ) -> Option<Result<TokenGrant, TokenRefusal>> {
        let mut tokens = self.tokens.lock().ok()?;
        let digest = digest_hex(secret);
        let entry = tokens.get_mut(&digest)?;
        if entry.token.expires_at_ms <= now_ms {
            tokens.remove(&digest);
            return Some(Err(TokenRefusal::Expired));
        }
        match &mut entry.uses_left {
            Some(0) => return Some(Err(TokenRefusal::UsedUp)),
            Some(left) => *left -= 1,
            None => {}
        }
        Some(Ok(entry.token.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Arc<KeyGrant> {
        crate::tenancy::test_grant("p")
    }

    #[tokio::test]
    async fn tokens_are_spent_and_expire() {
        let tokens = EphemeralTokens::default();
        let token = TokenGrant {
            grant: Some(grant()),
            expires_at_ms: 1_000,
            model: None,
        };
        tokens
            .insert("auth_tokens/a", token.clone(), Some(2), 0)
            .await
            .unwrap();
        assert!(tokens.redeem_locally("auth_tokens/a", 10).unwrap().is_ok());
        assert!(tokens.redeem_locally("auth_tokens/a", 10).unwrap().is_ok());
        assert_eq!(
            tokens
                .redeem_locally("auth_tokens/a", 10)
                .unwrap()
                .unwrap_err(),
            TokenRefusal::UsedUp
        );
        tokens.insert("ek_b", token, None, 0).await.unwrap();
        for _ in 0..5 {
            assert!(tokens.redeem_locally("ek_b", 999).unwrap().is_ok());
        }
        assert_eq!(
            tokens.redeem_locally("ek_b", 1_000).unwrap().unwrap_err(),
            TokenRefusal::Expired
        );
        assert!(tokens.redeem_locally("nothing", 0).is_none());
    }
}
