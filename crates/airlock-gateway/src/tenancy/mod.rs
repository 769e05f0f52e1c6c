//! Projects and their keys, held in memory for the request path.
//!
//! The gateway never reads the database to authenticate a request: it looks
//! the key's SHA-256 digest up in a snapshot. The snapshot is rebuilt from
//! the store when the store's tenancy version moves (polled in the
//! background, and right after this instance's own admin writes).

pub mod manage;
mod origins;
mod secrets;
pub mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use airlock_store::{ApiKey, Project, Store, StoreError};

pub use origins::{origin_matches, request_origin};
pub use secrets::{MintedKey, digest_hex, mint_key, random_hex};

/// A key together with its project: what a request authenticated as.
#[derive(Debug)]
pub struct KeyGrant {
    pub key: ApiKey,
    pub project: Arc<Project>,
}

/// A secret key `k` of a project named and identified `project_id`, for
/// unit tests.
#[cfg(test)]
pub(crate) fn test_grant(project_id: &str) -> Arc<KeyGrant> {
    let project = Arc::new(Project {
        id: project_id.into(),
        name: project_id.into(),
        settings: airlock_store::ProjectSettings::default(),
        created_at_ms: 0,
        updated_at_ms: 0,
    });
    let key = ApiKey {
        id: "k".into(),
        project_id: project_id.into(),
        kind: airlock_store::KeyKind::Secret,
        name: "k".into(),
        prefix: "ak_".into(),
        secret_sha256: String::new(),
        settings: airlock_store::KeySettings::default(),
        created_at_ms: 0,
        expires_at_ms: None,
        revoked_at_ms: None,
    };
    Arc::new(KeyGrant { key, project })
}

#[derive(Default)]
struct Snapshot {
    version: i64,
    by_digest: HashMap<String, Arc<KeyGrant>>,
    /// Every project's allowed origins, for CORS preflights (which carry no key).
    origins: Vec<String>,
}

/// The in-memory copy of projects and keys.
pub struct Tenancy {
    store: Store,
    snapshot: RwLock<Arc<Snapshot>>,
}

impl Tenancy {
    /// Loads the current projects and keys.
    pub async fn load(store: Store) -> Result<Arc<Tenancy>, StoreError> {
        let tenancy = Arc::new(Tenancy {
            store,
            snapshot: RwLock::new(Arc::default()),
        });
        tenancy.reload().await?;
        Ok(tenancy)
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// The grant for a presented secret, if the key exists (revoked and
    /// expired keys included: the caller tells those apart).
    pub fn find(&self, secret: &str) -> Option<Arc<KeyGrant>> {
        self.current().by_digest.get(&digest_hex(secret)).cloned()
    }

    /// Whether some project allows calls from `origin`.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        origin_matches(&self.current().origins, origin)
    }

    /// Whether any key exists: once one does, requests must carry one.
    pub fn has_keys(&self) -> bool {
        !self.current().by_digest.is_empty()
    }

    /// Rebuilds the snapshot from the store.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let version = self.store.tenancy_version().await?;
        let projects: HashMap<String, Arc<Project>> = self
            .store
            .projects()
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), Arc::new(p)))
            .collect();
        let mut origins: Vec<String> = projects
            .values()
            .flat_map(|p| p.settings.allowed_origins.iter().cloned())
            .collect();
        origins.sort();
        origins.dedup();
        let mut by_digest = HashMap::new();
        for key in self.store.keys(None).await? {
            if let Some(project) = projects.get(&key.project_id) {
                let digest = key.secret_sha256.clone();
                by_digest.insert(
                    digest,
                    Arc::new(KeyGrant {
                        key,
                        project: project.clone(),
                    }),
                );
            }
        }
        if let Ok(mut snapshot) = self.snapshot.write() {
            *snapshot = Arc::new(Snapshot {
                version,
                by_digest,
                origins,
            });
        }
        Ok(())
    }

    /// Reloads whenever the store's version differs from the snapshot's;
    /// runs until the tenancy is dropped elsewhere.
    pub fn watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(tenancy) = weak.upgrade() else {
                    return;
                };
                match tenancy.store.tenancy_version().await {
                    Ok(version) if version != tenancy.current().version => {
                        if let Err(error) = tenancy.reload().await {
                            tracing::warn!(%error, "reloading projects and keys failed");
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "checking the tenancy version failed"),
                }
            }
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}
