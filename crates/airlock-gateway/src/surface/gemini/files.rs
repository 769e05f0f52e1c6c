//! Gemini's Files API as google-genai calls it, served from Airlock's own
//! file store ([`crate::files`]):
//!
//! - `POST /upload/{version}/files`: the resumable upload protocol. The
//!   start (`X-Goog-Upload-Command: start`, the size and type in
//!   `X-Goog-Upload-Header-Content-Length` and `-Type`, the file's name
//!   and display name in the JSON body) answers an upload URL in
//!   `x-goog-upload-url`. Chunks go to that URL (`upload`, with
//!   `X-Goog-Upload-Offset`, the last `upload, finalize`); `query` says
//!   the bytes received, `cancel` ends it. As with Google, the upload URL
//!   is its own credential (the SDK sends no key with the chunks): its id
//!   is 256 random bits and names its project.
//! - `GET /{version}/files` (`pageSize`, `pageToken`), `GET` and `DELETE
//!   /{version}/files/{name}`.
//!
//! A file is ACTIVE as soon as it is stored, and kept 48 hours, as Google
//! keeps them. Its `uri` is Airlock's own address for it.

use airlock_store::{FileListing, StoredFile, StoredUpload, UploadProtocol, UploadState};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use serde_json::{Map, Value, json};

use crate::body::read_limited;
use crate::clock::{now_ms, rfc3339};
use crate::context::RequestContext;
use crate::error::{ApiError, Surface};
use crate::files::uploads::{NewUpload, PartOrder};
use crate::files::{FileError, FileRules, Files};
use crate::state::AppState;
use crate::surface::openai::files::{files_for, owner};

/// How long Google keeps an uploaded file: 48 hours.
const FILE_TTL_MS: i64 = 48 * 3600 * 1000;

/// The most files a page lists, and how many when the client says not.
const MAX_PAGE: u32 = 100;
const DEFAULT_PAGE: u32 = 10;

/// The purpose Gemini's files are listed under by the OpenAI surface.
const PURPOSE: &str = "user_data";

/// Whether a request is a resumable upload's chunk (or query or cancel):
/// it carries its upload id, its only credential.
pub fn is_resumable_chunk(path: &str, query: Option<&str>) -> bool {
    path.starts_with("/upload/")
        && query.is_some_and(|query| {
            url::form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "upload_id")
        })
}

/// `POST /upload/{version}/files`: a start, or (with `upload_id`) a chunk.
pub async fn upload(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let version = version_of(&uri);
    let query = uri.query();
    let asked = |wanted: &str| {
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.into_owned())
    };
    match asked("upload_id") {
        None => start(&state, &context, version, &headers, body)
            .await
            .unwrap_or_else(|error| error.into_response_for(Surface::Gemini)),
        Some(id) => {
            let chosen = Chunk {
                upload_id: &id,
                name: asked("name"),
                version,
            };
            chunk(&state, chosen, &headers, body).await
        }
    }
}

/// Begins a resumable upload.
async fn start(
    state: &AppState,
    context: &RequestContext,
    version: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (files, rules) = files_for(state, context)?;
    let protocol = header(headers, "x-goog-upload-protocol");
    if !protocol.is_some_and(|p| p.eq_ignore_ascii_case("resumable")) {
        return Err(bad(
            "Uploads take the resumable protocol: send X-Goog-Upload-Protocol: resumable.",
        ));
    }
    if !header(headers, "x-goog-upload-command").is_some_and(|c| c.eq_ignore_ascii_case("start")) {
        return Err(bad(
            "A resumable upload begins with X-Goog-Upload-Command: start.",
        ));
    }
    let size = header(headers, "x-goog-upload-header-content-length")
        .and_then(|size| size.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            bad("X-Goog-Upload-Header-Content-Length (the file's size in bytes) is required.")
        })?;
    let bytes = read_limited(body, state.config().max_body_bytes).await?;
    let file = start_body(&bytes)?;
    let text = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|name| file.get(*name).and_then(Value::as_str))
            .map(str::to_string)
    };
    let declared_type = header(headers, "x-goog-upload-header-content-type")
        .map(str::to_string)
        .or_else(|| text(["mimeType", "mime_type"]))
        .unwrap_or_default();
    // A name the client chose is checked now; it becomes the file's id.
    let name = text(["name", "name"])
        .map(|name| file_id(&name))
        .transpose()?;
    let upload = files
        .start_upload(
            NewUpload {
                project_id: owner(context).map(str::to_string),
                end_user: context.end_user.clone(),
                protocol: UploadProtocol::Gemini,
                purpose: PURPOSE.into(),
                filename: text(["displayName", "display_name"]).unwrap_or_default(),
                declared_type,
                bytes: size,
                file_ttl_ms: Some(FILE_TTL_MS),
            },
            &rules,
            now_ms(),
        )
        .await?;
    // The chosen name rides with the upload id, which the client sends back.
    let mut url = format!(
        "{}/upload/{version}/files?upload_id={}&upload_protocol=resumable",
        crate::surface::origin(headers),
        upload.id
    );
    if let Some(name) = name {
        url.push_str("&name=");
        url.push_str(&name);
    }
    let mut response = StatusCode::OK.into_response();
    let answer = response.headers_mut();
    answer.insert("x-goog-upload-status", HeaderValue::from_static("active"));
    answer.insert(
        "x-goog-upload-url",
        HeaderValue::from_str(&url).map_err(|_| ApiError::Internal)?,
    );
    answer.insert(
        "x-goog-upload-chunk-granularity",
        HeaderValue::from_static("8388608"),
    );
    Ok(response)
}

