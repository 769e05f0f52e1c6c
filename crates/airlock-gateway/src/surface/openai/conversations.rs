//! OpenAI's Conversations API (`/v1/conversations`), served from Airlock's
//! own state: create, read, update (metadata) and delete a conversation,
//! and list, add, read and delete its items. A response that names the
//! conversation (`conversation` in `POST /v1/responses`) sends its items as
//! history and adds its input and output to it. Only the conversation's
//! project (and end user, when the request names one) sees it; anyone else
//! is told it does not exist.

use std::sync::Arc;

use airlock_store::{ConversationItem, StoreError};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use super::items::{ListQuery, list, listed, page};
use super::refuse_unknown;
use crate::admission::allow_operation;
use crate::body::{parse_json_object, read_json_bytes};
use crate::context::RequestContext;
use crate::conversations::object::{ConversationObject, MAX_ITEMS_PER_ADD};
use crate::conversations::{LookupError, Owner};
use crate::dispatch::Operation;
use crate::error::{ApiError, Surface};
use crate::state::AppState;

/// Metadata bounds, as OpenAI sets them.
const MAX_METADATA_PAIRS: usize = 16;
const MAX_METADATA_KEY: usize = 64;
const MAX_METADATA_VALUE: usize = 512;

/// `POST /v1/conversations`.
pub async fn create(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let made = async {
        allow(&context)?;
        let mut request = read_object(&state, &headers, body).await?;
        refuse_unknown(&request, &["items", "metadata"])?;
        let metadata = metadata(request.remove("metadata"))?;
        let items = items(request.remove("items"), false)?;
        let owner = Owner::of(&context, &Map::new());
        let object = state
            .conversations()
            .create_object(&owner, metadata, items)
            .await
            .map_err(internal)?;
        Ok(conversation(&object))
    };
    answer(made.await)
}

/// `GET /v1/conversations/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    answer(
        object(&state, &context, &id)
            .await
            .map(|o| conversation(&o)),
    )
}

/// `POST /v1/conversations/{id}`: replaces its metadata.
pub async fn update(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let updated = async {
        let object = object(&state, &context, &id).await?;
        let mut request = read_object(&state, &headers, body).await?;
        refuse_unknown(&request, &["metadata"])?;
        if !request.contains_key("metadata") {
            return Err(ApiError::BadRequest {
                message: "Missing required parameter: 'metadata'.".into(),
                param: Some("metadata".into()),
            });
        }
        let metadata = metadata(request.remove("metadata"))?;
        state
            .conversations()
            .set_metadata(&object, metadata)
            .await
            .map_err(internal)?;
        Ok(conversation(&object))
    };
    answer(updated.await)
}

/// `DELETE /v1/conversations/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    let deleted = async {
        allow(&context)?;
        let owner = Owner::of(&context, &Map::new());
        state
            .conversations()
            .delete_object(&id, &owner)
            .await
            .map_err(|error| not_found_or_internal(error, &id))?;
        Ok(json!({"id": id, "object": "conversation.deleted", "deleted": true}))
    };
    answer(deleted.await)
}

/// `GET /v1/conversations/{id}/items`.
pub async fn items_list(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let listing = object(&state, &context, &id)
        .await
        .and_then(|object| page(object.items().iter().map(listed_item).collect(), &query));
    answer(listing)
}

/// `POST /v1/conversations/{id}/items`: adds up to 20 items, as one turn.
pub async fn items_create(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let added = async {
        let object = object(&state, &context, &id).await?;
        let mut request = read_object(&state, &headers, body).await?;
        refuse_unknown(&request, &["items"])?;
        let items = items(request.remove("items"), true)?;
        let added = state
            .conversations()
            .add_items(&object, items)
            .await
            .map_err(internal)?;
        Ok(list(added.iter().map(listed_item).collect(), false))
    };
    answer(added.await)
}

/// `GET /v1/conversations/{id}/items/{item_id}`.
pub async fn item_retrieve(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path((id, item_id)): Path<(String, String)>,
) -> Response {
    let item = object(&state, &context, &id).await.and_then(|object| {
        object
            .item(&item_id)
            .map(|item| listed_item(&item))
            .ok_or(ApiError::ItemNotFound { id: item_id })
    });
    answer(item)
}

/// `DELETE /v1/conversations/{id}/items/{item_id}`: answers the
/// conversation.
pub async fn item_delete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path((id, item_id)): Path<(String, String)>,
) -> Response {
    let deleted = async {
        let object = object(&state, &context, &id).await?;
        let was_there = state
            .conversations()
            .delete_item(&object, &item_id)
            .await
            .map_err(internal)?;
        if !was_there {
            return Err(ApiError::ItemNotFound { id: item_id });
        }
        Ok(conversation(&object))
    };
    answer(deleted.await)
}

fn answer(result: Result<Value, ApiError>) -> Response {
    crate::error::json_or_error(result, Surface::OpenAi)
}

