//! OpenAI's Files API (`/v1/files`: upload, list, retrieve, content,
//! delete) and Uploads API (`/v1/uploads`: a large file in parts), served
//! from Airlock's own file store ([`crate::files`]). A key needs its
//! `files` scope; a project sees only its own files, anyone else's id is a
//! 404.

use airlock_store::{FileListing, StoredFile, StoredUpload, UploadProtocol, UploadState};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Uri, header};
use serde_json::{Map, Value, json};

use super::refuse_unknown;
use crate::admission::allow_operation;
use crate::body::{parse_json_object, read_json_bytes};
use crate::clock::now_ms;
use crate::context::RequestContext;
use crate::error::{ApiError, Surface};
use crate::files::uploads::{NewUpload, PartOrder};
use crate::files::{FileRules, Files, NewFile};
use crate::multipart::read_upload;
use crate::state::AppState;
use crate::surface::bad;

/// The purposes a file may be uploaded for, as OpenAI lists them.
const PURPOSES: &[&str] = &[
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
];

/// `expires_after.seconds` bounds: an hour to 30 days.
const EXPIRY_SECONDS: std::ops::RangeInclusive<i64> = 3_600..=2_592_000;

/// A batch file is kept 30 days unless the upload says otherwise, as
/// OpenAI does.
const BATCH_FILE_SECONDS: i64 = 2_592_000;

/// The most files a listing gives, and its default.
const MAX_LIST: u32 = 10_000;

/// `POST /v1/files` (multipart: `file`, `purpose`, `expires_after`).
pub async fn create(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let made = async {
        let (files, rules) = files_for(&state, &context)?;
        // The body holds the file: read it up to the file limit (the
        // connection's body guard still bounds it).
        let limit =
            usize::try_from(rules.max_bytes.saturating_add(64 * 1024)).unwrap_or(usize::MAX);
        let (_, upload) = read_upload(&headers, body, limit).await?;
        let form = &upload.form;
        let purpose = purpose(form.text("purpose")?)?;
        let file = form
            .all(&["file"])
            .find(|field| field.file_name.is_some())
            .ok_or_else(|| bad("The field 'file' (a file) is required.", "file"))?;
        let now = now_ms();
        let expires_at_ms = expiry(
            form.text("expires_after[anchor]")?,
            form.text("expires_after[seconds]")?,
            &purpose,
            now,
        )?;
        let kept = files
            .keep(
                NewFile {
                    id: None,
                    project_id: owner(&context).map(str::to_string),
                    end_user: context.end_user.clone(),
                    purpose,
                    filename: file.file_name.clone().unwrap_or_default(),
                    bytes: file.bytes.clone(),
                    expires_at_ms,
                },
                &rules,
                now,
            )
            .await?;
        Ok(file_object(&kept))
    };
    answer(made.await)
}

/// `GET /v1/files` (`after`, `limit`, `order`, `purpose`).
pub async fn list(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    uri: Uri,
) -> Response {
    let listed = async {
        let (files, _) = files_for(&state, &context)?;
        let query = ListQuery::read(uri.query())?;
        let page = files
            .list(&FileListing {
                project: owner(&context),
                purpose: query.purpose.as_deref(),
                after: query.after.as_deref(),
                limit: query.limit + 1,
                newest_first: query.newest_first,
                now_ms: now_ms(),
            })
            .await?;
        let has_more = page.len() > query.limit as usize;
        let data: Vec<Value> = page
            .iter()
            .take(query.limit as usize)
            .map(file_object)
            .collect();
        Ok(json!({
            "object": "list",
            "first_id": data.first().map(|file| file["id"].clone()),
            "last_id": data.last().map(|file| file["id"].clone()),
            "has_more": has_more,
            "data": data,
        }))
    };
    answer(listed.await)
}

/// `GET /v1/files/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    let found = async {
        let (files, _) = files_for(&state, &context)?;
        Ok(file_object(
            &files.get(owner(&context), &id, now_ms()).await?,
        ))
    };
    answer(found.await)
}

