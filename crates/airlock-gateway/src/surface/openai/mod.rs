//! OpenAI's protocol: `/v1/chat/completions` and `/v1/embeddings` (served
//! through the dispatch seam), the image and audio routes (`media`) and
//! the model listing.

pub mod batches;
pub mod conversations;
pub mod files;
pub mod items;
pub mod media;
pub mod models;
pub mod responses;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::admission::RequestCost;
use crate::body::read_json_bytes;
use crate::context::RequestContext;
use crate::dispatch::{ClientRequest, Operation, dispatch};
use crate::error::{ApiError, Surface};
use crate::exchange::Exchange;
use crate::relay::respond;
use crate::state::AppState;

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(request): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(&state, &request, &headers, body, Operation::ChatCompletions).await
}

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<AppState>,
    Extension(request): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(&state, &request, &headers, body, Operation::Embeddings).await
}

async fn serve(
    state: &AppState,
    context: &RequestContext,
    headers: &HeaderMap,
    body: Body,
    operation: Operation,
) -> Response {
    let request = read_request(state, headers, body, operation).await;
    serve_read(state, context, operation, request).await
}

/// Serves a request already read (or the error reading it gave).
pub(crate) async fn serve_read(
    state: &AppState,
    context: &RequestContext,
    operation: Operation,
    request: Result<ClientRequest, ApiError>,
) -> Response {
    let mut exchange = Exchange::begin(state, context, Surface::OpenAi, operation.name());
    let result = match request {
        Ok(request) => dispatch(request, &mut exchange).await,
        Err(error) => Err(error),
    };
    respond(Surface::OpenAi, exchange, result).await
}

/// A JSON request body with its model, stream flag and output bound, read
/// without building the body's JSON tree: the planners that change or
/// translate the body parse it themselves.
async fn read_request(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    operation: Operation,
) -> Result<ClientRequest, ApiError> {
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    client_request(bytes, operation)
}

/// A body already read (JSON, UTF-8, within the limit) as the request
/// dispatch serves: its model, stream flag and output bound.
pub fn client_request(bytes: Bytes, operation: Operation) -> Result<ClientRequest, ApiError> {
    let peek = Peek::read(&bytes)?;
    let model = required_model(peek.model)?;
    let max_output = match operation {
        Operation::Embeddings => Some(0),
        _ => [peek.max_completion_tokens, peek.max_tokens]
            .into_iter()
            .find_map(|field| field.as_ref().and_then(Value::as_u64)),
    };
    let stream = peek
        .stream
        .as_ref()
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(ClientRequest {
        operation,
        model,
        cost: RequestCost {
            body_len: bytes.len(),
            max_output,
        },
        body: bytes,
        stream,
        gemini_version: airlock_providers::gemini::API_VERSION,
        gemini_sse: false,
        upload: None,
    })
}

/// The fields of an OpenAI request that dispatch reads; the rest of the
/// body is checked for syntax and skipped.
#[derive(Deserialize)]
struct Peek {
    model: Option<Value>,
    stream: Option<Value>,
    max_completion_tokens: Option<Value>,
    max_tokens: Option<Value>,
}

impl Peek {
    fn read(bytes: &[u8]) -> Result<Peek, ApiError> {
        // serde would read a struct from an array too: only objects are requests.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return match serde_json::from_slice::<IgnoredAny>(bytes) {
                Err(error) => Err(ApiError::InvalidJson(error.to_string())),
                Ok(_) => Err(ApiError::InvalidJson(
                    "the body must be a JSON object".into(),
                )),
            };
        }
        serde_json::from_slice(bytes).map_err(|error| ApiError::InvalidJson(error.to_string()))
    }
}

/// Refuses a field OpenAI does not know here, by name.
pub(crate) fn refuse_unknown(
    request: &serde_json::Map<String, Value>,
    known: &[&str],
) -> Result<(), ApiError> {
    match request.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => Err(ApiError::BadRequest {
            message: format!("Unknown parameter: '{unknown}'."),
            param: Some(unknown.clone()),
        }),
        None => Ok(()),
    }
}

/// The `model` field of a request, required as OpenAI requires it.
pub(crate) fn required_model(model: Option<Value>) -> Result<String, ApiError> {
    match model {
        Some(Value::String(model)) if !model.is_empty() => Ok(model),
        Some(Value::String(_)) | Some(Value::Null) | None => Err(ApiError::BadRequest {
            message: "Missing required parameter: 'model'.".into(),
            param: Some("model".into()),
        }),
        Some(_) => Err(ApiError::BadRequest {
            message: "Invalid type for 'model': expected a string.".into(),
            param: Some("model".into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(error: ApiError) -> String {
        error.to_string()
    }

    #[test]
    fn peeks_at_the_fields_dispatch_needs_and_refuses_what_is_not_a_request() {
        let peek = Peek::read(br#" {"model": "gpt-4o", "stream": true, "max_tokens": 9, "messages": [{"role": "user", "content": "x"}]}"#).unwrap();
        assert_eq!(required_model(peek.model).unwrap(), "gpt-4o");
        assert_eq!(peek.stream, Some(Value::Bool(true)));
        assert_eq!(peek.max_tokens.and_then(|v| v.as_u64()), Some(9));
        assert!(peek.max_completion_tokens.is_none());
        for (body, expected) in [
            (&b"[1, 2]"[..], "the body must be a JSON object"),
            (b"null", "the body must be a JSON object"),
            (b"{\"model\": ", "EOF while parsing a value"),
            (b"[1, ", "EOF while parsing a value"),
        ] {
            let error = message(Peek::read(body).err().unwrap());
            assert!(error.contains(expected), "{error}");
        }
        let missing = required_model(Peek::read(b"{}").unwrap().model).unwrap_err();
        assert!(message(missing).contains("Missing required parameter: 'model'."));
        let wrong = required_model(Peek::read(br#"{"model": 4}"#).unwrap().model).unwrap_err();
        assert!(message(wrong).contains("Invalid type for 'model'"));
    }
}
