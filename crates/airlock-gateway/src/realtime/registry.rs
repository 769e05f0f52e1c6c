//! The sessions open on this instance: counts per key and project for the
//! concurrency limits, the shutdown drain every session watches, and each
//! session's end user, so an erasure of that person's data can close their
//! sessions first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::shared_counts::{Counted, SharedSessionCounts};
use crate::tenancy::KeyGrant;

/// Why a session could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenRefusal {
    /// The key or project has as many sessions open as it may.
    TooMany { scope: &'static str, limit: u32 },
    /// The gateway is shutting down.
    Draining,
    /// The shared counts (Redis) cannot be reached and the policy refuses.
    Unavailable,
}

#[derive(Default)]
struct Counts {
    open: usize,
    by_key: HashMap<String, u32>,
    by_project: HashMap<String, u32>,
    /// Sessions of a project, by their slot's number.
    owned: HashMap<u64, Owned>,
    next_slot: u64,
}

/// Whose a session is, and how it is told its end user's data is erased.
struct Owned {
    project: String,
    end_user: Option<String>,
    erase: Arc<Notify>,
}

impl Owned {
    fn of(&self, project: &str, end_user: Option<&str>) -> bool {
        self.project == project
            && end_user.is_none_or(|user| self.end_user.as_deref() == Some(user))
    }
}

/// Every open session of the process.
pub struct Sessions {
    counts: Mutex<Counts>,
    closed: Notify,
    /// When shutdown began: the moment the drain period ends.
    drain_until: watch::Sender<Option<Instant>>,
    /// Cluster mode: the limits per key and project counted across
    /// instances.
    shared: Option<SharedSessionCounts>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            counts: Mutex::default(),
            closed: Notify::new(),
            drain_until: watch::channel(None).0,
            shared: None,
        }
    }
}

/// A session's place among the open ones, given back when dropped.
pub struct SessionSlot {
    sessions: Arc<Sessions>,
    number: u64,
    key: Option<String>,
    project: Option<String>,
    erase: Arc<Notify>,
    /// Its place in the shared counts, when they counted it.
    _counted: Counted,
}

impl SessionSlot {
    /// Notified when the session's end user's data is being erased: the
    /// session must end ([`Sessions::close_for_erasure`]).
    pub fn erase_signal(&self) -> Arc<Notify> {
        self.erase.clone()
    }
}

impl Sessions {
    /// Sessions whose limits per key and project are counted in Redis by
    /// every instance together.
    pub fn shared(counts: SharedSessionCounts) -> Self {
        Sessions {
            shared: Some(counts),
            ..Sessions::default()
        }
    }

    /// Takes a place for a session of `grant` (and its `end_user`), within
    /// the limits: counted by every instance together in cluster mode, or
    /// here.
    pub async fn open(
        self: &Arc<Self>,
        grant: Option<&KeyGrant>,
        end_user: Option<&str>,
        per_key: Option<u32>,
        per_project: Option<u32>,
    ) -> Result<SessionSlot, OpenRefusal> {
        if self.drain_until.borrow().is_some() {
            return Err(OpenRefusal::Draining);
        }
        let counted = match &self.shared {
            Some(shared) => shared.take(grant, per_key, per_project).await?,
            None => Counted::Here,
        };
        let (per_key, per_project) = match counted {
            Counted::Shared(_) => (None, None),
            Counted::Here => (per_key, per_project),
        };
        self.open_here(grant, end_user, per_key, per_project, counted)
    }

    /// [`Sessions::open`] on this instance's counts (`per_key` and
    /// `per_project` as limits here, `None` when counted elsewhere).
    fn open_here(
        self: &Arc<Self>,
        grant: Option<&KeyGrant>,
        end_user: Option<&str>,
        per_key: Option<u32>,
        per_project: Option<u32>,
        counted: Counted,
    ) -> Result<SessionSlot, OpenRefusal> {
        let key = grant.map(|g| g.key.id.clone());
        let project = grant.map(|g| g.project.id.clone());
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let over = |map: &HashMap<String, u32>, id: &Option<String>, limit: Option<u32>| {
            let (Some(id), Some(limit)) = (id, limit) else {
                return None;
            };
            (map.get(id).copied().unwrap_or(0) >= limit).then_some(limit)
        };
        if let Some(limit) = over(&counts.by_key, &key, per_key) {
            return Err(OpenRefusal::TooMany {
                scope: "key",
                limit,
            });
        }
        if let Some(limit) = over(&counts.by_project, &project, per_project) {
            return Err(OpenRefusal::TooMany {
                scope: "project",
                limit,
            });
        }
        counts.open += 1;
        if let Some(key) = &key {
            *counts.by_key.entry(key.clone()).or_default() += 1;
        }
        if let Some(project) = &project {
            *counts.by_project.entry(project.clone()).or_default() += 1;
        }
        let number = counts.next_slot;
        counts.next_slot += 1;
        let erase = Arc::new(Notify::new());
        if let Some(project) = &project {
            let owned = Owned {
                project: project.clone(),
                end_user: end_user.map(String::from),
                erase: erase.clone(),
            };
            counts.owned.insert(number, owned);
        }
        Ok(SessionSlot {
            sessions: self.clone(),
            number,
            key,
            project,
            erase,
            _counted: counted,
        })
    }