/// `GET /v1/files/{id}/content`: the bytes as uploaded.
pub async fn content(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    let read = async {
        let (files, _) = files_for(&state, &context)?;
        let file = files.get(owner(&context), &id, now_ms()).await?;
        let bytes = files.content(&file).await?.bytes().await.map_err(|error| {
            tracing::error!(%error, "a file's bytes could not be read");
            ApiError::FilesUnavailable
        })?;
        let mut response = bytes.into_response();
        let content_type = HeaderValue::from_str(&file.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
        Ok::<_, ApiError>(response)
    };
    match read.await {
        Ok(response) => response,
        Err(error) => error.into_response_for(Surface::OpenAi),
    }
}

/// `GET /v1/files/{id}/text` (Airlock's own): a document's extracted,
/// sanitised text and its metadata; errors in the caller's protocol.
pub async fn text(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let read = async {
        let (files, _) = files_for(&state, &context)?;
        let file = files.get(owner(&context), &id, now_ms()).await?;
        let Some(text) = files.text(&file).await? else {
            return Err(ApiError::BadRequest {
                message: format!("File {id} ({}) has no text.", file.content_type),
                param: Some("id".into()),
            });
        };
        let mut body = json!({
            "id": file.id,
            "object": "file.text",
            "content_type": file.content_type,
            "text": text,
        });
        if let (Some(Value::Object(document)), Value::Object(fields)) = (&file.document, &mut body)
        {
            fields.extend(document.clone());
        }
        Ok(body)
    };
    match read.await {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => error.into_response_for(crate::surface::detect(
            &http::Method::GET,
            uri.path(),
            &headers,
            uri.query(),
        )),
    }
}

/// `DELETE /v1/files/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    let deleted = async {
        let (files, _) = files_for(&state, &context)?;
        let file = files.delete(owner(&context), &id, now_ms()).await?;
        Ok(json!({"id": file.id, "object": "file", "deleted": true}))
    };
    answer(deleted.await)
}

/// `POST /v1/uploads` (`bytes`, `filename`, `mime_type`, `purpose`,
/// `expires_after`).
pub async fn upload_create(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let made = async {
        let (files, rules) = files_for(&state, &context)?;
        let bytes = read_json_bytes(&headers, body, state.config().max_body_bytes).await?;
        let request = parse_json_object(&bytes)?;
        refuse_unknown(
            &request,
            &["bytes", "filename", "mime_type", "purpose", "expires_after"],
        )?;
        let size = request
            .get("bytes")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("'bytes' (a whole number of bytes) is required.", "bytes"))?;
        let filename = required_text(&request, "filename")?;
        let mime_type = required_text(&request, "mime_type")?;
        let purpose = purpose(request.get("purpose").and_then(Value::as_str))?;
        // Counted from the file's creation, at completion.
        let file_ttl_ms = match request.get("expires_after") {
            Some(expires_after) => expires_after_json(expires_after, &purpose, 0)?,
            None => default_expiry(&purpose, 0),
        };
        let upload = files
            .start_upload(
                NewUpload {
                    project_id: owner(&context).map(str::to_string),
                    end_user: context.end_user.clone(),
                    protocol: UploadProtocol::OpenAi,
                    purpose,
                    filename,
                    declared_type: mime_type,
                    bytes: size,
                    file_ttl_ms,
                },
                &rules,
                now_ms(),
            )
            .await?;
        Ok(upload_object(&upload, None))
    };
    answer(made.await)
}

