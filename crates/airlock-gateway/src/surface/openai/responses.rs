//! OpenAI's Responses API (`/v1/responses`) with Airlock's own state: a turn
//! names the turn it continues (`previous_response_id`), Airlock puts that
//! conversation's history before the new input and calls the provider
//! statelessly (`store: false`) through the dispatch seam, then keeps the
//! turn (unless the client said `store: false`) under an id of its own, so
//! the conversation is Airlock's whichever provider answers.
//! `GET`/`DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`
//! read and delete stored turns; only their project (and end user, when a
//! token names one) sees them.

use std::sync::Arc;

use airlock_providers::sse::SseParser;
use airlock_providers::usage::Usage;
use airlock_store::{HistoryPolicy, StoredResponse};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::required_model;
use crate::admission::{RequestCost, allow_operation};
use crate::body::{parse_json_object, read_json_bytes};
use crate::context::RequestContext;
use crate::conversations::{Conversations, History, LookupError, Owner, Turn};
use crate::dispatch::{ClientRequest, Operation, dispatch};
use crate::error::{ApiError, Surface};
use crate::exchange::Exchange;
use crate::relay::{Framer, Reply, respond};
use crate::state::AppState;

/// `POST /v1/responses`.
pub async fn create(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut exchange = Exchange::begin(
        &state,
        &context,
        Surface::OpenAi,
        Operation::Responses.name(),
    );
    let (result, dropped_turns) =
        match create_turn(&state, &context, &headers, body, &mut exchange).await {
            Ok((reply, dropped_turns)) => (Ok(reply), dropped_turns),
            Err(error) => (Err(error), 0),
        };
    let mut response = respond(Surface::OpenAi, exchange, result);
    if dropped_turns > 0 {
        response
            .headers_mut()
            .insert(TRUNCATED_HEADER, HeaderValue::from(dropped_turns));
    }
    response
}

/// Says how many of the oldest turns the project's history policy left out
/// of what the provider was sent.
const TRUNCATED_HEADER: &str = "x-airlock-history-truncated";

/// The project's bounds on its conversations (none for the master key).
fn history_policy(context: &RequestContext) -> HistoryPolicy {
    context
        .principal
        .grant()
        .and_then(|grant| grant.project.settings.conversations)
        .unwrap_or_default()
}

async fn create_turn(
    state: &AppState,
    context: &RequestContext,
    headers: &HeaderMap,
    body: Body,
    exchange: &mut Exchange,
) -> Result<(Reply, usize), ApiError> {
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    let mut request = parse_json_object(&bytes)?;
    let model = required_model(request.get("model").cloned())?;
    let stream = flag(&request, "stream")?.unwrap_or(false);
    let store = flag(&request, "store")?.unwrap_or(true);
    refuse_unserved(&request)?;
    let owner = owner(context, &request);
    let policy = history_policy(context);
    let previous = match request.remove("previous_response_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(state.conversations().turn(&id, &owner).await.map_err(
            |error| match error {
                LookupError::NotFound => ApiError::PreviousResponseNotFound { id },
                LookupError::Store(error) => {
                    tracing::warn!(%error, "reading a stored response failed");
                    ApiError::Internal
                }
            },
        )?),
        Some(_) => return Err(wrong_type("previous_response_id", "a string")),
    };
    if let Some(turn) = &previous
        && turn.expired(&policy, crate::clock::now_ms())
    {
        return Err(ApiError::PreviousResponseNotFound {
            id: turn.record.id.clone(),
        });
    }
    let new_items = input_items(request.get("input"))?;
    if let Some(max) = policy.max_items
        && new_items.len() > max as usize
    {
        return Err(ApiError::BadRequest {
            message: format!(
                "The input has {} items, more than this project's conversations allow ({max}).",
                new_items.len()
            ),
            param: Some("input".into()),
        });
    }
    let history = History::within(previous.as_deref(), &new_items, &policy);
    let mut input = history.items;
    input.extend(new_items.iter().cloned());
    request.insert("input".into(), Value::Array(input));
    request.insert("store".into(), Value::Bool(false));
    let max_output = request.get("max_output_tokens").and_then(Value::as_u64);
    let body = Bytes::from(Value::Object(request).to_string());
    let turn = NewTurn {
        id: Conversations::new_id(),
        owner,
        previous,
        model: model.clone(),
        input_items: new_items,
        store,
        conversations: state.conversations().clone(),
    };
    let reply = dispatch(
        ClientRequest {
            operation: Operation::Responses,
            model,
            cost: RequestCost {
                body_len: body.len(),
                max_output,
            },
            body,
            stream,
            gemini_version: airlock_providers::gemini::API_VERSION,
            gemini_sse: false,
        },
        exchange,
    )
    .await?;
    let reply = match reply {
        Reply::Json {
            status,
            body,
            usage,
        } if status.is_success() => {
            let mut response: Value =
                serde_json::from_slice(&body).map_err(|_| ApiError::BadUpstreamAnswer)?;
            if let Some(saving) = turn.finish(&mut response)
                && let Err(error) = saving.await
            {
                tracing::warn!(%error, "storing a response failed");
            }
            Ok(Reply::Json {
                status,
                body: Bytes::from(response.to_string()),
                usage,
            })
        }
        Reply::Stream {
            upstream,
            framer,
            content_type,
        } => Ok(Reply::Stream {
            upstream,
            framer: Box::new(TurnStream::new(framer, turn)),
            content_type,
        }),
        error => Ok(error),
    };
    reply.map(|reply| (reply, history.dropped_turns))
}

