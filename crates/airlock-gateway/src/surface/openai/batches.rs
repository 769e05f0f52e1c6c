//! OpenAI's Batch API (`/v1/batches`: create from an input file, list,
//! retrieve, cancel), run by Airlock itself ([`crate::batches`]). A key
//! needs its `batches` scope; a project sees only its own batches, anyone
//! else's id is a 404.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, Uri};
use serde_json::{Map, Value, json};

use super::files::{expires_after, owner};
use super::refuse_unknown;
use crate::admission::allow_operation;
use crate::batches::input::{OPENAI_ENDPOINTS, openai_lines};
use crate::batches::output::openai_files;
use crate::batches::{self, Batch, BatchApi, BatchStatus, Maker};
use crate::body::{parse_json_object, read_json_bytes};
use crate::clock::now_ms;
use crate::context::RequestContext;
use crate::error::{ApiError, Surface};
use crate::state::AppState;
use crate::surface::bad;

/// The scope a key needs for batches.
const OPERATION: &str = "batches";
/// The only completion window OpenAI takes, and how long it is.
const WINDOW: &str = "24h";
const WINDOW_SECS: i64 = 24 * 60 * 60;
/// Listing bounds, as OpenAI's.
const MAX_LIST: u32 = 100;
const DEFAULT_LIST: u32 = 20;

/// `POST /v1/batches` (`input_file_id`, `endpoint`, `completion_window`,
/// `metadata`, `output_expires_after`).
pub async fn create(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let made = async {
        allow_operation(&context.principal, OPERATION)?;
        let bytes = read_json_bytes(&headers, body, state.config().max_body_bytes).await?;
        let request = parse_json_object(&bytes)?;
        refuse_unknown(
            &request,
            &[
                "input_file_id",
                "endpoint",
                "completion_window",
                "metadata",
                "output_expires_after",
            ],
        )?;
        let endpoint = match request.get("endpoint").and_then(Value::as_str) {
            Some(endpoint) if OPENAI_ENDPOINTS.contains(&endpoint) => endpoint,
            _ => {
                let message = format!(
                    "'endpoint' must be one of {} (the endpoints Airlock batches).",
                    OPENAI_ENDPOINTS.join(", ")
                );
                return Err(bad(message, "endpoint"));
            }
        };
        if request.get("completion_window").and_then(Value::as_str) != Some(WINDOW) {
            return Err(bad(
                "'completion_window' must be '24h'.",
                "completion_window",
            ));
        }
        let metadata = metadata(request.get("metadata"))?;
        let output_expires_after_ms = match request.get("output_expires_after") {
            None | Some(Value::Null) => None,
            Some(Value::Object(policy)) => Some(expires_after(
                policy.get("anchor").and_then(Value::as_str),
                policy.get("seconds").and_then(Value::as_i64),
                0,
            )?),
            Some(_) => {
                return Err(bad(
                    "'output_expires_after' must be an object: {\"anchor\": \"created_at\", \"seconds\": N}.",
                    "output_expires_after",
                ));
            }
        };
        let input_file_id = match request.get("input_file_id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id,
            _ => return Err(bad("'input_file_id' is required.", "input_file_id")),
        };
        let lines = input_file(&state, &context, input_file_id).await?;
        let input = openai_lines(&lines, endpoint).map_err(|reason| {
            bad(
                format!("The input file {input_file_id} cannot be read: {reason}."),
                "input_file_id",
            )
        })?;
        if let Some(reason) = input.nothing_to_run() {
            let message =
                format!("The input file {input_file_id} holds no request that can run ({reason}).");
            return Err(bad(message, "input_file_id"));
        }
        let model = input.items[0]["body"]["model"].clone();
        let mut params = Map::new();
        params.insert("endpoint".into(), json!(endpoint));
        params.insert("input_file_id".into(), json!(input_file_id));
        params.insert("completion_window".into(), json!(WINDOW));
        params.insert("metadata".into(), metadata);
        params.insert("model".into(), model);
        params.insert(
            "output_expires_after_ms".into(),
            json!(output_expires_after_ms),
        );
        let maker = Maker::of(&context.principal);
        let batch = batches::submit(&state, BatchApi::OpenAi, &maker, params, input).await?;
        batch_object(&state, &batch).await
    };
    answer(made.await)
}

/// `GET /v1/batches` (`after`, `limit`): newest first.
pub async fn list(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    uri: Uri,
) -> Response {
    let listed = async {
        allow_operation(&context.principal, OPERATION)?;
        let mut after = None;
        let mut limit = DEFAULT_LIST;
        for (name, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "after" => after = Some(batch_key(&value)?.to_string()),
                "limit" => {
                    limit = value
                        .parse()
                        .ok()
                        .filter(|limit| (1..=MAX_LIST).contains(limit))
                        .ok_or_else(|| {
                            bad(
                                format!("'limit' must be a whole number from 1 to {MAX_LIST}."),
                                "limit",
                            )
                        })?
                }
                _ => {}
            }
        }
        let page = batches::list(
            &state,
            BatchApi::OpenAi,
            owner(&context),
            after.as_deref(),
            limit + 1,
        )
        .await?;
        let has_more = page.len() > limit as usize;
        let mut data = Vec::with_capacity(page.len().min(limit as usize));
        for batch in page.iter().take(limit as usize) {
            data.push(batch_object(&state, batch).await?);
        }
        Ok(json!({
            "object": "list",
            "first_id": data.first().map(|batch| batch["id"].clone()),
            "last_id": data.last().map(|batch| batch["id"].clone()),
            "has_more": has_more,
            "data": data,
        }))
    };
    answer(listed.await)
}

