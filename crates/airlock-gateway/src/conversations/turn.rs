//! One turn of a conversation, whatever API asked for it: the history the
//! turn continues is put before its new input, the provider is called
//! statelessly (`store: false`) through the dispatch seam with a Responses
//! API request, and the answered turn is kept (unless the client said
//! `store: false`) under an id of Airlock's, in memory at once and in the
//! database. OpenAI's Responses API is this engine's own wire format; other
//! surfaces (Gemini's Interactions API) translate onto it.

use std::sync::Arc;

use airlock_providers::sse::SseParser;
use airlock_providers::usage::Usage;
use airlock_store::{HistoryPolicy, StoredResponse};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::object::ConversationObject;
use super::{Answering, Conversations, History, LookupError, Owner, Turn};
use crate::admission::RequestCost;
use crate::constitution::refusal::StreamForm;
use crate::dispatch::{ClientRequest, Operation, dispatch};
use crate::error::ApiError;
use crate::exchange::Exchange;
use crate::framing::Generated;
use crate::relay::{Framer, Reply};
use crate::state::AppState;

/// A turn's answer, and how many of the oldest turns the history policy
/// left out of what the provider was sent.
pub struct Answered {
    pub reply: Reply,
    pub dropped_turns: usize,
}

/// Runs one turn of a Responses API request (`request`, parsed) for
/// `owner`, within `policy`.
pub async fn run(
    state: &AppState,
    mut request: Map<String, Value>,
    owner: Owner,
    policy: &HistoryPolicy,
    exchange: &mut Exchange,
) -> Result<Answered, ApiError> {
    let model = crate::surface::openai::required_model(request.get("model").cloned())?;
    let stream = flag(&request, "stream")?.unwrap_or(false);
    let store = flag(&request, "store")?.unwrap_or(true);
    refuse_unserved(&request)?;
    let previous = match request.remove("previous_response_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(state.conversations().turn(&id, &owner).await.map_err(
            |error| match error {
                LookupError::NotFound if state.conversations().is_answering(&id, &owner) => {
                    ApiError::BadRequest {
                        message: format!("Previous response with id '{id}' is still in progress."),
                        param: Some("previous_response_id".into()),
                    }
                }
                LookupError::NotFound => ApiError::PreviousResponseNotFound { id },
                LookupError::Store(error) => internal(error),
            },
        )?),
        Some(_) => return Err(wrong_type("previous_response_id", "a string")),
    };
    if let Some(turn) = &previous
        && turn.expired(policy, crate::clock::now_ms())
    {
        return Err(ApiError::PreviousResponseNotFound {
            id: turn.id.clone(),
        });
    }
    let object = match conversation_named(&mut request)? {
        None => None,
        Some(_) if previous.is_some() => {
            return Err(ApiError::BadRequest {
                message: "Mutually exclusive parameters: Ensure you are only providing one of: \
                          'previous_response_id' or 'conversation'."
                    .into(),
                param: Some("conversation".into()),
            });
        }
        Some(id) => {
            let object = state
                .conversations()
                .object(&id, &owner)
                .await
                .map_err(|error| match error {
                    LookupError::NotFound => ApiError::ConversationNotFound { id: id.clone() },
                    LookupError::Store(error) => internal(error),
                })?;
            if object.expired(policy, crate::clock::now_ms()) {
                return Err(ApiError::ConversationNotFound { id });
            }
            Some(object)
        }
    };
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
    let history = match &object {
        Some(object) => object.history(&new_items, policy),
        None => match &previous {
            Some(last) => {
                let chain =
                    state
                        .conversations()
                        .chain(last)
                        .await
                        .map_err(|error| match error {
                            LookupError::NotFound => ApiError::PreviousResponseNotFound {
                                id: last.id.clone(),
                            },
                            LookupError::Store(error) => internal(error),
                        })?;
                let units: Vec<_> = chain.iter().map(|turn| turn.unit()).collect();
                History::within(&units, &new_items, policy)
            }
            None => History::default(),
        },
    };
    let conversation_id = match (&object, &previous) {
        (Some(object), _) => object.record().id,
        (None, Some(turn)) => turn.conversation_id.clone(),
        (None, None) => Conversations::new_conversation_id(),
    };
    exchange.set_conversation(&conversation_id, history.dropped_turns);
    request.remove("input");
    request.insert("store".into(), Value::Bool(false));
    let max_output = request.get("max_output_tokens").and_then(Value::as_u64);
    let body = Bytes::from(history.body(&request, &new_items));
    let id = Conversations::new_id();
    let turn = NewTurn {
        _answering: state.conversations().answering(&id, &owner),
        id,
        owner,
        previous,
        object,
        conversation_id,
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
            upload: None,
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
    reply.map(|reply| Answered {
        reply,
        dropped_turns: history.dropped_turns,
    })
}

