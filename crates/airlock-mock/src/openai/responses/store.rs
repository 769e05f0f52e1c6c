//! Stored responses, as OpenAI keeps those created with `store: true`:
//! in memory, the last [`CAPACITY`] (older ones are forgotten, as if
//! expired), each with its input items and the conversation it ends, which
//! `previous_response_id` continues.
//!
//! A conversation is a chain of [`Turn`]s shared between the responses
//! that continue it, so storing a long conversation costs each response
//! only its own items; deleting or forgetting a response does not break
//! the conversations that continued it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::server::lock;

/// How many responses are kept.
pub const CAPACITY: usize = 10_000;

/// One response's items (its input, then its output), after those of the
/// conversation it continues.
#[derive(Debug)]
pub struct Turn {
    previous: Option<Arc<Turn>>,
    items: Vec<Value>,
}

impl Turn {
    pub fn new(previous: Option<Arc<Turn>>, items: Vec<Value>) -> Arc<Self> {
        Arc::new(Self { previous, items })
    }

    /// Every item of the conversation, oldest first.
    pub fn items(&self) -> Vec<&Value> {
        let mut chain = vec![self];
        let mut at = self;
        while let Some(previous) = &at.previous {
            chain.push(previous);
            at = previous;
        }
        chain
            .into_iter()
            .rev()
            .flat_map(|turn| turn.items.iter())
            .collect()
    }
}

impl Drop for Turn {
    /// Unlinks the chain one turn at a time: dropping a long conversation
    /// must not recurse once per turn.
    fn drop(&mut self) {
        let mut next = self.previous.take();
        while let Some(turn) = next {
            next = Arc::try_unwrap(turn)
                .ok()
                .and_then(|mut only| only.previous.take());
        }
    }
}

/// A stored response.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The `response` object as it was answered.
    pub response: Arc<Value>,
    /// The conversation up to and including the response's output.
    pub turn: Arc<Turn>,
    /// How many of the turn's items are the request's input.
    pub inputs: usize,
}

impl Stored {
    /// The request's input items, as `input_items` lists them.
    pub fn input(&self) -> &[Value] {
        &self.turn.items[..self.inputs.min(self.turn.items.len())]
    }
}

#[derive(Debug, Default)]
struct Inner {
    by_id: HashMap<String, Stored>,
    /// Ids in the order stored (deleted ones included until they age out).
    order: VecDeque<String>,
}

#[derive(Debug, Default)]
pub struct Store {
    inner: Mutex<Inner>,
}

impl Store {
    pub fn insert(&self, id: String, stored: Stored) {
        let mut inner = lock(&self.inner);
        inner.order.push_back(id.clone());
        inner.by_id.insert(id, stored);
        while inner.order.len() > CAPACITY {
            if let Some(old) = inner.order.pop_front() {
                inner.by_id.remove(&old);
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<Stored> {
        lock(&self.inner).by_id.get(id).cloned()
    }

    /// Whether there was such a response.
    pub fn remove(&self, id: &str) -> bool {
        lock(&self.inner).by_id.remove(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(turn: Arc<Turn>) -> Stored {
        Stored {
            response: Arc::new(json!({})),
            turn,
            inputs: 1,
        }
    }

    #[test]
    fn conversations_chain_and_outlive_their_start() {
        let first = Turn::new(None, vec![json!(1), json!(2)]);
        let second = Turn::new(Some(first.clone()), vec![json!(3)]);
        let store = Store::default();
        store.insert("a".into(), stored(first));
        store.insert("b".into(), stored(second));
        assert!(store.remove("a"));
        assert!(!store.remove("a"));
        let b = store.get("b").unwrap();
        assert_eq!(b.turn.items(), vec![&json!(1), &json!(2), &json!(3)]);
        assert_eq!(b.input(), &[json!(3)]);
        // A very long chain drops without recursing.
        let mut long = Turn::new(None, Vec::new());
        for _ in 0..200_000 {
            long = Turn::new(Some(long), Vec::new());
        }
        drop(long);
    }

    #[test]
    fn the_oldest_are_forgotten() {
        let store = Store::default();
        for i in 0..=CAPACITY {
            store.insert(format!("r{i}"), stored(Turn::new(None, Vec::new())));
        }
        assert!(store.get("r0").is_none());
        assert!(store.get("r1").is_some());
        assert!(store.get(&format!("r{CAPACITY}")).is_some());
    }
}
