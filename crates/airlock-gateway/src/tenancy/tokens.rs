//! Ephemeral tokens: short-lived, use-counted stand-ins for a secret key,
//! minted by a backend for a browser so the browser never holds a
//! long-lived key. A token carries its key's project, scopes and limits,
//! and may be bound to one model.
//!
//! Tokens live in this instance's memory (they last at most
//! [`MAX_LIFETIME`]); cluster mode will keep them in Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{KeyGrant, digest_hex};

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
}

#[derive(Default)]
pub struct EphemeralTokens {
    tokens: Mutex<HashMap<String, Entry>>,
}

impl EphemeralTokens {
    /// Keeps a new token; `secret` is the token as the client will present it.
    pub fn insert(
        &self,
        secret: &str,
        token: TokenGrant,
        uses: Option<u32>,
        now_ms: i64,
    ) -> Result<(), &'static str> {
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
    /// token at all.
    pub fn redeem(&self, secret: &str, now_ms: i64) -> Option<Result<TokenGrant, TokenRefusal>> {
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

    #[test]
    fn tokens_are_spent_and_expire() {
        let tokens = EphemeralTokens::default();
        let token = TokenGrant {
            grant: Some(grant()),
            expires_at_ms: 1_000,
            model: None,
        };
        tokens
            .insert("auth_tokens/a", token.clone(), Some(2), 0)
            .unwrap();
        assert!(tokens.redeem("auth_tokens/a", 10).unwrap().is_ok());
        assert!(tokens.redeem("auth_tokens/a", 10).unwrap().is_ok());
        assert_eq!(
            tokens.redeem("auth_tokens/a", 10).unwrap().unwrap_err(),
            TokenRefusal::UsedUp
        );
        tokens.insert("ek_b", token, None, 0).unwrap();
        for _ in 0..5 {
            assert!(tokens.redeem("ek_b", 999).unwrap().is_ok());
        }
        assert_eq!(
            tokens.redeem("ek_b", 1_000).unwrap().unwrap_err(),
            TokenRefusal::Expired
        );
        assert!(tokens.redeem("nothing", 0).is_none());
    }
}