/// The start's body: `{"file": {...}}`, or nothing.
fn start_body(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let body: Value =
        serde_json::from_slice(bytes).map_err(|error| ApiError::InvalidJson(error.to_string()))?;
    match body.get("file") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(file)) => Ok(file.clone()),
        Some(_) => Err(bad("'file' must be an object.")),
    }
}

/// What an upload URL says: the upload, and the file name its start chose.
struct Chunk<'a> {
    upload_id: &'a str,
    name: Option<String>,
    version: &'a str,
}

/// One command sent to an upload URL.
async fn chunk(state: &AppState, sent: Chunk<'_>, headers: &HeaderMap, body: Body) -> Response {
    let Some(files) = state.files() else {
        return ApiError::FilesUnavailable.into_response_for(Surface::Gemini);
    };
    let now = now_ms();
    let upload = match files.upload(None, sent.upload_id, now).await {
        Ok(upload) => upload,
        Err(error) => return ended(ApiError::from(error)),
    };
    let command = header(headers, "x-goog-upload-command")
        .unwrap_or("")
        .to_ascii_lowercase();
    let commands: Vec<&str> = command.split(',').map(str::trim).collect();
    if commands.contains(&"query") {
        return status_of(&upload);
    }
    if commands.contains(&"cancel") {
        return match files.cancel(&upload).await {
            Ok(cancelled) => status_of(&cancelled),
            Err(error) => ended(error.into()),
        };
    }
    let uploading = commands.contains(&"upload");
    let finalizing = commands.contains(&"finalize");
    if !uploading && !finalizing {
        return ended(bad(
            "X-Goog-Upload-Command must be upload, finalize, 'upload, finalize', query or cancel.",
        ));
    }
    let mut upload = upload;
    // The last chunk of a finalizing command is joined from memory, not
    // stored as a part and read back.
    let mut last_chunk = None;
    if uploading {
        let Some(offset) = header(headers, "x-goog-upload-offset")
            .and_then(|offset| offset.trim().parse::<u64>().ok())
        else {
            return ended(bad("X-Goog-Upload-Offset (a whole number) is required."));
        };
        let limit = usize::try_from(upload.bytes - upload.received.min(upload.bytes))
            .unwrap_or(usize::MAX)
            .max(1);
        let bytes = match read_limited(body, limit).await {
            Ok(bytes) => bytes,
            Err(error) => return ended(error),
        };
        let completes = offset == upload.received && offset + bytes.len() as u64 == upload.bytes;
        if finalizing && completes {
            last_chunk = Some(bytes);
        } else {
            upload = match files.add_part(&upload, bytes, Some(offset), now).await {
                Ok((_, upload)) => upload,
                Err(FileError::WrongOffset { received }) => {
                    return wrong_offset(offset, received);
                }
                Err(error) => return ended(error.into()),
            };
        }
    }
    if !finalizing {
        return status_of(&upload);
    }
    let rules = match rules_of(state, files, &upload).await {
        Ok(rules) => rules,
        Err(error) => return ended(error.into()),
    };
    let name = match sent.name.as_deref().map(file_id).transpose() {
        Ok(name) => name,
        Err(error) => return ended(error),
    };
    match files
        .complete(
            &upload,
            PartOrder::Offsets { last_chunk },
            &rules,
            name,
            now,
        )
        .await
    {
        Ok((done, file)) => {
            let mut response =
                axum::Json(json!({"file": file_resource(&file, sent.version, headers)}))
                    .into_response();
            set_status(&mut response, &done);
            response
        }
        Err(error) => ended(error.into()),
    }
}

/// The rules of the upload's project, as they are now (the chunks carry
/// no key to read them from).
async fn rules_of(
    state: &AppState,
    files: &Files,
    upload: &StoredUpload,
) -> Result<FileRules, FileError> {
    let project = match &upload.project_id {
        None => None,
        Some(id) => state.config().store.project_by_id(id).await?,
    };
    Ok(files.rules(project.as_ref().and_then(|p| p.settings.files.as_ref())))
}