/// `POST /v1/uploads/{id}/parts` (multipart: `data`).
pub async fn upload_part(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let added = async {
        let (files, _) = files_for(&state, &context)?;
        let now = now_ms();
        let upload = files.upload(Some(owner(&context)), &id, now).await?;
        let limit = usize::try_from(upload.bytes.saturating_add(64 * 1024)).unwrap_or(usize::MAX);
        let (_, form) = read_upload(&headers, body, limit).await?;
        let data = form
            .form
            .all(&["data"])
            .next()
            .ok_or_else(|| bad("The field 'data' (the part's bytes) is required.", "data"))?;
        let (part, _) = files
            .add_part(&upload, data.bytes.clone(), None, now)
            .await?;
        Ok(json!({
            "id": part.id,
            "object": "upload.part",
            "created_at": part.created_at_ms / 1000,
            "upload_id": part.upload_id,
        }))
    };
    answer(added.await)
}

/// `POST /v1/uploads/{id}/complete` (`part_ids`, `md5`).
pub async fn upload_complete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let completed = async {
        let (files, rules) = files_for(&state, &context)?;
        let bytes = read_json_bytes(&headers, body, state.config().max_body_bytes).await?;
        let request = parse_json_object(&bytes)?;
        refuse_unknown(&request, &["part_ids", "md5"])?;
        let part_ids: Vec<String> = request
            .get("part_ids")
            .and_then(Value::as_array)
            .and_then(|ids| {
                ids.iter()
                    .map(|id| id.as_str().map(str::to_string))
                    .collect()
            })
            .ok_or_else(|| bad("'part_ids' (a list of part ids) is required.", "part_ids"))?;
        let md5 = match request.get("md5") {
            None | Some(Value::Null) => None,
            Some(Value::String(md5)) => Some(md5.as_str()).filter(|md5| !md5.is_empty()),
            Some(_) => return Err(bad("'md5' must be the file's MD5, in hex.", "md5")),
        };
        let now = now_ms();
        let upload = files.upload(Some(owner(&context)), &id, now).await?;
        let order = PartOrder::Listed {
            ids: &part_ids,
            md5,
        };
        let (done, file) = files.complete(&upload, order, &rules, None, now).await?;
        Ok(upload_object(&done, Some(&file)))
    };
    answer(completed.await)
}

/// `POST /v1/uploads/{id}/cancel`.
pub async fn upload_cancel(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    let cancelled = async {
        let (files, _) = files_for(&state, &context)?;
        let upload = files.upload(Some(owner(&context)), &id, now_ms()).await?;
        Ok(upload_object(&files.cancel(&upload).await?, None))
    };
    answer(cancelled.await)
}

/// The file store and the caller's project's rules, once its key may use
/// files.
pub(crate) fn files_for<'s>(
    state: &'s AppState,
    context: &RequestContext,
) -> Result<(&'s Files, FileRules), ApiError> {
    allow_operation(&context.principal, "files")?;
    let files = state.files().ok_or(ApiError::FilesUnavailable)?;
    let project = context
        .principal
        .grant()
        .and_then(|grant| grant.project.settings.files.as_ref());
    Ok((files, files.rules(project)))
}

/// Whose files the caller reaches: its project's, or the master key's.
pub(crate) fn owner(context: &RequestContext) -> Option<&str> {
    context
        .principal
        .grant()
        .map(|grant| grant.project.id.as_str())
}

/// A file as OpenAI describes it.
fn file_object(file: &StoredFile) -> Value {
    json!({
        "id": file.id,
        "object": "file",
        "bytes": file.bytes,
        "created_at": file.created_at_ms / 1000,
        "expires_at": file.expires_at_ms.map(|ms| ms / 1000),
        "filename": file.filename,
        "purpose": file.purpose,
        "status": "processed",
        "status_details": null,
    })
}

/// An upload as OpenAI describes it (a completion under way is pending).
fn upload_object(upload: &StoredUpload, file: Option<&StoredFile>) -> Value {
    let status = match upload.state {
        UploadState::Pending | UploadState::Completing => "pending",
        other => other.name(),
    };
    json!({
        "id": upload.id,
        "object": "upload",
        "bytes": upload.bytes,
        "created_at": upload.created_at_ms / 1000,
        "expires_at": upload.expires_at_ms / 1000,
        "filename": upload.filename,
        "purpose": upload.purpose,
        "status": status,
        "file": file.map(file_object),
    })
}

