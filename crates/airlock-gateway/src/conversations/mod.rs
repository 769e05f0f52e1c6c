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

pub mod export;
pub mod object;
pub mod turn;

use std::sync::Arc;

use airlock_store::{
    API_CONVERSATIONS, API_RESPONSES, ConversationItem, HistoryPolicy, Store, StoreError,
    StoredConversation, StoredResponse,
};
use moka::sync::Cache;
use serde_json::{Map, Value};

use crate::context::RequestContext;
use object::ConversationObject;

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

impl Owner {
    /// Whether this asker reaches what `project_id` and `end_user` own: the
    /// same project, and the same end user when the asker names one.
    fn reaches(&self, project_id: &Option<String>, end_user: &Option<String>) -> bool {
        *project_id == self.project_id && (self.end_user.is_none() || *end_user == self.end_user)
    }

    /// Who owns a turn a request makes: the caller's project, and the end
    /// user a verified token named, or else the request's
    /// `safety_identifier` or `user`.
    pub fn of(context: &RequestContext, request: &Map<String, Value>) -> Owner {
        let named = ["safety_identifier", "user"]
            .iter()
            .find_map(|field| request.get(*field).and_then(Value::as_str))
            .map(String::from);
        Owner {
            project_id: context.principal.grant().map(|g| g.project.id.clone()),
            end_user: context.end_user.clone().or(named),
        }
    }
}

/// The caller's bounds on its conversations: its key's when the key has
/// its own, else its project's (none for the master key).
pub fn history_policy(context: &RequestContext) -> HistoryPolicy {
    context
        .principal
        .grant()
        .and_then(|grant| {
            grant
                .key
                .settings
                .conversations
                .or(grant.project.settings.conversations)
        })
        .unwrap_or_default()
}

/// A stored turn and, when it is in memory, the turn it continued.
#[derive(Debug)]
pub struct Turn {
    pub record: StoredResponse,
    previous: Option<Arc<Turn>>,
    /// Measured once, when the turn is made: the bytes of its JSON (the
    /// cache's weight) and its estimated tokens (the history policy's).
    bytes: u32,
    tokens: u64,
}

impl Turn {
    fn new(record: StoredResponse, previous: Option<Arc<Turn>>) -> Turn {
        let mut turn = Turn {
            record,
            previous,
            bytes: 0,
            tokens: 0,
        };
        turn.tokens = turn.items().map(|item| tokens_of(json_len(item))).sum();
        let bytes = turn.record.input_items.iter().map(json_len).sum::<usize>()
            + json_len(&turn.record.response);
        turn.bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        turn
    }

    /// Whether `asker` may read this turn: its project, and its end user
    /// when the asker names one.
    fn readable_by(&self, asker: &Owner) -> bool {
        asker.reaches(&self.record.project_id, &self.record.end_user)
    }

    /// This turn and the turns before it, oldest first.
    fn chain(&self) -> Vec<&Turn> {
        let mut turns = Vec::new();
        let mut turn = Some(self);
        while let Some(current) = turn {
            turns.push(current);
            turn = current.previous.as_deref();
        }
        turns.reverse();
        turns
    }

    /// This turn's items: its input, then what its answer gave.
    fn items(&self) -> impl Iterator<Item = &Value> {
        let output = self.record.response["output"].as_array();
        self.record
            .input_items
            .iter()
            .chain(output.into_iter().flatten())
    }

    /// Whether the conversation can no longer be continued from this turn:
    /// idle (since this turn) or old (since its first turn) beyond the
    /// policy's bounds.
    pub fn expired(&self, policy: &HistoryPolicy, now_ms: i64) -> bool {
        let mut first = self;
        while let Some(previous) = first.previous.as_deref() {
            first = previous;
        }
        older_than(now_ms, self.record.created_at_ms, policy.idle_ttl_secs)
            || older_than(now_ms, first.record.created_at_ms, policy.max_age_secs)
    }
}

/// Whether more than `secs` (when set) have passed from `since_ms` to
/// `now_ms`.
fn older_than(now_ms: i64, since_ms: i64, secs: Option<u64>) -> bool {
    secs.is_some_and(|secs| {
        now_ms - since_ms > i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    })
}

/// The history a new turn sends before its input.
#[derive(Debug, Default)]
pub struct History {
    pub items: Vec<Value>,
    /// The oldest turns left out to stay within the policy.
    pub dropped_turns: usize,
}