/// `GET /v1/batches/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    let found = async {
        let batch = find(&state, &context, &id).await?;
        batch_object(&state, &batch).await
    };
    answer(found.await)
}

/// `POST /v1/batches/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    let cancelled = async {
        let batch = find(&state, &context, &id).await?;
        let batch = batches::cancel(&state, batch).await?;
        batch_object(&state, &batch).await
    };
    answer(cancelled.await)
}

async fn find(state: &AppState, context: &RequestContext, id: &str) -> Result<Batch, ApiError> {
    allow_operation(&context.principal, OPERATION)?;
    let key = batch_key(id)?;
    batches::find(state, BatchApi::OpenAi, owner(context), key).await
}

/// The key of a batch id (`batch_` and hex).
fn batch_key(id: &str) -> Result<&str, ApiError> {
    id.strip_prefix("batch_")
        .filter(|key| !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| ApiError::BatchNotFound { id: id.to_string() })
}

/// The batch's input file, as the caller may read it: its own, of
/// purpose `batch`.
async fn input_file(
    state: &AppState,
    context: &RequestContext,
    id: &str,
) -> Result<bytes::Bytes, ApiError> {
    let files = state.files().ok_or(ApiError::FilesUnavailable)?;
    let file = files.get(owner(context), id, now_ms()).await?;
    if file.purpose != "batch" {
        return Err(bad(
            format!(
                "The file {id} has purpose '{}'; a batch's input file must be uploaded with purpose 'batch'.",
                file.purpose
            ),
            "input_file_id",
        ));
    }
    files.content(&file).await?.bytes().await.map_err(|error| {
        tracing::error!(%error, "a batch's input file could not be read");
        ApiError::FilesUnavailable
    })
}

/// `metadata`: at most 16 pairs, keys up to 64 characters, values text up
/// to 512.
fn metadata(value: Option<&Value>) -> Result<Value, ApiError> {
    let fields = match value {
        None | Some(Value::Null) => return Ok(Value::Null),
        Some(Value::Object(fields)) => fields,
        Some(_) => return Err(bad("'metadata' must be an object of text.", "metadata")),
    };
    let fits = fields.len() <= 16
        && fields.iter().all(|(key, value)| {
            key.chars().count() <= 64 && value.as_str().is_some_and(|v| v.chars().count() <= 512)
        });
    if !fits {
        return Err(bad(
            "'metadata' holds at most 16 pairs: keys up to 64 characters, values text up to 512.",
            "metadata",
        ));
    }
    Ok(Value::Object(fields.clone()))
}

/// A batch as OpenAI describes it; an ended batch's result files are made
/// the first time it is described.
async fn batch_object(state: &AppState, batch: &Batch) -> Result<Value, ApiError> {
    let job = &batch.progress.job;
    let params = batch.params();
    let (output_file_id, error_file_id) = openai_files(state, batch).await?;
    let counts = batch.counts();
    let secs = |ms: Option<i64>| ms.map(|ms| ms / 1000);
    let status = batch.status();
    let ended_at =
        |wanted: &[BatchStatus]| secs(job.finished_at_ms.filter(|_| wanted.contains(&status)));
    let rejected = params["rejected"].as_array().cloned().unwrap_or_default();
    let errors = (!rejected.is_empty()).then(|| {
        let data: Vec<Value> = rejected
            .iter()
            .map(|rejected| {
                json!({
                    "code": rejected["code"],
                    "line": rejected["line"],
                    "message": rejected["message"],
                    "param": null,
                })
            })
            .collect();
        json!({"object": "list", "data": data})
    });
    Ok(json!({
        "id": format!("batch_{}", batch.key()),
        "object": "batch",
        "endpoint": params["endpoint"],
        "model": params["model"],
        "errors": errors,
        "input_file_id": params["input_file_id"],
        "completion_window": params["completion_window"],
        "status": match status {
            BatchStatus::Queued => "validating",
            BatchStatus::Running => "in_progress",
            BatchStatus::Cancelling => "cancelling",
            BatchStatus::Cancelled => "cancelled",
            BatchStatus::Completed => "completed",
            BatchStatus::Failed => "failed",
        },
        "output_file_id": output_file_id,
        "error_file_id": error_file_id,
        "created_at": job.created_at_ms / 1000,
        "in_progress_at": secs(job.started_at_ms),
        "expires_at": job.created_at_ms / 1000 + WINDOW_SECS,
        "finalizing_at": ended_at(&[BatchStatus::Completed]),
        "completed_at": ended_at(&[BatchStatus::Completed]),
        "failed_at": ended_at(&[BatchStatus::Failed]),
        "expired_at": null,
        "cancelling_at": ended_at(&[BatchStatus::Cancelling, BatchStatus::Cancelled]),
        "cancelled_at": ended_at(&[BatchStatus::Cancelled]),
        "request_counts": {
            "total": counts.total,
            "completed": counts.succeeded,
            "failed": counts.failed,
        },
        "metadata": params["metadata"],
    }))
}

fn answer(result: Result<Value, ApiError>) -> Response {
    crate::error::json_or_error(result, Surface::OpenAi)
}
