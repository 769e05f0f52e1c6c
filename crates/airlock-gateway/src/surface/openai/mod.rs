//! OpenAI's protocol: `/v1/chat/completions` and `/v1/embeddings` (served
//! through the dispatch seam) and the model listing.

pub mod models;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::admission::RequestCost;
use crate::body::{parse_json_object, read_json_bytes};
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
    let mut exchange = Exchange::begin(state, context, Surface::OpenAi, operation.name());
    let result = match read_request(state, headers, body, operation).await {
        Ok(request) => dispatch(request, &mut exchange).await,
        Err(error) => Err(error),
    };
    respond(Surface::OpenAi, exchange, result)
}

/// A JSON request body with its model, stream flag and output bound.
async fn read_request(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    operation: Operation,
) -> Result<ClientRequest, ApiError> {
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    let json = parse_json_object(&bytes)?;
    let model = required_model(&json)?;
    let max_output = match operation {
        Operation::Embeddings => Some(0),
        _ => ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|field| json.get(*field).and_then(Value::as_u64)),
    };
    let stream = json.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(ClientRequest {
        operation,
        model,
        cost: RequestCost {
            body_len: bytes.len(),
            max_output,
        },
        body: bytes,
        json: Some(json),
        stream,
        gemini_version: airlock_providers::gemini::API_VERSION,
        gemini_sse: false,
    })
}

/// The `model` field of a request, required as OpenAI requires it.
fn required_model(request: &Map<String, Value>) -> Result<String, ApiError> {
    match request.get("model") {
        Some(Value::String(model)) if !model.is_empty() => Ok(model.clone()),
        Some(Value::String(_)) | None => Err(ApiError::BadRequest {
            message: "Missing required parameter: 'model'.".into(),
            param: Some("model".into()),
        }),
        Some(_) => Err(ApiError::BadRequest {
            message: "Invalid type for 'model': expected a string.".into(),
            param: Some("model".into()),
        }),
    }
}
