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
pub mod history;
pub mod object;
pub mod turn;

use std::sync::Arc;

use airlock_store::{
    API_CONVERSATIONS, API_RESPONSES, ConversationItem, HistoryPolicy, Store, StoreError,
    StoredConversation, StoredResponse,
};
use moka::sync::Cache;
use serde_json::{Map, Value};

use crate::admission::allow_operation;
use crate::context::RequestContext;
use crate::dispatch::Operation;
use crate::error::ApiError;
use crate::state::AppState;
pub use history::{History, Turn};
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
    pub fn reaches(&self, project_id: &Option<String>, end_user: &Option<String>) -> bool {
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

/// The stored turn `id` as a request may read it: the key's `responses`
/// scope, then its project (and end user); anyone else is told it does
/// not exist.
pub async fn readable(
    state: &AppState,
    context: &RequestContext,
    id: &str,
) -> Result<StoredResponse, ApiError> {
    allow_operation(&context.principal, Operation::Responses.name())?;
    let owner = Owner::of(context, &Map::new());
    state
        .conversations()
        .stored(id, &owner)
        .await
        .map_err(|error| response_not_found(error, id))
}

/// Deletes the stored turn `id` for a request, under the same rules as
/// [`readable`].
pub async fn delete_for(
    state: &AppState,
    context: &RequestContext,
    id: &str,
) -> Result<(), ApiError> {
    allow_operation(&context.principal, Operation::Responses.name())?;
    let owner = Owner::of(context, &Map::new());
    state
        .conversations()
        .delete(id, &owner)
        .await
        .map_err(|error| response_not_found(error, id))
}

fn response_not_found(error: LookupError, id: &str) -> ApiError {
    match error {
        LookupError::NotFound => ApiError::ResponseNotFound { id: id.to_string() },
        LookupError::Store(error) => {
            tracing::warn!(%error, "reading a stored response failed");
            ApiError::Internal
        }
    }
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
    /// Turns whose answers are on their way, with their owners.
    answering: Cache<String, Owner>,
}

/// A turn marked as being answered until this is dropped.
pub struct Answering {
    id: String,
    answering: Cache<String, Owner>,
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.answering.invalidate(&self.id);
    }
}

/// How long a turn counts as being answered at most (a guard that was
/// never dropped cannot keep it so for longer).
const ANSWERING_AT_MOST: std::time::Duration = std::time::Duration::from_secs(3600);

impl Conversations {
    pub fn new(store: Store) -> Self {
        Self::with_cache_bytes(store, CACHE_BYTES)
    }

