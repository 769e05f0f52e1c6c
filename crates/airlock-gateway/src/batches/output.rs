//! A batch's results, built from its items' answers once it has ended:
//! OpenAI's output file (the successes) and error file (error answers,
//! requests that could not run, rejected lines, and requests a cancel left
//! unrun), Gemini's inline responses and its responses file. Results are
//! given in the input's order.
//!
//! Result files are kept in the Files store under ids made from the
//! batch's, so they are made once: the first look at an ended batch makes
//! them, later looks find them.

use airlock_jobs::JobItemState;
use airlock_store::JobItem;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::Batch;
use super::input::Rejected;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::files::{FileError, FileRules, NewFile};
use crate::state::AppState;

/// Items read from the store at once.
const PAGE: u32 = 1000;
/// How long result files are kept unless the batch says: 30 days, as
/// OpenAI keeps them.
const RESULT_FILE_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// Held while result files are made, so two looks at once make them once.
static MAKING: Mutex<()> = Mutex::const_new(());

/// What became of one line of the input.
pub enum Outcome {
    /// Answered: its status code, request id and body.
    Answered {
        status_code: u16,
        request_id: Option<String>,
        body: Value,
    },
    /// It could not run (its key was revoked, ...), or was rejected.
    Failed { code: String, message: String },
    /// A cancel left it unrun.
    NotRun,
}

/// One line's result: its place, its id or metadata, its outcome.
pub struct LineResult {
    pub line: u64,
    pub id: Value,
    pub metadata: Value,
    pub outcome: Outcome,
}

impl LineResult {
    fn succeeded(&self) -> bool {
        matches!(self.outcome, Outcome::Answered { status_code, .. } if (200..300).contains(&status_code))
    }
}

/// Every line's result, in the input's order.
pub async fn results(state: &AppState, batch: &Batch) -> Result<Vec<LineResult>, ApiError> {
    let runner = state.jobs().ok_or(ApiError::BatchesUnavailable)?;
    let mut lines = Vec::with_capacity(batch.counts().total as usize);
    let mut offset = 0;
    loop {
        let page = runner
            .items(&batch.progress.job.id, None, PAGE, offset)
            .await
            .map_err(super::unavailable)?;
        offset += page.len() as u64;
        let last = page.len() < PAGE as usize;
        lines.extend(page.into_iter().map(line_of_item));
        if last {
            break;
        }
    }
    let rejected: Vec<Rejected> =
        serde_json::from_value(batch.params()["rejected"].clone()).unwrap_or_default();
    lines.extend(rejected.into_iter().map(|rejected| LineResult {
        line: rejected.line as u64,
        id: json!(rejected.id),
        metadata: rejected.metadata,
        outcome: Outcome::Failed {
            code: rejected.code,
            message: rejected.message,
        },
    }));
    lines.sort_by_key(|line| line.line);
    Ok(lines)
}

fn line_of_item(item: JobItem) -> LineResult {
    let outcome = match (item.state, &item.result) {
        (JobItemState::Done | JobItemState::Failed, Some(result)) => Outcome::Answered {
            status_code: result["status_code"]
                .as_u64()
                .and_then(|code| u16::try_from(code).ok())
                .unwrap_or(500),
            request_id: result["request_id"].as_str().map(str::to_string),
            body: result["body"].clone(),
        },
        (JobItemState::Done | JobItemState::Failed, None) => Outcome::Failed {
            code: "request_failed".to_string(),
            message: item
                .error
                .unwrap_or_else(|| "the request failed".to_string()),
        },
        (JobItemState::Pending | JobItemState::Running, _) => Outcome::NotRun,
    };
    LineResult {
        line: item.payload["line"].as_u64().unwrap_or(item.seq + 1),
        id: item.payload["id"].clone(),
        metadata: item.payload["metadata"].clone(),
        outcome,
    }
}

/// An ended OpenAI batch's output and error files' ids, made the first
/// time they are asked for; `(None, None)` while it runs.
pub async fn openai_files(
    state: &AppState,
    batch: &Batch,
) -> Result<(Option<String>, Option<String>), ApiError> {
    if !batch.ended() {
        return Ok((None, None));
    }
    let counts = batch.counts();
    let output_id = (counts.succeeded > 0).then(|| format!("file-{}-output", batch.key()));
    let error_id =
        (counts.failed + counts.pending > 0).then(|| format!("file-{}-errors", batch.key()));
    let _making = MAKING.lock().await;
    let missing = |id: &Option<String>| {
        let id = id.clone();
        async move {
            match id {
                Some(id) => !exists(state, batch, &id).await,
                None => false,
            }
        }
    };
    let (make_output, make_errors) = (missing(&output_id).await, missing(&error_id).await);
    if make_output || make_errors {
        let lines = results(state, batch).await?;
        let (successes, failures): (Vec<&LineResult>, Vec<&LineResult>) =
            lines.iter().partition(|line| line.succeeded());
        if let (true, Some(id)) = (make_output, &output_id) {
            let file = openai_jsonl(batch, &successes);
            keep(state, batch, id, "output", file).await?;
        }
        if let (true, Some(id)) = (make_errors, &error_id) {
            let file = openai_jsonl(batch, &failures);
            keep(state, batch, id, "errors", file).await?;
        }
    }
    Ok((output_id, error_id))
}

