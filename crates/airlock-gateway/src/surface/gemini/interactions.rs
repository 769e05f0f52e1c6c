//! Google's Interactions API (`/{version}/interactions`, google-genai's
//! `client.interactions`) served with Airlock's own state, by the same
//! conversation engine as OpenAI's Responses API: a create is translated
//! into a Responses turn (`airlock_providers::translate::interactions`),
//! run by `conversations::turn` (history before the input, the provider
//! called statelessly, the turn kept), and its answer translated back: an
//! Interaction, its SSE events, or an error in the Interactions API's
//! shape (`{"error": {"code", "message"}}`, a string code). An
//! interaction's id is its turn's, so a chain started on either API
//! continues on the other. `GET` and `DELETE /{version}/interactions/{id}`
//! read and delete stored turns, for their project (and end user) only;
//! `POST .../{id}/cancel` has nothing to cancel, since nothing runs in the
//! background. Agent interactions are refused by name.

use airlock_providers::sse::SseParser;
use airlock_providers::translate::interactions::{
    self as translate, InteractionsError, InteractionsStreamTranslator,
};
use airlock_providers::usage::Usage;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::body::{parse_json_object, read_json_bytes};
use crate::context::RequestContext;
use crate::conversations::turn::{self, Answered};
use crate::conversations::{self, Owner, history_policy};
use crate::dispatch::Operation;
use crate::error::{ApiError, Surface};
use crate::exchange::Exchange;
use crate::relay::{Framer, Reply, respond};
use crate::state::AppState;

/// Says how many of the oldest turns the project's history policy left out
/// of what the provider was sent (as on `/v1/responses`).
const TRUNCATED_HEADER: &str = "x-airlock-history-truncated";

/// `POST /{version}/interactions`.
pub async fn create(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut exchange = Exchange::begin(
        &state,
        &context,
        Surface::Gemini,
        Operation::Responses.name(),
    );
    match create_turn(&state, &context, &headers, body, &mut exchange).await {
        Ok(answered) => {
            let mut response = respond(
                Surface::Gemini,
                exchange,
                Ok(interaction_reply(answered.reply)),
            )
            .await;
            if answered.dropped_turns > 0 {
                response
                    .headers_mut()
                    .insert(TRUNCATED_HEADER, HeaderValue::from(answered.dropped_turns));
            }
            response
        }
        Err(Failed { error, body }) => {
            with_body(respond(Surface::Gemini, exchange, Err(error)).await, &body)
        }
    }
}

/// A create that failed: the error the exchange is finished with (its
/// status, headers and log), and the Interactions body the client gets.
struct Failed {
    error: ApiError,
    body: Value,
}

impl From<ApiError> for Failed {
    fn from(error: ApiError) -> Self {
        match error {
            // Google's word for an id it does not have: 404 `not_found`.
            ApiError::PreviousResponseNotFound { id } => Failed {
                body: translate::error_body(
                    "not_found",
                    &format!("Previous interaction with id '{id}' not found."),
                ),
                error: ApiError::ResponseNotFound { id },
            },
            error => Failed {
                body: error_body(&error),
                error,
            },
        }
    }
}

impl From<InteractionsError> for Failed {
    fn from(error: InteractionsError) -> Self {
        Failed {
            body: error.body(),
            error: ApiError::BadRequest {
                message: error.message,
                param: None,
            },
        }
    }
}

async fn create_turn(
    state: &AppState,
    context: &RequestContext,
    headers: &HeaderMap,
    body: Body,
    exchange: &mut Exchange,
) -> Result<Answered, Failed> {
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    let interaction = Value::Object(parse_json_object(&bytes)?);
    let request = translate::interaction_request_to_responses(&interaction)?;
    let owner = Owner::of(context, &request);
    Ok(turn::run(state, request, owner, &history_policy(context), exchange).await?)
}

/// The engine's reply in the Interactions API's terms.
fn interaction_reply(reply: Reply) -> Reply {
    match reply {
        Reply::Json {
            status,
            body,
            usage,
        } => {
            let body = if status.is_success() {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(response) => translate::responses_to_interaction(&response, rfc3339),
                    Err(_) => {
                        return Reply::json(
                            StatusCode::BAD_GATEWAY,
                            &error_body(&ApiError::BadUpstreamAnswer),
                        );
                    }
                }
            } else {
                translate::openai_error_to_interactions(status.as_u16(), &body)
            };
            Reply::Json {
                status,
                body: Bytes::from(body.to_string()),
                usage,
            }
        }
        Reply::Stream {
            upstream,
            framer,
            content_type,
        } => Reply::Stream {
            upstream,
            framer: Box::new(InteractionsSse::new(framer)),
            content_type,
        },
        // The Responses API answers JSON only, and is never cached.
        other => other,
    }
}