/// The conversation object a request names (`conversation`: its id, or
/// an object with its id), taken out of the request.
fn conversation_named(request: &mut Map<String, Value>) -> Result<Option<String>, ApiError> {
    match request.remove("conversation") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) => Ok(Some(id)),
        Some(Value::Object(mut named)) => match named.remove("id") {
            Some(Value::String(id)) => Ok(Some(id)),
            _ => Err(wrong_type("conversation.id", "a string")),
        },
        Some(_) => Err(wrong_type(
            "conversation",
            "a string or an object with an id",
        )),
    }
}

fn internal(error: airlock_store::StoreError) -> ApiError {
    tracing::warn!(%error, "reading stored conversation state failed");
    ApiError::Internal
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
    if request.get("background") == Some(&Value::Bool(true)) {
        return refuse(
            "background",
            "responses are answered while the request waits.",
        );
    }
    Ok(())
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
    /// The conversation object the turn named, which it adds its items to.
    object: Option<Arc<ConversationObject>>,
    conversation_id: String,
    model: String,
    input_items: Vec<Value>,
    store: bool,
    conversations: Conversations,
    /// Marks the turn as being answered until it is dropped (after the
    /// turn is kept).
    _answering: Answering,
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
                    .map_or(Value::Null, |turn| Value::String(turn.id.clone())),
            );
            object.insert("store".into(), Value::Bool(self.store));
            if let Some(conversation) = &self.object {
                object.insert(
                    "conversation".into(),
                    json!({"id": conversation.record().id}),
                );
            }
        }
    }

    /// Stamps the final response and, when it finished (completed, or
    /// cut at its output limit), keeps the turn: adds its input and output
    /// to the conversation object it named, and stores it when the client
    /// asked to; in memory at once, and in the database by the returned
    /// future.
    fn finish(
        self,
        response: &mut Value,
    ) -> Option<impl Future<Output = Result<(), airlock_store::StoreError>> + Send + 'static> {
        self.stamp(response);
        let finished = matches!(
            response["status"].as_str(),
            Some("completed" | "incomplete")
        );
        if !finished {
            return None;
        }
        let into_object = self.object.as_ref().map(|object| {
            let mut items = self.input_items.clone();
            items.extend(response["output"].as_array().into_iter().flatten().cloned());
            self.conversations.record_turn(object, items)
        });
        let starts_chain = self.previous.is_none() && self.object.is_none();
        let stored = self.store.then(|| {
            let record = StoredResponse {
                id: self.id,
                project_id: self.owner.project_id,
                end_user: self.owner.end_user,
                previous_id: self.previous.as_ref().map(|turn| turn.id.clone()),
                conversation_id: self.conversation_id,
                model: self.model,
                created_at_ms: crate::clock::now_ms(),
                input_items: self.input_items,
                response: response.clone(),
            };
            self.conversations
                .remember(record, self.previous.as_deref(), starts_chain)
        });
        if into_object.is_none() && stored.is_none() {
            return None;
        }
        Some(async move {
            if let Some(adding) = into_object {
                adding.await?;
            }
            if let Some(storing) = stored {
                storing.await?;
            }
            Ok(())
        })
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
    /// The error event ends the stream; the turn is kept as interrupted
    /// when the stream is dropped.
    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        self.inner.fail(message)
    }

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

    fn output_chars(&self) -> u64 {
        self.inner.output_chars()
    }

    fn generated(&mut self) -> Option<&mut Generated> {
        self.inner.generated()
    }

    fn stream_form(&self) -> Option<StreamForm> {
        self.inner.stream_form()
    }
}
