//! Ephemeral tokens in Redis: minted on one instance, redeemed on any, with
//! one use count shared by all. A token is kept under its secret's digest
//! (never the secret) and names its key by id; the instance that redeems
//! it looks the key up in its own copy of the projects.

use std::sync::LazyLock;

use redis::Script;

use crate::{Cluster, ClusterError};

static REDEEM: LazyLock<Script> =
    LazyLock::new(|| crate::admission::script(include_str!("scripts/redeem.lua")));

/// How long an expired token is still known as expired (rather than as no
/// token at all).
const EXPIRED_KEPT_MS: i64 = 10 * 60 * 1000;

/// What a token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The key it was minted from; `None` when minted with the master key.
    pub key_id: Option<String>,
    pub model: Option<String>,
    pub expires_at_ms: i64,
}

/// The answer to a presented token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// No such token.
    Unknown,
    Expired,
    UsedUp,
    /// One use spent.
    Valid(StoredToken),
}

impl Cluster {
    /// Keeps a token under `digest`; `uses` of `None` is unlimited.
    pub async fn store_token(
        &self,
        digest: &str,
        token: &StoredToken,
        uses: Option<u32>,
    ) -> Result<(), ClusterError> {
        let key = self.key(&["token", digest]);
        let mut connection = self.connection.clone();
        let result = redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(&key)
            .arg("key")
            .arg(token.key_id.as_deref().unwrap_or(""))
            .arg("model")
            .arg(token.model.as_deref().unwrap_or(""))
            .arg("expires")
            .arg(token.expires_at_ms)
            .arg("uses")
            .arg(uses.map_or(-1, i64::from))
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&key)
            .arg(token.expires_at_ms + EXPIRED_KEPT_MS)
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(ClusterError::from);
        self.observe(&result);
        result
    }

    /// Spends one use of the token under `digest`, as of `now_ms`.
    pub async fn redeem_token(&self, digest: &str, now_ms: i64) -> Result<Redeemed, ClusterError> {
        let mut connection = self.connection.clone();
        let result = REDEEM
            .key(self.key(&["token", digest]))
            .arg(now_ms)
            .invoke_async::<Vec<redis::Value>>(&mut connection)
            .await
            .map_err(ClusterError::from)
            .and_then(|reply| redeemed(&reply));
        self.observe(&result);
        result
    }
}

fn redeemed(reply: &[redis::Value]) -> Result<Redeemed, ClusterError> {
    let malformed = || ClusterError(format!("unexpected token reply {reply:?}"));
    let text = |value: &redis::Value| -> Result<String, ClusterError> {
        redis::from_redis_value_ref::<String>(value).map_err(|_| malformed())
    };
    let status = match reply.first() {
        Some(redis::Value::Int(status)) => *status,
        _ => return Err(malformed()),
    };
    Ok(match (status, reply) {
        (0, _) => Redeemed::Unknown,
        (1, _) => Redeemed::Expired,
        (2, _) => Redeemed::UsedUp,
        (3, [_, key, model, expires]) => {
            let non_empty = |s: String| (!s.is_empty()).then_some(s);
            Redeemed::Valid(StoredToken {
                key_id: non_empty(text(key)?),
                model: non_empty(text(model)?),
                expires_at_ms: text(expires)?.parse().map_err(|_| malformed())?,
            })
        }
        _ => return Err(malformed()),
    })
}
