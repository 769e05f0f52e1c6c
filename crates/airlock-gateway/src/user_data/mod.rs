//! One person's data, everywhere Airlock holds it: the store's inventory
//! ([`airlock_store::UserDataKind`]) and what was archived from it to the
//! object store ([`archive`]), read into a zip for a GDPR export
//! ([`export`], run as a job by [`job`]), or erased with its blobs
//! ([`erase`]). The admin API (`surface::admin::users`) and the command
//! line (`airlock users`) are built on these; what only a running gateway
//! can do (closing the person's realtime sessions, forgetting cached
//! answers held in memory) is the admin API's.

pub mod archive;
pub mod erase;
pub mod export;
pub mod job;
pub mod reseal;

use airlock_store::{Blobs, DataOwner, Store};
use sha2::{Digest, Sha256};

/// What an export or an erasure works on.
#[derive(Clone, Copy)]
pub struct Holdings<'a> {
    pub store: &'a Store,
    /// The object store blobs are kept in (none: rows only).
    pub blobs: Option<&'a Blobs>,
    pub owner: DataOwner<'a>,
}

/// What the audit log names for an export or erasure: the project, and
/// the end user's SHA-256 (`projects/{p}/users/sha256:{hex}`), so the log
/// proves it happened without keeping whose data it was in the clear; a
/// whole project's is `projects/{p}/data`.
pub fn audit_target(project_name: &str, end_user: Option<&str>) -> String {
    match end_user {
        Some(user) => format!(
            "projects/{project_name}/users/sha256:{}",
            hex::encode(Sha256::digest(user.as_bytes()))
        ),
        None => format!("projects/{project_name}/data"),
    }
}

/// Makes a running gateway forget what it holds in memory of deleted rows
/// (cached answers, stored turns, conversation objects).
pub fn forget(state: &crate::state::AppState, deleted: &erase::Deleted) {
    if let Some(cache) = state.cache() {
        cache.forget_deleted(&deleted.cache_keys);
    }
    state
        .conversations()
        .forget(&deleted.turns, &deleted.conversations);
}