/// A boolean field, if present.
fn flag(request: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match request.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(_) => Err(wrong_type(name, "a boolean")),
    }
}

fn wrong_type(name: &str, expected: &str) -> ApiError {
    ApiError::BadRequest {
        message: format!("Invalid type for '{name}': expected {expected}."),
        param: Some(name.to_string()),
    }
}

/// Parameters whose state would be the provider's, which Airlock does not
/// serve (yet): refused by name rather than passed to a provider that keeps
/// nothing.
fn refuse_unserved(request: &Map<String, Value>) -> Result<(), ApiError> {
    let refuse = |name: &str, why: &str| {
        Err(ApiError::BadRequest {
            message: format!("'{name}' is not supported by this gateway: {why}"),
            param: Some(name.to_string()),
        })
    };
    if request.get("conversation").is_some_and(|c| !c.is_null()) {
        return refuse(
            "conversation",
            "continue a conversation with 'previous_response_id'.",
        );
    }
    if request.get("background") == Some(&Value::Bool(true)) {
        return refuse(
            "background",
            "responses are answered while the request waits.",
        );
    }
    Ok(())
}

/// Who owns the turn: the caller's project, and the end user a verified
/// token named, or else the request's `safety_identifier` or `user`.
fn owner(context: &RequestContext, request: &Map<String, Value>) -> Owner {
    let named = ["safety_identifier", "user"]
        .iter()
        .find_map(|field| request.get(*field).and_then(Value::as_str))
        .map(String::from);
    Owner {
        project_id: context.principal.grant().map(|g| g.project.id.clone()),
        end_user: context.end_user.clone().or(named),
    }
}

/// A turn's input as items: text is one user message.
fn input_items(input: Option<&Value>) -> Result<Vec<Value>, ApiError> {
    match input {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![
            json!({"type": "message", "role": "user", "content": text}),
        ]),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(_) => Err(wrong_type("input", "a string or an array of input items")),
    }
}

/// What is known of a turn while its answer is on its way.
struct NewTurn {
    id: String,
    owner: Owner,
    previous: Option<Arc<Turn>>,
    model: String,
    input_items: Vec<Value>,
    store: bool,
    conversations: Conversations,
}

impl NewTurn {
    /// Gives the answered response this turn's id and the client's
    /// settings.
    fn stamp(&self, response: &mut Value) {
        if let Some(object) = response.as_object_mut() {
            object.insert("id".into(), Value::String(self.id.clone()));
            object.insert(
                "previous_response_id".into(),
                self.previous
                    .as_ref()
                    .map_or(Value::Null, |turn| Value::String(turn.record.id.clone())),
            );
            object.insert("store".into(), Value::Bool(self.store));
        }
    }

