//! Conversation state that is Airlock's, not the provider's: the turns of
//! OpenAI's Responses API, kept so a client sends only its new input and
//! the id of the last answer, and Airlock sends the provider the whole
//! history, statelessly (`store: false` upstream).
//!
//! A turn is stored in the database (`airlock_store::StoredResponse`) and
//! kept hot in a bounded in-memory cache, where it links to the turn it
//! continued: a continuation of a hot turn assembles its history with no
//! database round trip, and a turn is in the cache before its answer reaches
//! the client, so a continuation sent right after always finds it.
//!
//! A turn is readable and continuable only by the project whose key created
//! it; a request that names an end user (a verified token, or the `user` /
//! `safety_identifier` field) reaches only the turns created for that same
//! end user. Anyone else is told it does not exist.

use std::sync::Arc;

use airlock_store::{Store, StoreError, StoredResponse};
use moka::sync::Cache;
use serde_json::Value;

/// The most turns a history reaches back (the oldest are left out beyond).
pub const MAX_TURNS: u32 = 1_000;
/// The hot cache's size, in bytes of stored JSON (approximately).
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Who asks for a turn, and who a new turn belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `None` for the master key.
    pub project_id: Option<String>,
    /// The end user the request names, if any.
    pub end_user: Option<String>,
}

/// A stored turn and, when it is in memory, the turn it continued.
#[derive(Debug)]
pub struct Turn {
    pub record: StoredResponse,
    previous: Option<Arc<Turn>>,
}

impl Turn {
    /// Whether `asker` may read this turn: its project, and its end user
    /// when the asker names one.
    fn readable_by(&self, asker: &Owner) -> bool {
        self.record.project_id == asker.project_id
            && (asker.end_user.is_none() || self.record.end_user == asker.end_user)
    }

    /// The conversation up to and including this turn, oldest first: each
    /// turn's input items, then the items its answer gave.
    pub fn history(&self) -> Vec<Value> {
        let mut turns = Vec::new();
        let mut turn = Some(self);
        while let Some(current) = turn {
            turns.push(current);
            turn = current.previous.as_deref();
        }
        turns
            .iter()
            .rev()
            .flat_map(|turn| {
                let output = turn.record.response["output"].as_array();
                turn.record
                    .input_items
                    .iter()
                    .chain(output.into_iter().flatten())
                    .cloned()
            })
            .collect()
    }

    fn weight(&self) -> u32 {
        let bytes = self.record.input_items.iter().map(json_len).sum::<usize>()
            + json_len(&self.record.response);
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(0, |bytes| bytes.len())
}

/// Why a turn could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Not stored, deleted, or another owner's.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored turns, with the hot ones in memory.
#[derive(Clone)]
pub struct Conversations {
    store: Store,
    hot: Cache<String, Arc<Turn>>,
}

impl Conversations {
    pub fn new(store: Store) -> Self {
        Conversations {
            store,
            hot: Cache::builder()
                .max_capacity(CACHE_BYTES)
                .weigher(|_, turn: &Arc<Turn>| turn.weight())
                .build(),
        }
    }

    /// A new turn's id: `resp_` and 128 random bits (never guessable).
    pub fn new_id() -> String {
        format!("resp_{}", uuid::Uuid::new_v4().simple())
    }

    /// The turn `id`, with its history, if `owner` may read it.
    pub async fn turn(&self, id: &str, owner: &Owner) -> Result<Arc<Turn>, LookupError> {
        let turn = match self.hot.get(id) {
            Some(turn) => turn,
            None => self.load(id).await?,
        };
        if turn.readable_by(owner) {
            Ok(turn)
        } else {
            Err(LookupError::NotFound)
        }
    }

    /// Reads a turn's chain from the database into the cache.
    async fn load(&self, id: &str) -> Result<Arc<Turn>, LookupError> {
        let chain = self.store.stored_response_chain(id, MAX_TURNS).await?;
        let mut previous: Option<Arc<Turn>> = None;
        for record in chain {
            let turn = match self.hot.get(&record.id) {
                Some(hot) => hot,
                None => {
                    let turn = Arc::new(Turn { record, previous });
                    self.hot.insert(turn.record.id.clone(), turn.clone());
                    turn
                }
            };
            previous = Some(turn);
        }
        previous.ok_or(LookupError::NotFound)
    }

    /// Keeps a new turn in memory at once (a continuation finds it from now
    /// on) and returns what stores it in the database.
    pub fn remember(
        &self,
        record: StoredResponse,
        previous: Option<Arc<Turn>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + use<> {
        let turn = Arc::new(Turn { record, previous });
        self.hot.insert(turn.record.id.clone(), turn.clone());
        let store = self.store.clone();
        async move { store.insert_stored_response(&turn.record).await }
    }

    /// Deletes a turn its owner names.
    pub async fn delete(&self, id: &str, owner: &Owner) -> Result<(), LookupError> {
        self.turn(id, owner).await?;
        self.hot.invalidate(id);
        if self.store.delete_stored_response(id).await? {
            Ok(())
        } else {
            Err(LookupError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, previous: Option<&str>, said: &str, answered: &str) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            project_id: Some("p1".into()),
            end_user: None,
            previous_id: previous.map(String::from),
            model: "gpt-4o-mini".into(),
            created_at_ms: 0,
            input_items: vec![json!({"role": "user", "content": said})],
            response: json!({"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answered}]}]}),
        }
    }

    #[test]
    fn history_is_every_turns_input_then_output_oldest_first() {
        let first = Arc::new(Turn {
            record: record("a", None, "one", "uno"),
            previous: None,
        });
        let second = Turn {
            record: record("b", Some("a"), "two", "dos"),
            previous: Some(first),
        };
        let texts: Vec<String> = second
            .history()
            .iter()
            .map(|item| {
                item["content"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| item["content"][0]["text"].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(texts, ["one", "uno", "two", "dos"]);
    }

    #[test]
    fn a_turn_is_read_by_its_project_and_by_its_own_end_user_only() {
        let turn = Turn {
            record: StoredResponse {
                end_user: Some("u1".into()),
                ..record("a", None, "x", "y")
            },
            previous: None,
        };
        let asker = |project: Option<&str>, user: Option<&str>| Owner {
            project_id: project.map(String::from),
            end_user: user.map(String::from),
        };
        assert!(turn.readable_by(&asker(Some("p1"), Some("u1"))));
        // The project's server, naming no end user.
        assert!(turn.readable_by(&asker(Some("p1"), None)));
        assert!(!turn.readable_by(&asker(Some("p1"), Some("u2"))));
        assert!(!turn.readable_by(&asker(Some("p2"), Some("u1"))));
        assert!(!turn.readable_by(&asker(Some("p2"), None)));
        assert!(!turn.readable_by(&asker(None, None)));
        let unnamed = Turn {
            record: record("b", None, "x", "y"),
            previous: None,
        };
        assert!(!unnamed.readable_by(&asker(Some("p1"), Some("u1"))));
    }
}
