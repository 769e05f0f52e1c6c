//! Conversations (`conversations`, `conversation_items`): every stored turn
//! belongs to one, either an OpenAI Conversations API object the client
//! made (whose items are rows here) or the chain a first turn started. The
//! rules (ownership, history, the cache) are the gateway's; this holds the
//! rows, and the per-project listing the admin API and the export read.

use serde_json::Value;
use sqlx::{FromRow, QueryBuilder};

use crate::database::{from_json, on_pool, optional_text, text, to_json};
use crate::stored_responses::{STORED_RESPONSE_COLUMNS, StoredResponseColumns};
use crate::{SealedColumn, Store, StoreError, StoredResponse};

/// Which API made a conversation.
pub const API_CONVERSATIONS: &str = "conversations";
/// A chain of `previous_response_id` links.
pub const API_RESPONSES: &str = "responses";

/// One conversation. Its metadata is the client's.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConversation {
    /// `conv_` and random hex.
    pub id: String,
    /// The project whose key created it; `None` for the master key.
    pub project_id: Option<String>,
    /// The end user the creating request named, if any.
    pub end_user: Option<String>,
    /// [`API_CONVERSATIONS`] or [`API_RESPONSES`].
    pub api: String,
    pub created_at_ms: i64,
    /// The last time a turn or an item changed it.
    pub updated_at_ms: i64,
    pub metadata: Value,
}

/// One item of a Conversations API object.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationItem {
    /// Its place in the conversation, increasing.
    pub position: i64,
    /// Items added together share one (the first one's position).
    pub turn: i64,
    /// The item's id as listed (`msg_`, or the id the item came with).
    pub id: String,
    /// The item as the client or the model gave it.
    pub item: Value,
    pub created_at_ms: i64,
}

/// A conversation as the admin API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    pub conversation: StoredConversation,
    /// Stored turns (responses) in it.
    pub turns: i64,
    /// Items of a Conversations API object.
    pub items: i64,
    /// Its latest turn, item or change (its `updated_at_ms`).
    pub last_active_ms: i64,
}

#[derive(FromRow)]
struct ConversationColumns {
    id: String,
    project_id: Option<String>,
    end_user: Option<String>,
    api: String,
    created_at_ms: i64,
    updated_at_ms: i64,
    metadata: String,
}

const CONVERSATION_COLUMNS: &str =
    "id, project_id, end_user, api, created_at_ms, updated_at_ms, metadata";

impl TryFrom<ConversationColumns> for StoredConversation {
    type Error = StoreError;

    fn try_from(row: ConversationColumns) -> Result<Self, StoreError> {
        Ok(StoredConversation {
            id: row.id,
            project_id: row.project_id,
            end_user: row.end_user,
            api: row.api,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
            metadata: from_json(&row.metadata)?,
        })
    }
}

#[derive(FromRow)]
struct ItemColumns {
    position: i64,
    turn: i64,
    item_id: String,
    item: String,
    created_at_ms: i64,
}

#[derive(FromRow)]
struct SummaryColumns {
    #[sqlx(flatten)]
    conversation: ConversationColumns,
    turns: i64,
    items: i64,
    last_active_ms: i64,
}

