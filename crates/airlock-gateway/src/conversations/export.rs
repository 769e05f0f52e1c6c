//! A conversation as an operator reads it (the admin API and `airlock
//! conversations export`): its record, and its content: a Conversations API
//! object's items, and every stored turn in it (input items, output, usage).

use airlock_store::{ConversationSummary, Store, StoreError, StoredConversation};
use serde_json::{Value, json};

/// One conversation's summary, as listed.
pub fn summary(listed: &ConversationSummary) -> Value {
    let mut view = record(&listed.conversation);
    view["turns"] = json!(listed.turns);
    view["items"] = json!(listed.items);
    view["last_active_ms"] = json!(listed.last_active_ms);
    view
}

/// One conversation with its items and turns, oldest first.
pub async fn full(store: &Store, conversation: &StoredConversation) -> Result<Value, StoreError> {
    let items = store.conversation_items(&conversation.id).await?;
    let turns = store.conversation_turns(&conversation.id).await?;
    let mut view = record(conversation);
    view["items"] = items
        .iter()
        .map(|item| json!({"id": item.id, "turn": item.turn, "created_at_ms": item.created_at_ms, "item": item.item}))
        .collect();
    view["turns"] = turns
        .iter()
        .map(|turn| {
            json!({
                "id": turn.id,
                "previous_response_id": turn.previous_id,
                "model": turn.model,
                "created_at_ms": turn.created_at_ms,
                "status": turn.response["status"],
                "input": turn.input_items,
                "output": turn.response["output"],
                "usage": turn.response["usage"],
            })
        })
        .collect();
    Ok(view)
}

/// Where the next page starts: after this listed conversation
/// (`<last_active_ms>.<id>`).
pub fn cursor(listed: &ConversationSummary) -> String {
    format!("{}.{}", listed.last_active_ms, listed.conversation.id)
}

/// A [`cursor`] read back.
pub fn parse_cursor(cursor: &str) -> Option<(i64, &str)> {
    let (ms, id) = cursor.split_once('.')?;
    Some((ms.parse().ok()?, id))
}

fn record(conversation: &StoredConversation) -> Value {
    json!({
        "id": conversation.id,
        "api": conversation.api,
        "project_id": conversation.project_id,
        "end_user": conversation.end_user,
        "created_at_ms": conversation.created_at_ms,
        "updated_at_ms": conversation.updated_at_ms,
        "metadata": conversation.metadata,
    })
}
