//! Gemini's Batch Mode as google-genai calls it, run by Airlock itself
//! ([`crate::batches`]):
//! - `POST /{version}/models/{model}:batchGenerateContent` with inline
//!   requests (`batch.inputConfig.requests.requests`) or a file of them
//!   (`batch.inputConfig.fileName`), answered with the batch as an
//!   operation;
//! - `GET /{version}/batches` (`pageSize`, `pageToken`), `GET` and `DELETE
//!   /{version}/batches/{name}`, `POST /{version}/batches/{name}:cancel`.
//!
//! An ended batch's operation carries its output: the inline responses in
//! the requests' order, or a responses file in the Files store. Field
//! names are read in camelCase or snake_case, as Google's JSON parser
//! takes both. A key needs its `batches` scope; a project sees only its
//! own batches.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, Uri};
use serde_json::{Map, Value, json};

use crate::admission::allow_operation;
use crate::batches::input::{gemini_inline, gemini_lines};
use crate::batches::output::{gemini_inline as inline_responses, gemini_responses_file, results};
use crate::batches::{self, Batch, BatchApi, BatchStatus, Maker};
use crate::body::{parse_json_object, read_json_bytes};
use crate::clock::{now_ms, rfc3339};
use crate::context::RequestContext;
use crate::error::{ApiError, Surface};
use crate::state::AppState;
use crate::surface::openai::files::owner;

/// The scope a key needs for batches.
const OPERATION: &str = "batches";
/// Listing bounds.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 1000;
/// The type names Google gives a batch and its output.
const BATCH_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch";
const OUTPUT_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput";

/// `POST /{version}/models/{model}:batchGenerateContent`.
pub async fn create(
    state: AppState,
    context: RequestContext,
    uri: &Uri,
    headers: &HeaderMap,
    model: &str,
    body: Body,
) -> Response {
    let made = async {
        allow_operation(&context.principal, OPERATION)?;
        let model = model.strip_prefix("models/").unwrap_or(model);
        if model.is_empty()
            || !model
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(bad("The batch's model name is not valid."));
        }
        let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
        let request = parse_json_object(&bytes)?;
        let batch = field(&request, "batch", "batch")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("batch is required: {\"batch\": {\"inputConfig\": …}}."))?;
        let display_name = field(batch, "displayName", "display_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let input_config = field(batch, "inputConfig", "input_config")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("batch.inputConfig is required."))?;
        let version = version_of(uri);
        let item_path = format!("/{version}/models/{model}:generateContent");
        let inline = field(input_config, "requests", "requests")
            .map(|requests| field_of(requests, "requests", "requests"));
        let file_name = field(input_config, "fileName", "file_name").and_then(Value::as_str);
        let (input, source) = match (inline, file_name) {
            (Some(Some(Value::Array(requests))), None) => (
                gemini_inline(requests, &item_path).map_err(|e| bad(&e))?,
                Value::Null,
            ),
            (None, Some(file_name)) => {
                let lines = input_file(&state, &context, file_name).await?;
                let input = gemini_lines(&lines, &item_path).map_err(|e| bad(&e))?;
                (input, json!(file_name))
            }
            _ => {
                return Err(bad(
                    "batch.inputConfig takes one of requests.requests (a list) or fileName.",
                ));
            }
        };
        if let Some(reason) = input.nothing_to_run() {
            return Err(bad(&format!(
                "The batch holds no request that can run ({reason})."
            )));
        }
        let mut params = Map::new();
        params.insert("model".into(), json!(format!("models/{model}")));
        params.insert("display_name".into(), json!(display_name));
        params.insert("file_name".into(), source);
        let maker = Maker::of(&context.principal);
        let batch = batches::submit(&state, BatchApi::Gemini, &maker, params, input).await?;
        operation(&state, &batch).await
    };
    answer(made.await)
}

/// `GET /{version}/batches` (`pageSize`, `pageToken`): newest first.
pub async fn list(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    uri: Uri,
) -> Response {
    let listed = async {
        allow_operation(&context.principal, OPERATION)?;
        let mut page_size = DEFAULT_PAGE;
        let mut after = None;
        for (name, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "pageSize" | "page_size" => {
                    page_size = value
                        .parse::<u32>()
                        .map_err(|_| bad("pageSize must be a whole number."))?
                        .clamp(1, MAX_PAGE)
                }
                "pageToken" | "page_token" if !value.is_empty() => {
                    if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad("pageToken is not one this API gave."));
                    }
                    after = Some(value.into_owned());
                }
                _ => {}
            }
        }
        let page = batches::list(
            &state,
            BatchApi::Gemini,
            owner(&context),
            after.as_deref(),
            page_size + 1,
        )
        .await?;
        let shown = &page[..page.len().min(page_size as usize)];
        let mut operations = Vec::with_capacity(shown.len());
        for batch in shown {
            operations.push(operation(&state, batch).await?);
        }
        let mut body = Map::new();
        if !operations.is_empty() {
            body.insert("operations".into(), operations.into());
        }
        if page.len() > shown.len()
            && let Some(last) = shown.last()
        {
            body.insert("nextPageToken".into(), json!(last.key()));
        }
        Ok(Value::Object(body))
    };
    answer(listed.await)
}