    /// Tells every session of `project`'s `end_user` (`None`: of every end
    /// user of the project) to end, and waits until they have, or `wait`
    /// has passed; says how many were told.
    pub async fn close_for_erasure(
        &self,
        project: &str,
        end_user: Option<&str>,
        wait: Duration,
    ) -> usize {
        let told = {
            let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            let mut told = 0;
            for owned in counts.owned.values().filter(|o| o.of(project, end_user)) {
                // Kept as a permit if the session is not waiting right now.
                owned.erase.notify_one();
                told += 1;
            }
            told
        };
        let give_up = Instant::now() + wait;
        loop {
            let closed = self.closed.notified();
            let open = {
                let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
                counts.owned.values().any(|o| o.of(project, end_user))
            };
            if !open || tokio::time::timeout_at(give_up, closed).await.is_err() {
                return told;
            }
        }
    }

    /// Sessions open now.
    pub fn open_count(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open
    }

    /// Watches for shutdown: `Some(deadline)` once the drain has begun.
    pub fn drain_signal(&self) -> watch::Receiver<Option<Instant>> {
        self.drain_until.subscribe()
    }

    /// Begins the drain (sessions are told to go away and closed at
    /// `grace`'s end; new ones are refused) and waits until every session
    /// has ended, or a little after the deadline at most.
    pub async fn drain(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        self.drain_until.send_replace(Some(deadline));
        // Sessions close themselves at the deadline; allow them time to say so.
        let give_up = deadline + Duration::from_secs(2);
        loop {
            let closed = self.closed.notified();
            if self.open_count() == 0 {
                return;
            }
            if tokio::time::timeout_at(give_up, closed).await.is_err() {
                tracing::warn!(
                    open = self.open_count(),
                    "realtime sessions still open after the drain"
                );
                return;
            }
        }
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut counts = self
            .sessions
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.open -= 1;
        let release = |map: &mut HashMap<String, u32>, id: &Option<String>| {
            if let Some(id) = id
                && let Some(count) = map.get_mut(id)
            {
                *count -= 1;
                if *count == 0 {
                    map.remove(id);
                }
            }
        };
        release(&mut counts.by_key, &self.key);
        release(&mut counts.by_project, &self.project);
        counts.owned.remove(&self.number);
        drop(counts);
        self.sessions.closed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_refuses_new_sessions_and_waits_for_open_ones() {
        let sessions = Arc::new(Sessions::default());
        let slot = sessions.open(None, None, None, None).await.unwrap();
        assert_eq!(sessions.open_count(), 1);
        let draining = {
            let sessions = sessions.clone();
            tokio::spawn(async move { sessions.drain(Duration::from_secs(30)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!draining.is_finished());
        assert_eq!(
            sessions.open(None, None, None, None).await.err(),
            Some(OpenRefusal::Draining)
        );
        drop(slot);
        tokio::time::timeout(Duration::from_secs(5), draining)
            .await
            .expect("the drain ends once the last session closes")
            .unwrap();
        assert_eq!(sessions.open_count(), 0);
    }

    #[tokio::test]
    async fn an_erasure_tells_only_its_users_sessions_and_waits_for_them_to_close() {
        let sessions = Arc::new(Sessions::default());
        let grant = crate::tenancy::test_grant("proj_a");
        let alice = sessions
            .open(Some(&grant), Some("alice"), None, None)
            .await
            .unwrap();
        let bob = sessions
            .open(Some(&grant), Some("bob"), None, None)
            .await
            .unwrap();
        let erased = alice.erase_signal();
        let closing = tokio::spawn(async move {
            erased.notified().await;
            drop(alice);
        });
        let told = sessions
            .close_for_erasure("proj_a", Some("alice"), Duration::from_secs(5))
            .await;
        assert_eq!(told, 1);
        closing.await.unwrap();
        assert_eq!(sessions.open_count(), 1);
        // Bob's session was not told: its signal holds no permit.
        let bob_signal = bob.erase_signal();
        let untold = tokio::time::timeout(Duration::from_millis(50), bob_signal.notified());
        assert!(untold.await.is_err());
        // Nobody of another project; a whole project's erasure tells bob.
        let none = sessions
            .close_for_erasure("proj_b", None, Duration::from_millis(10))
            .await;
        assert_eq!(none, 0);
        let all = sessions
            .close_for_erasure("proj_a", None, Duration::from_millis(10))
            .await;
        assert_eq!(all, 1);
    }
}