/// Conversations are part of the Responses API: a key needs its
/// `responses` scope.
fn allow(context: &RequestContext) -> Result<(), ApiError> {
    allow_operation(&context.principal, Operation::Responses.name())
}

async fn object(
    state: &AppState,
    context: &RequestContext,
    id: &str,
) -> Result<Arc<ConversationObject>, ApiError> {
    allow(context)?;
    let owner = Owner::of(context, &Map::new());
    state
        .conversations()
        .object(id, &owner)
        .await
        .map_err(|error| not_found_or_internal(error, id))
}

async fn read_object(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, ApiError> {
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    parse_json_object(&bytes)
}

/// The conversation object as OpenAI answers it.
fn conversation(object: &ConversationObject) -> Value {
    let record = object.record();
    json!({
        "id": record.id,
        "object": "conversation",
        "created_at": record.created_at_ms / 1000,
        "metadata": record.metadata,
    })
}

fn listed_item(item: &ConversationItem) -> Value {
    listed(&item.item, &item.id)
}

/// Metadata: at most 16 string pairs, keys to 64 characters, values to 512.
fn metadata(value: Option<Value>) -> Result<Value, ApiError> {
    let invalid = |message: String| ApiError::BadRequest {
        message,
        param: Some("metadata".into()),
    };
    let pairs = match value {
        None | Some(Value::Null) => return Ok(Value::Object(Map::new())),
        Some(Value::Object(pairs)) => pairs,
        Some(_) => {
            return Err(invalid(
                "Invalid type for 'metadata': expected an object.".into(),
            ));
        }
    };
    if pairs.len() > MAX_METADATA_PAIRS {
        return Err(invalid(format!(
            "Invalid 'metadata': too many properties. Expected an object with at most {MAX_METADATA_PAIRS} properties, but got an object with {} properties instead.",
            pairs.len()
        )));
    }
    for (key, value) in &pairs {
        if key.chars().count() > MAX_METADATA_KEY {
            return Err(invalid(format!(
                "Invalid 'metadata': a key is longer than {MAX_METADATA_KEY} characters."
            )));
        }
        match value {
            Value::String(text) if text.chars().count() <= MAX_METADATA_VALUE => {}
            Value::String(_) => {
                return Err(invalid(format!(
                    "Invalid 'metadata.{key}': string too long. Expected a string with maximum length {MAX_METADATA_VALUE}."
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "Invalid type for 'metadata.{key}': expected a string."
                )));
            }
        }
    }
    Ok(Value::Object(pairs))
}

/// Items to add: an array of at most 20 input items (`required` when the
/// request must carry some).
fn items(value: Option<Value>, required: bool) -> Result<Vec<Value>, ApiError> {
    let invalid = |message: String, param: String| ApiError::BadRequest {
        message,
        param: Some(param),
    };
    let items = match value {
        None | Some(Value::Null) if !required => return Ok(Vec::new()),
        None | Some(Value::Null) => {
            return Err(invalid(
                "Missing required parameter: 'items'.".into(),
                "items".into(),
            ));
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(invalid(
                "Invalid type for 'items': expected an array of input items.".into(),
                "items".into(),
            ));
        }
    };
    if items.len() > MAX_ITEMS_PER_ADD {
        return Err(invalid(
            format!(
                "Invalid 'items': array too long. Expected an array with maximum length {MAX_ITEMS_PER_ADD}, but got an array with length {} instead.",
                items.len()
            ),
            "items".into(),
        ));
    }
    for (index, item) in items.iter().enumerate() {
        if let Err(message) = check_item(item) {
            return Err(invalid(message, format!("items[{index}]")));
        }
    }
    Ok(items)
}

/// What an input item must be: an object; a message has a known role and
/// text or content parts; other items name their type.
fn check_item(item: &Value) -> Result<(), String> {
    let Some(object) = item.as_object() else {
        return Err("Invalid type for an item: expected an object.".into());
    };
    match object.get("type").map(|kind| kind.as_str()) {
        None | Some(Some("message")) => {
            let role = object.get("role").and_then(Value::as_str);
            if !matches!(role, Some("user" | "assistant" | "system" | "developer")) {
                return Err(
                    "Invalid value for a message's 'role': expected one of 'user', 'assistant', 'system' or 'developer'."
                        .into(),
                );
            }
            match object.get("content") {
                Some(Value::String(_) | Value::Array(_)) => Ok(()),
                _ => Err("A message needs 'content': a string or an array of parts.".into()),
            }
        }
        Some(Some(_)) => Ok(()),
        Some(None) => Err("Invalid type for an item's 'type': expected a string.".into()),
    }
}

fn not_found_or_internal(error: LookupError, id: &str) -> ApiError {
    match error {
        LookupError::NotFound => ApiError::ConversationNotFound { id: id.to_string() },
        LookupError::Store(error) => internal(error),
    }
}

fn internal(error: StoreError) -> ApiError {
    tracing::warn!(%error, "conversation state failed");
    ApiError::Internal
}