/// The query google-genai sends with `interactions.get`.
#[derive(Deserialize)]
pub struct GetQuery {
    stream: Option<String>,
    include_input: Option<String>,
    last_event_id: Option<String>,
}

/// `GET /{version}/interactions/{id}`: the stored interaction, its input
/// steps first.
pub async fn get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    Query(query): Query<GetQuery>,
) -> Response {
    if query.stream.as_deref() == Some("true") || query.last_event_id.is_some() {
        return refusal(
            "Replaying an interaction's stream ('stream', 'last_event_id') is not supported by \
             this gateway; get it without 'stream'.",
        );
    }
    let include_input = query.include_input.as_deref() == Some("true");
    match conversations::readable(&state, &context, &id).await {
        Ok(record) => axum::Json(translate::stored_interaction(
            &record.input_items,
            &record.response,
            include_input,
            rfc3339,
        ))
        .into_response(),
        Err(error) => error_response(error),
    }
}

/// `DELETE /{version}/interactions/{id}`: answers `{}`, as Google does.
pub async fn delete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    match conversations::delete_for(&state, &context, &id).await {
        Ok(()) => axum::Json(json!({})).into_response(),
        Err(error) => error_response(error),
    }
}

/// `POST /{version}/interactions/{id}/cancel`: only background
/// interactions can be cancelled, and this gateway runs none.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    match conversations::readable(&state, &context, &id).await {
        Ok(_) => refusal(&format!(
            "Interaction '{id}' was answered while its request waited; only background \
             interactions can be cancelled, and this gateway runs none."
        )),
        Err(error) => error_response(error),
    }
}

/// A 400 `invalid_request` with `message`.
fn refusal(message: &str) -> Response {
    let error = InteractionsError::invalid(message);
    (StatusCode::BAD_REQUEST, axum::Json(error.body())).into_response()
}

/// The Interactions body for one of Airlock's errors.
fn error_body(error: &ApiError) -> Value {
    let message = match error {
        ApiError::ResponseNotFound { id } => format!("Interaction with id '{id}' not found."),
        other => other.to_string(),
    };
    let code = match error {
        ApiError::ModelNotFound { .. } => "model_not_found",
        ApiError::BudgetExhausted { .. } => "quota_exceeded",
        other => translate::code_for_status(other.status().as_u16()),
    };
    translate::error_body(code, &message)
}

/// An error answered in the Interactions API's shape, with the status and
/// headers (`Retry-After`, ...) Airlock gives it on Google's surface.
fn error_response(error: ApiError) -> Response {
    let body = error_body(&error);
    with_body(error.into_response_for(Surface::Gemini), &body)
}

/// `response` with `body` (JSON) in place of its own.
fn with_body(response: Response, body: &Value) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// `created` and `updated` as Google writes them.
fn rfc3339(secs: u64) -> String {
    crate::clock::rfc3339(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
}

/// The engine's stream (Responses API events, the turn's id stamped and
/// the turn kept by the engine's framer) → Interactions API events.
pub(crate) struct InteractionsSse {
    inner: Box<dyn Framer>,
    parser: SseParser,
    translator: InteractionsStreamTranslator,
}

impl InteractionsSse {
    pub(crate) fn new(inner: Box<dyn Framer>) -> Self {
        InteractionsSse {
            inner,
            parser: SseParser::new(),
            translator: InteractionsStreamTranslator::new(rfc3339),
        }
    }

    fn translate(&mut self, chunks: Vec<Bytes>) -> Vec<Bytes> {
        let mut out = Vec::new();
        for chunk in chunks {
            for event in self.parser.push(&chunk) {
                let Ok(event) = serde_json::from_str::<Value>(&event.data) else {
                    continue;
                };
                for translated in self.translator.push(&event) {
                    let kind = translated["event_type"].as_str().unwrap_or_default();
                    out.push(Bytes::from(format!(
                        "event: {kind}\ndata: {translated}\n\n"
                    )));
                }
            }
        }
        out
    }
}

impl Framer for InteractionsSse {
    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        let error = self.inner.fail(message);
        self.translate(error)
    }

    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let out = self.inner.push(chunk);
        self.translate(out)
    }

    fn finish(&mut self) -> Vec<Bytes> {
        let rest = self.inner.finish();
        self.translate(rest)
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.inner.take_usage()
    }

    fn output_chars(&self) -> u64 {
        self.inner.output_chars()
    }
}