impl History {
    /// The conversation up to and including `last`, oldest first, within the
    /// policy's item and token bounds counted with the new input: the
    /// oldest whole turns are left out first (the request's `instructions`
    /// are not history, and always go).
    pub fn within(last: Option<&Turn>, new_items: &[Value], policy: &HistoryPolicy) -> History {
        let chain = last.map(Turn::chain).unwrap_or_default();
        let turns = chain
            .iter()
            .map(|turn| (turn.items().collect(), turn.tokens))
            .collect();
        History::bounded(turns, new_items, policy)
    }

    /// `turns` (each its items and their estimated tokens), oldest first,
    /// without the oldest whole turns that would take the conversation
    /// beyond the policy's bounds.
    fn bounded(
        turns: Vec<(Vec<&Value>, u64)>,
        new_items: &[Value],
        policy: &HistoryPolicy,
    ) -> History {
        let mut items =
            new_items.len() as u64 + turns.iter().map(|t| t.0.len() as u64).sum::<u64>();
        let mut tokens = new_items
            .iter()
            .map(|item| tokens_of(json_len(item)))
            .sum::<u64>()
            + turns.iter().map(|t| t.1).sum::<u64>();
        let over = |items: u64, tokens: u64| {
            policy.max_items.is_some_and(|max| items > u64::from(max))
                || policy.max_input_tokens.is_some_and(|max| tokens > max)
        };
        let mut dropped = 0;
        while dropped < turns.len() && over(items, tokens) {
            items -= turns[dropped].0.len() as u64;
            tokens -= turns[dropped].1;
            dropped += 1;
        }
        History {
            items: turns[dropped..]
                .iter()
                .flat_map(|turn| turn.0.iter().map(|item| (*item).clone()))
                .collect(),
            dropped_turns: dropped,
        }
    }
}