/// `GET /{version}/batches/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(name): Path<String>,
) -> Response {
    let found = async {
        let batch = find(&state, &context, &name).await?;
        operation(&state, &batch).await
    };
    answer(found.await)
}

/// `POST /{version}/batches/{name}:cancel` (the name arrives with its
/// `:cancel`).
pub async fn post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    let cancelled = async {
        let Some(name) = name.strip_suffix(":cancel") else {
            return Err(ApiError::MethodNotAllowed {
                method: "POST".into(),
                path: uri.path().to_string(),
            });
        };
        let batch = find(&state, &context, name).await?;
        batches::cancel(&state, batch).await?;
        Ok(json!({}))
    };
    answer(cancelled.await)
}

/// `DELETE /{version}/batches/{name}`: cancels the batch if it runs, then
/// forgets it (its responses file, if any, stays in the Files store).
pub async fn delete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(name): Path<String>,
) -> Response {
    let deleted = async {
        let batch = find(&state, &context, &name).await?;
        batches::delete(&state, batch).await?;
        Ok(json!({}))
    };
    answer(deleted.await)
}

async fn find(state: &AppState, context: &RequestContext, name: &str) -> Result<Batch, ApiError> {
    allow_operation(&context.principal, OPERATION)?;
    let key = name.strip_prefix("batches/").unwrap_or(name);
    batches::find(state, BatchApi::Gemini, owner(context), key).await
}

/// The batch's input file (`files/{id}`), the caller's own.
async fn input_file(
    state: &AppState,
    context: &RequestContext,
    name: &str,
) -> Result<bytes::Bytes, ApiError> {
    let files = state.files().ok_or(ApiError::FilesUnavailable)?;
    let id = name.strip_prefix("files/").unwrap_or(name);
    let file = files.get(owner(context), id, now_ms()).await?;
    files.content(&file).await?.bytes().await.map_err(|error| {
        tracing::error!(%error, "a batch's input file could not be read");
        ApiError::FilesUnavailable
    })
}

/// A batch as the operation Google describes it by; an ended batch's
/// carries its output.
async fn operation(state: &AppState, batch: &Batch) -> Result<Value, ApiError> {
    let job = &batch.progress.job;
    let params = batch.params();
    let counts = batch.counts();
    let name = format!("batches/{}", batch.key());
    let state_name = match batch.status() {
        BatchStatus::Queued => "BATCH_STATE_PENDING",
        BatchStatus::Running | BatchStatus::Cancelling => "BATCH_STATE_RUNNING",
        BatchStatus::Completed => "BATCH_STATE_SUCCEEDED",
        BatchStatus::Cancelled => "BATCH_STATE_CANCELLED",
        BatchStatus::Failed => "BATCH_STATE_FAILED",
    };
    let mut metadata = json!({
        "@type": BATCH_TYPE,
        "name": name,
        "model": params["model"],
        "displayName": params["display_name"],
        "createTime": rfc3339(job.created_at_ms),
        "updateTime": rfc3339(job.updated_at_ms),
        "batchStats": {
            "requestCount": counts.total.to_string(),
            "successfulRequestCount": counts.succeeded.to_string(),
            "failedRequestCount": counts.failed.to_string(),
            "pendingRequestCount": counts.pending.to_string(),
        },
        "state": state_name,
    });
    let mut operation = json!({"name": name, "done": batch.ended()});
    if batch.ended() {
        if let Some(ended) = job.finished_at_ms {
            metadata["endTime"] = json!(rfc3339(ended));
        }
        let output = match params["file_name"].as_str() {
            Some(_) => {
                let file = gemini_responses_file(state, batch).await?;
                json!({"responsesFile": format!("files/{file}")})
            }
            None => {
                let lines = results(state, batch).await?;
                json!({"inlinedResponses": {"inlinedResponses": inline_responses(&lines)}})
            }
        };
        let mut response = output.clone();
        response["@type"] = json!(OUTPUT_TYPE);
        metadata["output"] = output;
        operation["response"] = response;
    }
    operation["metadata"] = metadata;
    Ok(operation)
}

/// A field by its camelCase or snake_case name.
fn field<'a>(object: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    object.get(camel).or_else(|| object.get(snake))
}

fn field_of<'a>(value: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    value
        .as_object()
        .and_then(|object| field(object, camel, snake))
}

/// The API version a path names: its first segment.
fn version_of(uri: &Uri) -> &str {
    uri.path().split('/').nth(1).unwrap_or("v1beta")
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest {
        message: message.to_string(),
        param: None,
    }
}

fn answer(result: Result<Value, ApiError>) -> Response {
    crate::error::json_or_error(result, Surface::Gemini)
}
