//! What the relay is built from, held in the gateway's state: apart from
//! the relay's handlers so the state needs none of them.

use std::sync::Arc;

use airlock_store::SessionLog;

use super::policy::RealtimePolicy;
use super::registry::Sessions;
use super::tools::ServerTools;

/// What the relay is built from.
pub struct RealtimeConfig {
    pub policy: RealtimePolicy,
    pub tools: Arc<ServerTools>,
    /// Where ended sessions' records go.
    pub session_log: SessionLog,
    /// The open sessions (shared with the shutdown sequence).
    pub sessions: Arc<Sessions>,
}