/// About four characters of JSON a token, as the providers' tokenizers
/// average on English text.
fn tokens_of(json_bytes: usize) -> u64 {
    (json_bytes as u64).div_ceil(4)
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

/// The stored turns and conversation objects, with the hot ones in memory.
#[derive(Clone)]
pub struct Conversations {
    store: Store,
    hot: Cache<String, Arc<Turn>>,
    objects: Cache<String, Arc<ConversationObject>>,
}

impl Conversations {
    pub fn new(store: Store) -> Self {
        Conversations {
            store,
            hot: Cache::builder()
                .max_capacity(CACHE_BYTES)
                .weigher(|_, turn: &Arc<Turn>| turn.bytes)
                .build(),
            objects: Cache::builder()
                .max_capacity(CACHE_BYTES)
                .weigher(|_, object: &Arc<ConversationObject>| object.weight())
                .build(),
        }
    }

    /// A new conversation's id: `conv_` and 128 random bits.
    pub fn new_conversation_id() -> String {
        format!("conv_{}", uuid::Uuid::new_v4().simple())
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
                    let turn = Arc::new(Turn::new(record, previous));
                    self.hot.insert(turn.record.id.clone(), turn.clone());
                    turn
                }
            };
            previous = Some(turn);
        }
        previous.ok_or(LookupError::NotFound)
    }

    /// Keeps a new turn in memory at once (a continuation finds it from now
    /// on) and returns what stores it in the database: with the
    /// conversation its chain starts when `starts_chain` (a first turn
    /// naming no conversation object), else marking its conversation
    /// active.
    pub fn remember(
        &self,
        record: StoredResponse,
        previous: Option<Arc<Turn>>,
        starts_chain: bool,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + use<> {
        let turn = Arc::new(Turn::new(record, previous));
        self.hot.insert(turn.record.id.clone(), turn.clone());
        let store = self.store.clone();
        async move {
            let record = &turn.record;
            if starts_chain {
                store
                    .insert_conversation(&StoredConversation {
                        id: record.conversation_id.clone(),
                        project_id: record.project_id.clone(),
                        end_user: record.end_user.clone(),
                        api: API_RESPONSES.into(),
                        created_at_ms: record.created_at_ms,
                        updated_at_ms: record.created_at_ms,
                        metadata: Value::Object(Map::new()),
                    })
                    .await?;
            } else {
                store
                    .touch_conversation(&record.conversation_id, record.created_at_ms, None)
                    .await?;
            }
            store.insert_stored_response(record).await
        }
    }

    /// Makes a conversation object for `owner`, with `items` as its first
    /// turn.
    pub async fn create_object(
        &self,
        owner: &Owner,
        metadata: Value,
        items: Vec<Value>,
    ) -> Result<Arc<ConversationObject>, StoreError> {
        let now = crate::clock::now_ms();
        let record = StoredConversation {
            id: Self::new_conversation_id(),
            project_id: owner.project_id.clone(),
            end_user: owner.end_user.clone(),
            api: API_CONVERSATIONS.into(),
            created_at_ms: now,
            updated_at_ms: now,
            metadata,
        };
        self.store.insert_conversation(&record).await?;
        let id = record.id.clone();
        let object = Arc::new(ConversationObject::new(record, Vec::new()));
        let added = object.add(items, now);
        if let Err(error) = self.store.append_conversation_items(&id, &added).await {
            let _ = self.store.delete_conversation(&id).await;
            return Err(error);
        }
        self.objects.insert(id, object.clone());
        Ok(object)
    }

    /// The conversation object `id`, if `owner` may read it.
    pub async fn object(
        &self,
        id: &str,
        owner: &Owner,
    ) -> Result<Arc<ConversationObject>, LookupError> {
        let object = match self.objects.get(id) {
            Some(object) => object,
            None => {
                let record = self
                    .store
                    .conversation(id)
                    .await?
                    .filter(|record| record.api == API_CONVERSATIONS)
                    .ok_or(LookupError::NotFound)?;
                let items = self.store.conversation_items(id).await?;
                let loaded = Arc::new(ConversationObject::new(record, items));
                self.objects
                    .entry(id.to_string())
                    .or_insert(loaded)
                    .into_value()
            }
        };
        let record = object.record();
        if owner.reaches(&record.project_id, &record.end_user) {
            Ok(object)
        } else {
            Err(LookupError::NotFound)
        }
    }

    /// Adds items to an object as one turn, stored before this returns.
    pub async fn add_items(
        &self,
        object: &Arc<ConversationObject>,
        items: Vec<Value>,
    ) -> Result<Vec<ConversationItem>, StoreError> {
        let now = crate::clock::now_ms();
        let added = object.add(items, now);
        let id = object.record().id;
        if let Err(error) = self.store.append_conversation_items(&id, &added).await {
            object.take_back(&added);
            return Err(error);
        }
        self.store.touch_conversation(&id, now, None).await?;
        self.objects.insert(id, object.clone());
        Ok(added)
    }

    /// Adds a turn's items to an object in memory at once (the next turn
    /// sees them) and returns what stores them.
    pub fn record_turn(
        &self,
        object: &Arc<ConversationObject>,
        items: Vec<Value>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + use<> {
        let now = crate::clock::now_ms();
        let added = object.add(items, now);
        let id = object.record().id;
        self.objects.insert(id.clone(), object.clone());
        let store = self.store.clone();
        async move {
            store.append_conversation_items(&id, &added).await?;
            store.touch_conversation(&id, now, None).await.map(|_| ())
        }
    }

    /// Deletes one item of an object; whether it was there.
    pub async fn delete_item(
        &self,
        object: &Arc<ConversationObject>,
        item_id: &str,
    ) -> Result<bool, StoreError> {
        let id = object.record().id;
        let deleted = self.store.delete_conversation_item(&id, item_id).await?;
        let removed = object.remove(item_id);
        if deleted || removed {
            self.store
                .touch_conversation(&id, crate::clock::now_ms(), None)
                .await?;
        }
        Ok(deleted || removed)
    }

    /// Replaces an object's metadata.
    pub async fn set_metadata(
        &self,
        object: &Arc<ConversationObject>,
        metadata: Value,
    ) -> Result<(), StoreError> {
        let now = crate::clock::now_ms();
        let id = object.record().id;
        self.store
            .touch_conversation(&id, now, Some(&metadata))
            .await?;
        object.set_metadata(metadata, now);
        Ok(())
    }

    /// Deletes the conversation object `id` its owner names.
    pub async fn delete_object(&self, id: &str, owner: &Owner) -> Result<(), LookupError> {
        self.object(id, owner).await?;
        self.objects.invalidate(id);
        if self.store.delete_conversation(id).await? {
            Ok(())
        } else {
            Err(LookupError::NotFound)
        }
    }

    /// The turn `id` alone, if `owner` may read it: from memory, or its one
    /// row from the database (a read needs no history, so a cold turn's
    /// chain is neither loaded nor cached without it).
    pub async fn stored(&self, id: &str, owner: &Owner) -> Result<Arc<Turn>, LookupError> {
        let turn = match self.hot.get(id) {
            Some(turn) => turn,
            None => {
                let record = self.store.stored_response(id).await?;
                Arc::new(Turn::new(record.ok_or(LookupError::NotFound)?, None))
            }
        };
        if turn.readable_by(owner) {
            Ok(turn)
        } else {
            Err(LookupError::NotFound)
        }
    }

    /// Deletes a turn its owner names.
    pub async fn delete(&self, id: &str, owner: &Owner) -> Result<(), LookupError> {
        self.stored(id, owner).await?;
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

    /// A chain of `n` turns, one user item and one answer item each, the
    /// first made at `start_ms` and one a second.
    fn chain_of(n: usize, start_ms: i64) -> Arc<Turn> {
        let mut previous: Option<Arc<Turn>> = None;
        for i in 0..n {
            let mut record = record(&format!("t{i}"), None, &format!("q{i}"), &format!("a{i}"));
            record.created_at_ms = start_ms + i as i64 * 1000;
            previous = Some(Arc::new(Turn::new(record, previous)));
        }
        previous.unwrap()
    }

    #[test]
    fn the_oldest_whole_turns_are_left_out_to_stay_within_max_items() {
        let last = chain_of(59, 0);
        let policy = HistoryPolicy {
            max_items: Some(50),
            ..HistoryPolicy::default()
        };
        let new = [json!({"role": "user", "content": "q59"})];
        let history = History::within(Some(&last), &new, &policy);
        // 24 whole turns (48 items) and the new input: 49 of 50.
        assert_eq!(history.items.len(), 48);
        assert_eq!(history.dropped_turns, 35);
        assert_eq!(history.items[0]["content"], "q35");
        let unbounded = History::within(Some(&last), &new, &HistoryPolicy::default());
        assert_eq!((unbounded.items.len(), unbounded.dropped_turns), (118, 0));
    }

    #[test]
    fn a_token_bound_leaves_out_turns_too() {
        let last = chain_of(10, 0);
        let one_turn = last.tokens;
        let policy = HistoryPolicy {
            max_input_tokens: Some(one_turn * 3),
            ..HistoryPolicy::default()
        };
        let history = History::within(Some(&last), &[], &policy);
        assert_eq!(history.dropped_turns, 7);
        assert_eq!(history.items.len(), 6);
    }

    #[test]
    fn a_conversation_expires_when_idle_or_old() {
        let last = chain_of(3, 0); // turns at 0, 1 and 2 s
        let policy = HistoryPolicy {
            idle_ttl_secs: Some(10),
            max_age_secs: Some(60),
            ..HistoryPolicy::default()
        };
        assert!(!last.expired(&policy, 12_000));
        assert!(
            last.expired(&policy, 12_001),
            "idle 10 s after the last turn"
        );
        let busy = chain_of(70, 0); // a turn every second for 69 s
        assert!(busy.expired(&policy, 69_500), "60 s after the first turn");
        assert!(!last.expired(&HistoryPolicy::default(), i64::MAX));
    }

    fn record(id: &str, previous: Option<&str>, said: &str, answered: &str) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            project_id: Some("p1".into()),
            end_user: None,
            previous_id: previous.map(String::from),
            conversation_id: "conv_1".into(),
            model: "gpt-4o-mini".into(),
            created_at_ms: 0,
            input_items: vec![json!({"role": "user", "content": said})],
            response: json!({"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answered}]}]}),
        }
    }

    #[test]
    fn history_is_every_turns_input_then_output_oldest_first() {
        let first = Arc::new(Turn::new(record("a", None, "one", "uno"), None));
        let second = Turn::new(record("b", Some("a"), "two", "dos"), Some(first));
        let texts: Vec<String> = History::within(Some(&second), &[], &HistoryPolicy::default())
            .items
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
        let turn = Turn::new(
            StoredResponse {
                end_user: Some("u1".into()),
                ..record("a", None, "x", "y")
            },
            None,
        );
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
        let unnamed = Turn::new(record("b", None, "x", "y"), None);
        assert!(!unnamed.readable_by(&asker(Some("p1"), Some("u1"))));
    }
}
