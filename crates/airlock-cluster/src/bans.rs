//! Rate-based bans of client addresses, shared: an address banned on one
//! instance is refused by all, and its requests count on all together.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::{Cluster, ClusterError};

static BAN: LazyLock<Script> =
    LazyLock::new(|| crate::admission::script(include_str!("scripts/ban.lua")));

/// What one request from an address met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanVerdict {
    Allowed,
    /// Banned for this long; `new` when this request crossed the threshold.
    Banned {
        left: Duration,
        new: bool,
    },
}

impl Cluster {
    /// Counts a request from `address` (`requests` allowed per `window`,
    /// then banned for `ban`).
    pub async fn check_ban(
        &self,
        address: &str,
        requests: u64,
        window: Duration,
        ban: Duration,
    ) -> Result<BanVerdict, ClusterError> {
        let mut connection = self.connection.clone();
        let result = BAN
            .key(self.key(&["ban", address]))
            .key(self.key(&["ban-count", address]))
            .arg(requests)
            .arg(window.as_millis() as u64)
            .arg(ban.as_millis() as u64)
            .invoke_async::<Vec<i64>>(&mut connection)
            .await
            .map_err(ClusterError::from)
            .map(|reply| match reply.as_slice() {
                [left, new, ..] if *left > 0 => BanVerdict::Banned {
                    left: Duration::from_millis(*left as u64),
                    new: *new == 1,
                },
                _ => BanVerdict::Allowed,
            });
        self.observe(&result);
        result
    }
}
