//! Stored turns of OpenAI's Responses API (`stored_responses`): each turn's
//! input items and the response object answered, linked to the turn it
//! continued. The conversation logic (ownership, the history a turn sends
//! upstream, the cache) is the gateway's `conversations` module; this holds
//! only the rows.

use serde_json::Value;
use sqlx::{FromRow, QueryBuilder};

use crate::database::{from_json, on_pool, optional_text, text, to_json};
use crate::{SealedColumn, Store, StoreError};

/// One stored turn. Holds user content: it is returned only to its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    /// `resp_` and random hex.
    pub id: String,
    /// The project whose key created it; `None` for the master key.
    pub project_id: Option<String>,
    /// The end user the request named, if any.
    pub end_user: Option<String>,
    /// The turn this one continued.
    pub previous_id: Option<String>,
    /// The conversation it belongs to (`conv_`): the Conversations API
    /// object it named, or the one its chain's first turn started.
    pub conversation_id: String,
    pub model: String,
    pub created_at_ms: i64,
    /// The items the client sent in this turn (a bare text input is stored
    /// as one user message).
    pub input_items: Vec<Value>,
    /// The response object as the client got it.
    pub response: Value,
}

#[derive(FromRow)]
pub(crate) struct StoredResponseColumns {
    id: String,
    project_id: Option<String>,
    end_user: Option<String>,
    previous_id: Option<String>,
    conversation_id: Option<String>,
    model: String,
    created_at_ms: i64,
    input_items: String,
    response: String,
}

pub(crate) const STORED_RESPONSE_COLUMNS: &str = "id, project_id, end_user, previous_id, conversation_id, model, \
     created_at_ms, input_items, response";

impl Store {
    /// A stored turn from its row, its sealed columns opened.
    pub(crate) fn stored_from(
        &self,
        mut row: StoredResponseColumns,
    ) -> Result<StoredResponse, StoreError> {
        row.input_items = self.unseal(SealedColumn::ResponseInput, row.input_items)?;
        row.response = self.unseal(SealedColumn::ResponseOutput, row.response)?;
        StoredResponse::try_from(row)
    }
}

impl TryFrom<StoredResponseColumns> for StoredResponse {
    type Error = StoreError;

    fn try_from(row: StoredResponseColumns) -> Result<Self, StoreError> {
        Ok(StoredResponse {
            id: row.id.clone(),
            project_id: row.project_id,
            end_user: row.end_user,
            // Turns stored before conversations had ids are each their own.
            conversation_id: row.conversation_id.unwrap_or_else(|| row.id.clone()),
            previous_id: row.previous_id,
            model: row.model,
            created_at_ms: row.created_at_ms,
            input_items: from_json(&row.input_items)?,
            response: from_json(&row.response)?,
        })
    }
}

impl Store {
    /// Stores a turn; an id already stored is a conflict.
    pub async fn insert_stored_response(&self, turn: &StoredResponse) -> Result<(), StoreError> {
        // JSON escapes NUL, which PostgreSQL text cannot hold.
        let input_items = self.seal(SealedColumn::ResponseInput, to_json(&turn.input_items));
        let response = self.seal(SealedColumn::ResponseOutput, to_json(&turn.response));
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!("INSERT INTO stored_responses ({STORED_RESPONSE_COLUMNS}) "));
            query.push_values([()], |mut row, ()| {
                row.push_bind(text(&turn.id))
                    .push_bind(optional_text(&turn.project_id))
                    .push_bind(optional_text(&turn.end_user))
                    .push_bind(optional_text(&turn.previous_id))
                    .push_bind(text(&turn.conversation_id))
                    .push_bind(text(&turn.model))
                    .push_bind(turn.created_at_ms)
                    .push_bind(input_items.clone())
                    .push_bind(response.clone());
            });
            query.push(" ON CONFLICT (id) DO NOTHING");
            let done = query.build().execute(pool).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict);
            }
        });
        Ok(())
    }

    /// A turn and the turns before it, oldest first, at most `max_turns`
    /// of them (the newest); empty when `id` is not stored. A turn whose
    /// predecessor was deleted starts the chain.
    pub async fn stored_response_chain(
        &self,
        id: &str,
        max_turns: u32,
    ) -> Result<Vec<StoredResponse>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(
                "WITH RECURSIVE chain (id, previous_id, depth) AS (\
                 SELECT id, previous_id, 1 FROM stored_responses WHERE id = ",
            );
            query
                .push_bind(id.to_string())
                .push(
                    " UNION ALL SELECT r.id, r.previous_id, c.depth + 1 \
                     FROM stored_responses r JOIN chain c ON r.id = c.previous_id \
                     WHERE c.depth < ",
                )
                .push_bind(i64::from(max_turns))
                .push(format!(
                    ") SELECT {} FROM stored_responses s JOIN chain c ON s.id = c.id \
                     ORDER BY c.depth DESC",
                    STORED_RESPONSE_COLUMNS
                        .split(", ")
                        .map(|column| format!("s.{column}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| self.stored_from(StoredResponseColumns::from_row(row)?))
                .collect()
        })
    }

    /// One stored turn.
    pub async fn stored_response(&self, id: &str) -> Result<Option<StoredResponse>, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query =
                QueryBuilder::new(format!("SELECT {STORED_RESPONSE_COLUMNS} FROM stored_responses WHERE id = "));
            query.push_bind(id.to_string());
            match query.build().fetch_optional(pool).await? {
                Some(row) => Ok(Some(self.stored_from(StoredResponseColumns::from_row(&row)?)?)),
                None => Ok(None),
            }
        })
    }

    /// Deletes a stored turn; whether it was there.
    pub async fn delete_stored_response(&self, id: &str) -> Result<bool, StoreError> {
        on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new("DELETE FROM stored_responses WHERE id = ");
            query.push_bind(id.to_string());
            let done = query.build().execute(pool).await?;
            Ok(done.rows_affected() > 0)
        })
    }
}