    /// With a hot cache of about `cache_bytes` of JSON for turns, and as
    /// much for conversation objects.
    fn with_cache_bytes(store: Store, cache_bytes: u64) -> Self {
        Conversations {
            store,
            hot: Cache::builder()
                .max_capacity(cache_bytes)
                .weigher(|_, turn: &Arc<Turn>| turn.weight())
                .build(),
            objects: Cache::builder()
                .max_capacity(cache_bytes)
                .weigher(|_, object: &Arc<ConversationObject>| object.weight())
                .build(),
            answering: Cache::builder().time_to_live(ANSWERING_AT_MOST).build(),
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

    /// Marks the turn `id` of `owner` as being answered, until the guard
    /// returned is dropped.
    pub fn answering(&self, id: &str, owner: &Owner) -> Answering {
        self.answering.insert(id.to_string(), owner.clone());
        Answering {
            id: id.to_string(),
            answering: self.answering.clone(),
        }
    }

    /// Whether `owner`'s turn `id` is being answered (so not stored yet).
    pub fn is_answering(&self, id: &str, owner: &Owner) -> bool {
        self.answering
            .get(id)
            .is_some_and(|made_by| owner.reaches(&made_by.project_id, &made_by.end_user))
    }

    /// The turn `id`, if `owner` may read it; on a miss, its chain is read
    /// into the cache (a continuation will want it).
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

    /// `last` and the turns before it, oldest first, at most [`MAX_TURNS`]:
    /// from the cache, reading from the database where it misses one.
    pub async fn chain(&self, last: &Arc<Turn>) -> Result<Vec<Arc<Turn>>, LookupError> {
        let mut turns = vec![last.clone()];
        while turns.len() < MAX_TURNS as usize {
            let Some(previous_id) = turns.last().and_then(|turn| turn.previous_id.clone()) else {
                break;
            };
            match self.hot.get(&previous_id) {
                Some(previous) => turns.push(previous),
                None => match self.load(&previous_id).await {
                    Ok(previous) => turns.push(previous),
                    // A deleted turn ends the history before it.
                    Err(LookupError::NotFound) => break,
                    Err(error) => return Err(error),
                },
            }
        }
        turns.reverse();
        Ok(turns)
    }

    /// Reads a turn's chain from the database into the cache; the turn.
    async fn load(&self, id: &str) -> Result<Arc<Turn>, LookupError> {
        let chain = self.store.stored_response_chain(id, MAX_TURNS).await?;
        let started_ms = chain.first().map(|record| record.created_at_ms);
        let mut last = None;
        for record in chain {
            let turn = match self.hot.get(&record.id) {
                Some(hot) => hot,
                None => {
                    let turn = Arc::new(Turn::new(&record, started_ms));
                    self.hot.insert(turn.id.clone(), turn.clone());
                    turn
                }
            };
            last = Some(turn);
        }
        last.ok_or(LookupError::NotFound)
    }

    /// Keeps a new turn in memory at once (a continuation finds it from now
    /// on) and returns what stores it in the database: with the
    /// conversation its chain starts when `starts_chain` (a first turn
    /// naming no conversation object), else marking its conversation
    /// active.
    pub fn remember(
        &self,
        record: StoredResponse,
        previous: Option<&Turn>,
        starts_chain: bool,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + use<> {
        let turn = Turn::new(&record, previous.map(Turn::chain_started_ms));
        self.hot.insert(turn.id.clone(), Arc::new(turn));
        let store = self.store.clone();
        async move {
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
            store.insert_stored_response(&record).await
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

    /// The turn `id` as stored, if `owner` may read it: from memory, or
    /// its one row from the database (a read needs no history, so a cold
    /// turn's chain is neither loaded nor cached for it).
    pub async fn stored(&self, id: &str, owner: &Owner) -> Result<StoredResponse, LookupError> {
        let record = match self.hot.get(id) {
            Some(turn) => turn.record(),
            None => self
                .store
                .stored_response(id)
                .await?
                .ok_or(LookupError::NotFound)?,
        };
        if owner.reaches(&record.project_id, &record.end_user) {
            Ok(record)
        } else {
            Err(LookupError::NotFound)
        }
    }

    /// Forgets turns and conversation objects whose rows were deleted
    /// elsewhere (an erasure, retention): memory no longer holds them.
    pub fn forget(&self, turns: &[String], objects: &[String]) {
        for id in turns {
            self.hot.invalidate(id);
        }
        for id in objects {
            self.objects.invalidate(id);
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

    fn record(id: &str, previous: Option<&str>, at_ms: i64) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            project_id: Some("p1".into()),
            end_user: None,
            previous_id: previous.map(String::from),
            conversation_id: "conv_1".into(),
            model: "gpt-4o-mini".into(),
            created_at_ms: at_ms,
            input_items: vec![json!({"role": "user", "content": format!("said {id}")})],
            response: json!({"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": format!("answered {id}")}]}]}),
        }
    }

    #[tokio::test]
    async fn the_cache_bound_holds_and_a_history_evicted_from_it_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_data_dir(dir.path()).await.unwrap();
        // Room for about two turns.
        let conversations = Conversations::with_cache_bytes(store, 1_200);
        let mut previous: Option<Arc<Turn>> = None;
        for i in 0..8 {
            let id = format!("resp_{i}");
            let prior = previous.as_ref().map(|turn| turn.id.clone());
            let saving = conversations.remember(
                record(&id, prior.as_deref(), 1_000 + i),
                previous.as_deref(),
                i == 0,
            );
            saving.await.unwrap();
            previous = conversations.hot.get(&id);
        }
        conversations.hot.run_pending_tasks();
        // Turns hold no earlier turns: what the cache evicted is gone from
        // memory, and the cache stays within its bound.
        assert!(conversations.hot.entry_count() < 8);
        assert!(conversations.hot.weighted_size() <= 1_200);
        let owner = Owner {
            project_id: Some("p1".into()),
            end_user: None,
        };
        let last = conversations.turn("resp_7", &owner).await.unwrap();
        let chain = conversations.chain(&last).await.unwrap();
        let ids: Vec<_> = chain.iter().map(|turn| turn.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "resp_0", "resp_1", "resp_2", "resp_3", "resp_4", "resp_5", "resp_6", "resp_7"
            ]
        );
        assert!(chain.iter().all(|turn| turn.chain_started_ms() == 1_000));
    }
}