fn purpose(value: Option<&str>) -> Result<String, ApiError> {
    match value {
        Some(purpose) if PURPOSES.contains(&purpose) => Ok(purpose.to_string()),
        Some(other) => Err(bad(
            format!(
                "'{other}' is not a purpose: use one of {}.",
                PURPOSES.join(", ")
            ),
            "purpose",
        )),
        None => Err(bad("'purpose' is required.", "purpose")),
    }
}

/// When a file expires: as `expires_after` says, else 30 days for a batch
/// file, else never.
fn expiry(
    anchor: Option<&str>,
    seconds: Option<&str>,
    purpose: &str,
    now: i64,
) -> Result<Option<i64>, ApiError> {
    match (anchor, seconds) {
        (None, None) => Ok(default_expiry(purpose, now)),
        (anchor, seconds) => {
            let seconds = seconds.and_then(|s| s.trim().parse::<i64>().ok());
            expires_after(anchor, seconds, now).map(Some)
        }
    }
}

fn expires_after_json(value: &Value, purpose: &str, now: i64) -> Result<Option<i64>, ApiError> {
    match value {
        Value::Null => Ok(default_expiry(purpose, now)),
        Value::Object(fields) => expires_after(
            fields.get("anchor").and_then(Value::as_str),
            fields.get("seconds").and_then(Value::as_i64),
            now,
        )
        .map(Some),
        _ => Err(bad(
            "'expires_after' must be an object: {\"anchor\": \"created_at\", \"seconds\": N}.",
            "expires_after",
        )),
    }
}

pub(super) fn expires_after(
    anchor: Option<&str>,
    seconds: Option<i64>,
    now: i64,
) -> Result<i64, ApiError> {
    if anchor != Some("created_at") {
        return Err(bad(
            "'expires_after.anchor' must be 'created_at'.",
            "expires_after.anchor",
        ));
    }
    match seconds {
        Some(seconds) if EXPIRY_SECONDS.contains(&seconds) => Ok(now + seconds * 1000),
        _ => Err(bad(
            format!(
                "'expires_after.seconds' must be a whole number from {} (an hour) to {} (30 days).",
                EXPIRY_SECONDS.start(),
                EXPIRY_SECONDS.end()
            ),
            "expires_after.seconds",
        )),
    }
}

fn default_expiry(purpose: &str, now: i64) -> Option<i64> {
    (purpose == "batch").then_some(now + BATCH_FILE_SECONDS * 1000)
}

/// What a listing asks.
struct ListQuery {
    after: Option<String>,
    limit: u32,
    newest_first: bool,
    purpose: Option<String>,
}

impl ListQuery {
    fn read(query: Option<&str>) -> Result<ListQuery, ApiError> {
        let mut read = ListQuery {
            after: None,
            limit: MAX_LIST,
            newest_first: true,
            purpose: None,
        };
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "after" => read.after = Some(value.into_owned()),
                "purpose" => read.purpose = Some(value.into_owned()),
                "limit" => {
                    read.limit = value
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
                "order" => {
                    read.newest_first = match value.as_ref() {
                        "desc" => true,
                        "asc" => false,
                        _ => return Err(bad("'order' must be 'asc' or 'desc'.", "order")),
                    }
                }
                _ => {}
            }
        }
        Ok(read)
    }
}

fn required_text(request: &Map<String, Value>, name: &'static str) -> Result<String, ApiError> {
    match request.get(name).and_then(Value::as_str) {
        Some(text) if !text.is_empty() => Ok(text.to_string()),
        _ => Err(bad(format!("'{name}' (text) is required."), name)),
    }
}

fn answer(result: Result<Value, ApiError>) -> Response {
    crate::error::json_or_error(result, Surface::OpenAi)
}
