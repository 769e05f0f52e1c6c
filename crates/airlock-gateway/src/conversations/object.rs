//! A Conversations API object (`/v1/conversations`): a list of items a
//! client adds to directly or through responses that name it
//! (`conversation`), held in memory while hot and stored row by row.
//! Items added together form one turn, the unit the history policy leaves
//! out whole; each item gets the id it is listed by.

use std::sync::{Mutex, MutexGuard};

use airlock_store::{ConversationItem, HistoryPolicy, StoredConversation};
use serde_json::Value;

use super::history::{History, Unit, json_len, older_than, tokens_of};

/// The most items one request may add, as OpenAI allows.
pub const MAX_ITEMS_PER_ADD: usize = 20;

/// One conversation object and its items.
#[derive(Debug)]
pub struct ConversationObject {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    record: StoredConversation,
    items: Vec<HeldItem>,
    next_position: i64,
}

#[derive(Debug, Clone)]
struct HeldItem {
    stored: ConversationItem,
    /// Estimated once, when the item is added.
    tokens: u64,
}

impl HeldItem {
    fn new(stored: ConversationItem) -> HeldItem {
        let tokens = tokens_of(json_len(&stored.item));
        HeldItem { stored, tokens }
    }
}

impl ConversationObject {
    /// The object as stored: its row and its items, in order.
    pub fn new(record: StoredConversation, items: Vec<ConversationItem>) -> ConversationObject {
        let next_position = items.last().map_or(1, |item| item.position + 1);
        ConversationObject {
            state: Mutex::new(State {
                record,
                items: items.into_iter().map(HeldItem::new).collect(),
                next_position,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Its row as it is now.
    pub fn record(&self) -> StoredConversation {
        self.lock().record.clone()
    }

    /// Its items, in order.
    pub fn items(&self) -> Vec<ConversationItem> {
        self.lock()
            .items
            .iter()
            .map(|held| held.stored.clone())
            .collect()
    }

    /// The approximate bytes it holds (its cache weight when inserted).
    pub fn weight(&self) -> u32 {
        let state = self.lock();
        let bytes: usize = state
            .items
            .iter()
            .map(|held| json_len(&held.stored.item))
            .sum::<usize>()
            + json_len(&state.record.metadata);
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }

    /// Adds items as one turn at `at_ms`, giving each its listed id: the
    /// one it came with when no other item has it, else a new one. Returns
    /// them as stored.
    pub fn add(&self, items: Vec<Value>, at_ms: i64) -> Vec<ConversationItem> {
        let mut state = self.lock();
        let turn = state.next_position;
        let mut added = Vec::with_capacity(items.len());
        for item in items {
            let position = state.next_position;
            state.next_position += 1;
            let own = item.get("id").and_then(Value::as_str).filter(|id| {
                !id.is_empty()
                    && !state.items.iter().any(|held| held.stored.id == *id)
                    && !added.iter().any(|new: &ConversationItem| new.id == *id)
            });
            let id = own.map_or_else(|| new_item_id(&item), String::from);
            added.push(ConversationItem {
                position,
                turn,
                id,
                item,
                created_at_ms: at_ms,
            });
        }
        state.items.extend(added.iter().cloned().map(HeldItem::new));
        state.record.updated_at_ms = at_ms;
        added
    }

    /// Takes back items [`add`](Self::add) gave, when storing them failed.
    pub fn take_back(&self, added: &[ConversationItem]) {
        let mut state = self.lock();
        state
            .items
            .retain(|held| !added.iter().any(|new| new.position == held.stored.position));
    }

    /// The item listed as `id`.
    pub fn item(&self, id: &str) -> Option<ConversationItem> {
        self.lock()
            .items
            .iter()
            .find(|held| held.stored.id == id)
            .map(|held| held.stored.clone())
    }

    /// Removes the item listed as `id`; whether it was there.
    pub fn remove(&self, id: &str) -> bool {
        let mut state = self.lock();
        let before = state.items.len();
        state.items.retain(|held| held.stored.id != id);
        state.items.len() != before
    }

    /// Replaces its metadata, changed at `at_ms`.
    pub fn set_metadata(&self, metadata: Value, at_ms: i64) {
        let mut state = self.lock();
        state.record.metadata = metadata;
        state.record.updated_at_ms = at_ms;
    }

    /// The history a turn that names it sends before its new input.
    pub fn history(&self, new_items: &[Value], policy: &HistoryPolicy) -> History {
        let state = self.lock();
        // Each turn's items as JSON, with their count and tokens.
        let mut turns: Vec<(String, u64, u64)> = Vec::new();
        let mut current_turn = None;
        for held in &state.items {
            if current_turn != Some(held.stored.turn) {
                turns.push((String::new(), 0, 0));
                current_turn = Some(held.stored.turn);
            }
            if let Some((json, items, tokens)) = turns.last_mut() {
                if !json.is_empty() {
                    json.push(',');
                }
                json.push_str(&held.stored.item.to_string());
                *items += 1;
                *tokens += held.tokens;
            }
        }
        let units: Vec<Unit<'_>> = turns
            .iter()
            .map(|(json, items, tokens)| Unit {
                json,
                items: *items,
                tokens: *tokens,
            })
            .collect();
        History::within(&units, new_items, policy)
    }

    /// Whether it can no longer be continued: idle since its last change,
    /// or old since it was made, beyond the policy's bounds.
    pub fn expired(&self, policy: &HistoryPolicy, now_ms: i64) -> bool {
        let state = self.lock();
        older_than(now_ms, state.record.updated_at_ms, policy.idle_ttl_secs)
            || older_than(now_ms, state.record.created_at_ms, policy.max_age_secs)
    }
}

/// A new item id, prefixed as OpenAI prefixes the item's type.
fn new_item_id(item: &Value) -> String {
    let prefix = match item.get("type").and_then(Value::as_str) {
        Some("function_call") => "fc",
        Some("function_call_output") => "fco",
        Some("reasoning") => "rs",
        Some("web_search_call") => "ws",
        _ => "msg",
    };
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object() -> ConversationObject {
        ConversationObject::new(
            StoredConversation {
                id: "conv_1".into(),
                project_id: Some("p".into()),
                end_user: None,
                api: airlock_store::API_CONVERSATIONS.into(),
                created_at_ms: 0,
                updated_at_ms: 0,
                metadata: json!({}),
            },
            Vec::new(),
        )
    }

    fn items(history: &History) -> Vec<Value> {
        serde_json::from_str(&format!("[{}]", history.json)).unwrap()
    }

    fn said(text: &str) -> Value {
        json!({"type": "message", "role": "user", "content": text})
    }

    #[test]
    fn items_added_together_are_one_turn_and_keep_unused_ids() {
        let object = object();
        let first = object.add(vec![said("a"), said("b")], 10);
        assert_eq!(
            first
                .iter()
                .map(|i| (i.position, i.turn))
                .collect::<Vec<_>>(),
            [(1, 1), (2, 1)]
        );
        assert!(first[0].id.starts_with("msg_") && first[0].id != first[1].id);
        let call = json!({"type": "function_call", "id": "fc_own", "call_id": "c1", "name": "f", "arguments": "{}"});
        let again = json!({"type": "function_call", "id": "fc_own", "call_id": "c2", "name": "f", "arguments": "{}"});
        let second = object.add(vec![call, again], 20);
        assert_eq!(second[0].id, "fc_own");
        assert!(second[1].id.starts_with("fc_") && second[1].id != "fc_own");
        assert_eq!(second[0].turn, 3);
        assert_eq!(object.record().updated_at_ms, 20);
    }

    #[test]
    fn history_leaves_out_the_oldest_whole_turns() {
        let object = object();
        object.add(vec![said("a"), said("b")], 1);
        object.add(vec![said("c")], 2);
        object.add(vec![said("d"), said("e")], 3);
        let policy = HistoryPolicy {
            max_items: Some(4),
            ..HistoryPolicy::default()
        };
        let history = object.history(&[said("f")], &policy);
        assert_eq!(history.dropped_turns, 1);
        let texts: Vec<_> = items(&history)
            .iter()
            .map(|i| i["content"].clone())
            .collect();
        assert_eq!(texts, ["c", "d", "e"]);
    }

    #[test]
    fn removed_and_taken_back_items_leave_the_history() {
        let object = object();
        let added = object.add(vec![said("a"), said("b")], 1);
        assert!(object.remove(&added[0].id));
        assert!(!object.remove(&added[0].id));
        let later = object.add(vec![said("c")], 2);
        object.take_back(&later);
        let texts: Vec<_> = items(&object.history(&[], &HistoryPolicy::default()))
            .iter()
            .map(|i| i["content"].clone())
            .collect();
        assert_eq!(texts, ["b"]);
    }

    #[test]
    fn an_object_expires_when_idle_or_old() {
        let object = object();
        object.add(vec![said("a")], 5_000);
        let policy = HistoryPolicy {
            idle_ttl_secs: Some(10),
            max_age_secs: Some(60),
            ..HistoryPolicy::default()
        };
        assert!(!object.expired(&policy, 15_000));
        assert!(object.expired(&policy, 15_001));
        object.add(vec![said("b")], 59_000);
        assert!(object.expired(&policy, 60_001), "60 s after it was made");
    }
}