/// Lines of an OpenAI output or error file.
fn openai_jsonl(batch: &Batch, lines: &[&LineResult]) -> Vec<u8> {
    let mut file = Vec::new();
    for line in lines {
        let (response, error) = match &line.outcome {
            Outcome::Answered {
                status_code,
                request_id,
                body,
            } => (
                json!({"status_code": status_code, "request_id": request_id, "body": body}),
                Value::Null,
            ),
            Outcome::Failed { code, message } => {
                (Value::Null, json!({"code": code, "message": message}))
            }
            Outcome::NotRun => (
                Value::Null,
                json!({
                    "code": "batch_cancelled",
                    "message": "The batch was cancelled before this request ran."
                }),
            ),
        };
        let entry = json!({
            "id": format!("batch_req_{}_{}", batch.key(), line.line),
            "custom_id": line.id,
            "response": response,
            "error": error,
        });
        file.extend_from_slice(entry.to_string().as_bytes());
        file.push(b'\n');
    }
    file
}

/// Gemini's inline responses: each line's response or error, with its
/// metadata.
pub fn gemini_inline(lines: &[LineResult]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            let mut entry = gemini_outcome(line);
            if !line.metadata.is_null() {
                entry["metadata"] = line.metadata.clone();
            }
            entry
        })
        .collect()
}

/// An ended Gemini file batch's responses file (`{"key", "response"}` or
/// `{"key", "error"}` per line), made the first time it is asked for.
pub async fn gemini_responses_file(state: &AppState, batch: &Batch) -> Result<String, ApiError> {
    let id = format!("batch-{}-responses", batch.key());
    let _making = MAKING.lock().await;
    if !exists(state, batch, &id).await {
        let mut file = Vec::new();
        for line in results(state, batch).await? {
            let mut entry = gemini_outcome(&line);
            entry["key"] = line.id.clone();
            file.extend_from_slice(entry.to_string().as_bytes());
            file.push(b'\n');
        }
        keep(state, batch, &id, "responses", file).await?;
    }
    Ok(id)
}

/// `{"response": …}` or `{"error": {code, message, status}}`.
fn gemini_outcome(line: &LineResult) -> Value {
    match &line.outcome {
        Outcome::Answered { body, .. } if line.succeeded() => json!({"response": body}),
        Outcome::Answered {
            status_code, body, ..
        } => match body.get("error") {
            Some(error) if error.is_object() => json!({"error": error}),
            _ => json!({"error": {"code": status_code, "message": body.to_string()}}),
        },
        Outcome::Failed { message, .. } => {
            json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})
        }
        Outcome::NotRun => json!({"error": {
            "code": 499,
            "message": "The batch was cancelled before this request ran.",
            "status": "CANCELLED"
        }}),
    }
}

/// Whether the batch's project has a file of this id.
async fn exists(state: &AppState, batch: &Batch, id: &str) -> bool {
    let Some(files) = state.files() else {
        return false;
    };
    let owner = batch.progress.job.project_id.as_deref();
    files.get(owner, id, now_ms()).await.is_ok()
}

/// Keeps a result file for the batch's project.
async fn keep(
    state: &AppState,
    batch: &Batch,
    id: &str,
    what: &str,
    bytes: Vec<u8>,
) -> Result<(), ApiError> {
    let files = state.files().ok_or(ApiError::FilesUnavailable)?;
    let expires_after_ms = batch.params()["output_expires_after_ms"]
        .as_i64()
        .unwrap_or(RESULT_FILE_MS);
    let now = now_ms();
    let rules = FileRules {
        max_bytes: u64::MAX,
        accepted: airlock_documents::AcceptedTypes::new(&["application/jsonl", "text/plain"])
            .map_err(|error| {
                tracing::error!(%error, "batches: result files' types");
                ApiError::Internal
            })?,
        redact_pii: false,
    };
    let new = NewFile {
        id: Some(id.to_string()),
        project_id: batch.progress.job.project_id.clone(),
        end_user: None,
        // OpenAI's purpose for both a batch's output and its errors.
        purpose: "batch_output".into(),
        filename: format!("batch_{}_{what}.jsonl", batch.key()),
        bytes: Bytes::from(bytes),
        expires_at_ms: Some(now.saturating_add(expires_after_ms)),
    };
    match files.keep(new, &rules, now).await {
        Ok(_) => Ok(()),
        Err(FileError::Invalid { .. }) if exists(state, batch, id).await => Ok(()),
        Err(error) => Err(error.into()),
    }
}