impl Store {
    /// Stores a new conversation; an id already stored is a conflict.
    pub async fn insert_conversation(
        &self,
        conversation: &StoredConversation,
    ) -> Result<(), StoreError> {
        let metadata = to_json(&conversation.metadata);
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "INSERT INTO conversations ({CONVERSATION_COLUMNS}) "
            ));
            query.push_values([()], |mut row, ()| {
                row.push_bind(text(&conversation.id))
                    .push_bind(optional_text(&conversation.project_id))
                    .push_bind(optional_text(&conversation.end_user))
                    .push_bind(text(&conversation.api))
                    .push_bind(conversation.created_at_ms)
                    .push_bind(conversation.updated_at_ms)
                    .push_bind(metadata.clone());
            });
            query.push(" ON CONFLICT (id) DO NOTHING");
            if query.build().execute(pool).await?.rows_affected() == 0 {
                return Err(StoreError::Conflict);
            }
        });
        Ok(())
    }

    /// One conversation.
    pub async fn conversation(&self, id: &str) -> Result<Option<StoredConversation>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = "
            ));
            query.push_bind(id.to_string());
            match query.build().fetch_optional(pool).await? {
                Some(row) => Ok(Some(ConversationColumns::from_row(&row)?.try_into()?)),
                None => Ok(None),
            }
        })
    }

    /// Marks a conversation changed at `at_ms`, with new metadata when
    /// given; whether it was there.
    pub async fn touch_conversation(
        &self,
        id: &str,
        at_ms: i64,
        metadata: Option<&Value>,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("UPDATE conversations SET updated_at_ms = ");
            query.push_bind(at_ms);
            if let Some(metadata) = metadata {
                query.push(", metadata = ").push_bind(to_json(metadata));
            }
            query.push(" WHERE id = ").push_bind(id.to_string());
            Ok(query.build().execute(pool).await?.rows_affected() > 0)
        })
    }

    /// Deletes a conversation and its items (its stored turns stay, each
    /// readable by its own id); whether it was there.
    pub async fn delete_conversation(&self, id: &str) -> Result<bool, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut transaction = pool.begin().await?;
            let mut items = QueryBuilder::new("DELETE FROM conversation_items WHERE conversation_id = ");
            items.push_bind(id.to_string());
            items.build().execute(&mut *transaction).await?;
            let mut conversation = QueryBuilder::new("DELETE FROM conversations WHERE id = ");
            conversation.push_bind(id.to_string());
            let done = conversation.build().execute(&mut *transaction).await?;
            transaction.commit().await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Appends items to a conversation, with the positions they carry; a
    /// position or item id already there is a conflict.
    pub async fn append_conversation_items(
        &self,
        conversation_id: &str,
        items: &[ConversationItem],
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let json: Vec<String> = items
            .iter()
            .map(|item| self.seal(SealedColumn::ConversationItem, to_json(&item.item)))
            .collect();
        let result = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "INSERT INTO conversation_items \
                 (conversation_id, position, turn, item_id, item, created_at_ms) ",
            );
            query.push_values(items.iter().zip(&json), |mut row, (item, json)| {
                row.push_bind(text(conversation_id))
                    .push_bind(item.position)
                    .push_bind(item.turn)
                    .push_bind(text(&item.id))
                    .push_bind(json.clone())
                    .push_bind(item.created_at_ms);
            });
            query.build().execute(pool).await.map(|_| ())
        });
        match result {
            Ok(()) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(StoreError::Conflict)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A conversation's items, in order.
    pub async fn conversation_items(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<ConversationItem>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "SELECT position, turn, item_id, item, created_at_ms FROM conversation_items \
                 WHERE conversation_id = ",
            );
            query.push_bind(conversation_id.to_string()).push(" ORDER BY position");
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    let row = ItemColumns::from_row(row)?;
                    Ok(ConversationItem {
                        position: row.position,
                        turn: row.turn,
                        id: row.item_id,
                        item: from_json(&self.unseal(SealedColumn::ConversationItem, row.item)?)?,
                        created_at_ms: row.created_at_ms,
                    })
                })
                .collect()
        })
    }

    /// Deletes one item of a conversation; whether it was there.
    pub async fn delete_conversation_item(
        &self,
        conversation_id: &str,
        item_id: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query =
                QueryBuilder::new("DELETE FROM conversation_items WHERE conversation_id = ");
            query
                .push_bind(conversation_id.to_string())
                .push(" AND item_id = ")
                .push_bind(item_id.to_string());
            Ok(query.build().execute(pool).await?.rows_affected() > 0)
        })
    }

    /// A conversation's stored turns, oldest first.
    pub async fn conversation_turns(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<StoredResponse>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {STORED_RESPONSE_COLUMNS} FROM stored_responses WHERE conversation_id = "
            ));
            query
                .push_bind(conversation_id.to_string())
                .push(" ORDER BY created_at_ms, id");
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| self.stored_from(StoredResponseColumns::from_row(row)?))
                .collect()
        })
    }

    /// A project's conversations (the master key's when `project_id` is
    /// `None`), most recently active first (then by id), at most `limit`,
    /// and only those after `after` when given: the `(last_active_ms, id)`
    /// of the previous page's last.
    pub async fn project_conversations(
        &self,
        project_id: Option<&str>,
        limit: i64,
        after: Option<(i64, &str)>,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT * FROM (SELECT {CONVERSATION_COLUMNS}, \
                 (SELECT COUNT(*) FROM stored_responses r WHERE r.conversation_id = c.id) AS turns, \
                 (SELECT COUNT(*) FROM conversation_items i WHERE i.conversation_id = c.id) AS items, \
                 updated_at_ms AS last_active_ms FROM conversations c WHERE "
            ));
            match project_id {
                Some(project) => query.push("c.project_id = ").push_bind(project.to_string()),
                None => query.push("c.project_id IS NULL"),
            };
            if let Some((active_ms, id)) = after {
                query
                    .push(" AND (updated_at_ms < ")
                    .push_bind(active_ms)
                    .push(" OR (updated_at_ms = ")
                    .push_bind(active_ms)
                    .push(" AND id < ")
                    .push_bind(id.to_string())
                    .push("))");
            }
            query
                .push(") t ORDER BY last_active_ms DESC, id DESC LIMIT ")
                .push_bind(limit);
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    let row = SummaryColumns::from_row(row)?;
                    Ok(ConversationSummary {
                        conversation: row.conversation.try_into()?,
                        turns: row.turns,
                        items: row.items,
                        last_active_ms: row.last_active_ms,
                    })
                })
                .collect()
        })
    }
}