/// `GET /{version}/files`.
pub async fn list(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let version = version_of(&uri);
    let query = uri.query();
    let listed = async {
        let (files, _) = files_for(&state, &context)?;
        let mut page_size = DEFAULT_PAGE;
        let mut after = None;
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "pageSize" | "page_size" => {
                    page_size = value
                        .parse::<u32>()
                        .map_err(|_| bad("pageSize must be a whole number."))?
                        .clamp(1, MAX_PAGE)
                }
                "pageToken" | "page_token" if !value.is_empty() => {
                    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(value.as_bytes())
                        .ok()
                        .and_then(|token| String::from_utf8(token).ok())
                        .ok_or_else(|| bad("pageToken is not one this API gave."))?;
                    after = Some(token);
                }
                _ => {}
            }
        }
        let page = files
            .list(&FileListing {
                project: owner(&context),
                purpose: None,
                after: after.as_deref(),
                limit: page_size + 1,
                newest_first: true,
                now_ms: now_ms(),
            })
            .await?;
        let shown = &page[..page.len().min(page_size as usize)];
        let mut body = Map::new();
        if !shown.is_empty() {
            body.insert(
                "files".into(),
                shown
                    .iter()
                    .map(|file| file_resource(file, version, &headers))
                    .collect(),
            );
        }
        if page.len() > shown.len()
            && let Some(last) = shown.last()
        {
            body.insert(
                "nextPageToken".into(),
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(&last.id)
                    .into(),
            );
        }
        Ok(Value::Object(body))
    };
    answer(listed.await)
}

/// `GET /{version}/files/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let found = async {
        let (files, _) = files_for(&state, &context)?;
        let file = files.get(owner(&context), &name, now_ms()).await?;
        Ok(file_resource(&file, version_of(&uri), &headers))
    };
    answer(found.await)
}

/// `DELETE /{version}/files/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(name): Path<String>,
) -> Response {
    let deleted = async {
        let (files, _) = files_for(&state, &context)?;
        files.delete(owner(&context), &name, now_ms()).await?;
        Ok(json!({}))
    };
    answer(deleted.await)
}

/// The API version a path names: its first segment after `/upload`.
fn version_of(uri: &Uri) -> &str {
    let path = uri.path();
    let path = path.strip_prefix("/upload").unwrap_or(path);
    path.split('/').nth(1).unwrap_or("v1beta")
}

/// A file as Gemini describes it.
fn file_resource(file: &StoredFile, version: &str, headers: &HeaderMap) -> Value {
    let created = rfc3339(file.created_at_ms);
    let mut resource = json!({
        "name": format!("files/{}", file.id),
        "mimeType": file.content_type,
        "sizeBytes": file.bytes.to_string(),
        "createTime": created,
        "updateTime": created,
        "sha256Hash": base64::engine::general_purpose::STANDARD.encode(&file.sha256),
        "uri": format!("{}/{version}/files/{}", crate::surface::origin(headers), file.id),
        "state": "ACTIVE",
        "source": "UPLOADED",
    });
    if !file.filename.is_empty() {
        resource["displayName"] = file.filename.clone().into();
    }
    if let Some(expires) = file.expires_at_ms {
        resource["expirationTime"] = rfc3339(expires).into();
    }
    resource
}

/// A file name as the client gave it (`files/abc` or `abc`), as an id:
/// lowercase letters, digits and dashes, at most 40, not at either end.
fn file_id(name: &str) -> Result<String, ApiError> {
    let id = name.strip_prefix("files/").unwrap_or(name);
    let valid = !id.is_empty()
        && id.len() <= 40
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    match valid {
        true => Ok(id.to_string()),
        false => Err(bad(&format!(
            "The file name '{name}' is not valid: use files/ and up to 40 lowercase letters, \
             digits and dashes, not starting or ending with a dash."
        ))),
    }
}

/// The upload's status as the resumable protocol says it.
fn status_of(upload: &StoredUpload) -> Response {
    let mut response = StatusCode::OK.into_response();
    set_status(&mut response, upload);
    response
}

fn set_status(response: &mut Response, upload: &StoredUpload) {
    let status = match upload.state {
        UploadState::Pending | UploadState::Completing => "active",
        UploadState::Completed => "final",
        UploadState::Cancelled | UploadState::Expired => "cancelled",
    };
    let headers = response.headers_mut();
    headers.insert("x-goog-upload-status", HeaderValue::from_static(status));
    headers.insert(
        "x-goog-upload-size-received",
        HeaderValue::from(upload.received),
    );
}

/// A chunk sent at the wrong place: the upload stays open, and the client
/// is told where to go on from.
fn wrong_offset(offset: u64, received: u64) -> Response {
    let mut response = bad(&format!(
        "The chunk's offset {offset} is not the {received} bytes received so far; \
         send X-Goog-Upload-Command: query to resume."
    ))
    .into_response_for(Surface::Gemini);
    let headers = response.headers_mut();
    headers.insert("x-goog-upload-status", HeaderValue::from_static("active"));
    headers.insert("x-goog-upload-size-received", HeaderValue::from(received));
    response
}

/// An error that ends the upload for the client: `final`, so the SDK stops
/// sending chunks and raises it.
fn ended(error: ApiError) -> Response {
    let mut response = error.into_response_for(Surface::Gemini);
    response
        .headers_mut()
        .insert("x-goog-upload-status", HeaderValue::from_static("final"));
    response
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
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
