//! Session resumption: the conversations behind the handles this server
//! issued. A handle resumes on any connection to the same server; the
//! newest [`KEEP`] handles are kept.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

use crate::server::lock;

/// How many handles a server remembers.
pub const KEEP: usize = 1024;

/// What a handle resumes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Saved {
    pub history: Vec<Value>,
    pub audio_tokens: u64,
    pub image_tokens: u64,
}

#[derive(Debug, Default)]
pub struct Resumptions {
    store: Mutex<Store>,
}

#[derive(Debug, Default)]
struct Store {
    saved: HashMap<String, Saved>,
    order: VecDeque<String>,
}

impl Resumptions {
    pub fn save(&self, handle: String, saved: Saved) {
        let mut store = lock(&self.store);
        if store.order.len() >= KEEP
            && let Some(oldest) = store.order.pop_front()
        {
            store.saved.remove(&oldest);
        }
        store.order.push_back(handle.clone());
        store.saved.insert(handle, saved);
    }

    pub fn load(&self, handle: &str) -> Option<Saved> {
        lock(&self.store).saved.get(handle).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_handles() {
        let r = Resumptions::default();
        for i in 0..=KEEP {
            r.save(
                format!("h{i}"),
                Saved {
                    audio_tokens: i as u64,
                    ..Saved::default()
                },
            );
        }
        assert_eq!(r.load("h0"), None);
        assert_eq!(r.load("h1").unwrap().audio_tokens, 1);
        assert_eq!(
            r.load(&format!("h{KEEP}")).unwrap().audio_tokens,
            KEEP as u64
        );
    }
}