    /// Stamps the final response and, when the client stores it and it
    /// finished (completed, or cut at its output limit), keeps the turn:
    /// in memory at once, and in the database by the returned future.
    fn finish(
        self,
        response: &mut Value,
    ) -> Option<impl Future<Output = Result<(), airlock_store::StoreError>> + Send + 'static> {
        self.stamp(response);
        let finished = matches!(
            response["status"].as_str(),
            Some("completed" | "incomplete")
        );
        if !self.store || !finished {
            return None;
        }
        let record = StoredResponse {
            id: self.id,
            project_id: self.owner.project_id,
            end_user: self.owner.end_user,
            previous_id: self.previous.as_ref().map(|turn| turn.record.id.clone()),
            model: self.model,
            created_at_ms: crate::clock::now_ms(),
            input_items: self.input_items,
            response: response.clone(),
        };
        Some(self.conversations.remember(record, self.previous))
    }
}

/// A turn's stream: the seam's framer's events, with each response object
/// given the turn's id, and the turn kept when the response ends, or, when
/// the stream stops before its last event (the client went away, or the
/// provider's stream broke), kept as `incomplete` with the output items
/// finished by then.
struct TurnStream {
    inner: Box<dyn Framer>,
    parser: SseParser,
    /// Until the event that ends the response.
    turn: Option<NewTurn>,
    /// The latest response object the stream carried, stamped.
    latest: Option<Value>,
    /// Output items finished so far (`response.output_item.done`).
    finished_items: Vec<Value>,
}

impl TurnStream {
    fn new(inner: Box<dyn Framer>, turn: NewTurn) -> Self {
        TurnStream {
            inner,
            parser: SseParser::new(),
            turn: Some(turn),
            latest: None,
            finished_items: Vec::new(),
        }
    }

    fn rewrite(&mut self, chunks: Vec<Bytes>) -> Vec<Bytes> {
        let mut out = Vec::new();
        for chunk in chunks {
            for event in self.parser.push(&chunk) {
                let parsed = serde_json::from_str::<Value>(&event.data).ok();
                if let Some(item) = parsed
                    .as_ref()
                    .filter(|value| value["type"] == "response.output_item.done")
                    .map(|value| value["item"].clone())
                {
                    self.finished_items.push(item);
                }
                let Some(mut value) = parsed.filter(|value| value["response"].is_object()) else {
                    out.push(event.raw);
                    continue;
                };
                let kind = value["type"].as_str().unwrap_or_default().to_string();
                let ends = matches!(
                    kind.as_str(),
                    "response.completed" | "response.incomplete" | "response.failed"
                );
                match (ends, self.turn.take()) {
                    (true, Some(turn)) => {
                        if let Some(saving) = turn.finish(&mut value["response"]) {
                            tokio::spawn(async move {
                                if let Err(error) = saving.await {
                                    tracing::warn!(%error, "storing a response failed");
                                }
                            });
                        }
                    }
                    (_, Some(turn)) => {
                        turn.stamp(&mut value["response"]);
                        self.latest = Some(value["response"].clone());
                        self.turn = Some(turn);
                    }
                    (_, None) => {}
                }
                out.push(Bytes::from(format!("event: {kind}\ndata: {value}\n\n")));
            }
        }
        out
    }
}

impl Drop for TurnStream {
    fn drop(&mut self) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        let mut response = self.latest.take().unwrap_or_else(|| json!({}));
        response["status"] = json!("incomplete");
        response["incomplete_details"] = json!({"reason": "interrupted"});
        response["output"] = Value::Array(std::mem::take(&mut self.finished_items));
        let Some(saving) = turn.finish(&mut response) else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = saving.await {
                        tracing::warn!(%error, "storing an interrupted response failed");
                    }
                });
            }
            Err(_) => tracing::warn!("an interrupted response was not stored: no runtime"),
        }
    }
}

impl Framer for TurnStream {
    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let out = self.inner.push(chunk);
        self.rewrite(out)
    }

    fn finish(&mut self) -> Vec<Bytes> {
        let rest = self.inner.finish();
        let mut out = self.rewrite(rest);
        let remainder = self.parser.remainder();
        if !remainder.is_empty() {
            out.push(Bytes::copy_from_slice(remainder));
        }
        out
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.inner.take_usage()
    }
}

