//! Projects and their keys, held in memory for the request path.
//!
//! The gateway never reads the database to authenticate a request: it looks
//! the key's SHA-256 digest up in a snapshot. The snapshot is rebuilt from
//! the store when the store's tenancy version moves: right after this
//! instance's own admin writes, at once on every instance when one
//! publishes a change (cluster mode, Redis pub/sub), and by polling the
//! version in the background (every second alone; as a safety net in
//! cluster mode).

pub mod manage;
mod origins;
mod secrets;
pub mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use airlock_cluster::Cluster;
use airlock_store::{ApiKey, Project, Store, StoreError};

use crate::constitution::Policy;

pub use origins::{origin_matches, request_origin};
pub use secrets::{MintedKey, digest_hex, mint_key, random_hex};

/// A key together with its project: what a request authenticated as.
#[derive(Debug)]
pub struct KeyGrant {
    pub key: ApiKey,
    pub project: Arc<Project>,
    /// The project's constitution, compiled; `None` for a project without
    /// one, and for the judge's own key.
    pub policy: Option<Arc<Policy>>,
}

impl KeyGrant {
    /// `key` of `project`, held to the project's constitution.
    pub fn new(key: ApiKey, project: Arc<Project>) -> KeyGrant {
        let policy = Policy::of(&project);
        KeyGrant {
            key,
            project,
            policy,
        }
    }
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
    Arc::new(KeyGrant::new(key, project))
}

#[derive(Default)]
struct Snapshot {
    version: i64,
    by_digest: HashMap<String, Arc<KeyGrant>>,
    by_id: HashMap<String, Arc<KeyGrant>>,
    /// Every project's allowed origins, for CORS preflights (which carry no key).
    origins: Vec<String>,
}

/// The in-memory copy of projects and keys.
pub struct Tenancy {
    store: Store,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Cluster mode: where changes are announced to the other instances.
    announce: OnceLock<Arc<Cluster>>,
}

impl Tenancy {
    /// Loads the current projects and keys.
    pub async fn load(store: Store) -> Result<Arc<Tenancy>, StoreError> {
        let tenancy = Arc::new(Tenancy {
            store,
            snapshot: RwLock::new(Arc::default()),
            announce: OnceLock::new(),
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

    /// The grant of the key with this id, if it exists.
    pub fn find_by_id(&self, id: &str) -> Option<Arc<KeyGrant>> {
        self.current().by_id.get(id).cloned()
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
        // Each project's constitution compiled once, for all its keys.
        let projects: HashMap<String, (Arc<Project>, Option<Arc<Policy>>)> = self
            .store
            .projects()
            .await?
            .into_iter()
            .map(|p| {
                let policy = Policy::of(&p);
                (p.id.clone(), (Arc::new(p), policy))
            })
            .collect();
        let mut origins: Vec<String> = projects
            .values()
            .flat_map(|(p, _)| p.settings.allowed_origins.iter().cloned())
            .collect();
        origins.sort();
        origins.dedup();
        let mut by_digest = HashMap::new();
        let mut by_id = HashMap::new();
        for key in self.store.keys(None).await? {
            if let Some((project, policy)) = projects.get(&key.project_id) {
                let digest = key.secret_sha256.clone();
                let grant = Arc::new(KeyGrant {
                    key,
                    project: project.clone(),
                    policy: policy.clone(),
                });
                by_id.insert(grant.key.id.clone(), grant.clone());
                by_digest.insert(digest, grant);
            }
        }
        if let Ok(mut snapshot) = self.snapshot.write() {
            *snapshot = Arc::new(Snapshot {
                version,
                by_digest,
                by_id,
                origins,
            });
        }
        Ok(())
    }

    /// After this instance changed projects or keys: reloads now, and in
    /// cluster mode tells the other instances to.
    pub async fn changed(&self) {
        if let Err(error) = self.reload().await {
            tracing::warn!(%error, "reloading projects and keys failed");
        }
        if let Some(cluster) = self.announce.get()
            && let Err(error) = cluster.publish_tenancy_changed().await
        {
            tracing::warn!(%error, "announcing a change of projects or keys failed; the others see it at their next poll");
        }
    }

    /// Cluster mode: announces this instance's changes, and reloads at
    /// once when another announces one (or the subscription comes back,
    /// as changes may have been missed meanwhile).
    pub fn share_changes(self: &Arc<Self>, cluster: Arc<Cluster>) -> tokio::task::JoinHandle<()> {
        let _ = self.announce.set(cluster.clone());
        let weak = Arc::downgrade(self);
        cluster.subscribe(move |_event| {
            let Some(tenancy) = weak.upgrade() else {
                return;
            };
            tokio::spawn(async move {
                if let Err(error) = tenancy.reload().await {
                    tracing::warn!(%error, "reloading projects and keys failed");
                }
            });
        })
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