/// `GET /v1/responses/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    match stored(&state, &context, &id).await {
        Ok(turn) => (StatusCode::OK, axum::Json(&turn.record.response)).into_response(),
        Err(error) => error.into_response_for(Surface::OpenAi),
    }
}

/// `DELETE /v1/responses/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    if let Err(error) = allow_operation(&context.principal, Operation::Responses.name()) {
        return error.into_response_for(Surface::OpenAi);
    }
    let owner = owner(&context, &Map::new());
    match state.conversations().delete(&id, &owner).await {
        Ok(()) => axum::Json(json!({"id": id, "object": "response.deleted", "deleted": true}))
            .into_response(),
        Err(error) => not_found_or_internal(error, id).into_response_for(Surface::OpenAi),
    }
}

/// The query of `GET /v1/responses/{id}/input_items`.
#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    order: Option<String>,
    after: Option<String>,
}

/// `GET /v1/responses/{id}/input_items`: the items the turn's request sent
/// (each given a stable id when it had none), newest first unless
/// `order=asc`, `limit` (1 to 100, 20 by default) at a time after `after`.
pub async fn input_items_list(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let turn = match stored(&state, &context, &id).await {
        Ok(turn) => turn,
        Err(error) => return error.into_response_for(Surface::OpenAi),
    };
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return ApiError::BadRequest {
            message: format!(
                "Invalid 'limit': integer out of range. Expected a value between 1 and 100, but got {limit} instead."
            ),
            param: Some("limit".into()),
        }
        .into_response_for(Surface::OpenAi);
    }
    let mut items: Vec<Value> = turn
        .record
        .input_items
        .iter()
        .enumerate()
        .map(|(index, item)| listed_item(&turn.record.id, index, item))
        .collect();
    match query.order.as_deref() {
        None | Some("desc") => items.reverse(),
        Some("asc") => {}
        Some(other) => {
            return ApiError::BadRequest {
                message: format!(
                    "Invalid value: '{other}'. Supported values are: 'asc' and 'desc'."
                ),
                param: Some("order".into()),
            }
            .into_response_for(Surface::OpenAi);
        }
    }
    let start = match &query.after {
        Some(after) => items
            .iter()
            .position(|item| item["id"].as_str() == Some(after))
            .map_or(items.len(), |at| at + 1),
        None => 0,
    };
    let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let has_more = start + page.len() < items.len();
    axum::Json(json!({
        "object": "list",
        "data": page,
        "first_id": page.first().map(|item| item["id"].clone()),
        "last_id": page.last().map(|item| item["id"].clone()),
        "has_more": has_more,
    }))
    .into_response()
}

/// An input item as OpenAI lists one: typed, a message's text content as
/// a list of parts, with an id derived from its turn's when the client gave
/// none.
fn listed_item(turn_id: &str, index: usize, item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(object) = item.as_object_mut() {
        let kind = object
            .entry("type")
            .or_insert_with(|| Value::String("message".into()));
        if kind == "message" {
            let part = match object.get("role").and_then(Value::as_str) {
                Some("assistant") => "output_text",
                _ => "input_text",
            };
            if let Some(Value::String(text)) = object.get("content") {
                let parts = json!([{"type": part, "text": text}]);
                object.insert("content".into(), parts);
            }
            object
                .entry("status")
                .or_insert_with(|| Value::String("completed".into()));
        }
        if !object.contains_key("id") {
            let suffix = turn_id.trim_start_matches("resp_");
            object.insert("id".into(), Value::String(format!("msg_{suffix}_{index}")));
        }
    }
    item
}

async fn stored(
    state: &AppState,
    context: &RequestContext,
    id: &str,
) -> Result<Arc<Turn>, ApiError> {
    allow_operation(&context.principal, Operation::Responses.name())?;
    let owner = owner(context, &Map::new());
    state
        .conversations()
        .stored(id, &owner)
        .await
        .map_err(|error| not_found_or_internal(error, id.to_string()))
}

fn not_found_or_internal(error: LookupError, id: String) -> ApiError {
    match error {
        LookupError::NotFound => ApiError::ResponseNotFound { id },
        LookupError::Store(error) => {
            tracing::warn!(%error, "reading a stored response failed");
            ApiError::Internal
        }
    }
}
