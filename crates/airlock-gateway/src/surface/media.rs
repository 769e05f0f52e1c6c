//! Media's HTTP side: answers whose media is handed out as URLs
//! ([`as_urls`]), and `GET /media/{id}`, stored media for whoever holds
//! a signed URL (no client key: a browser or a CDN fetches it). The signature is checked
//! first; then the object (or the resized variant asked for, made and
//! kept on first request) is served with its type, an ETag (the id is
//! the content's hash, so it never changes), `Cache-Control: public,
//! immutable` for as long as the URL is valid, and single byte ranges.

use airlock_store::BlobError;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use crate::clock::unix_secs;
use crate::connections::FileSends;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::exchange::Exchange;
use crate::media::answers::{self, Linker, origin, wants_urls};
use crate::media::hot::HotObject;
use crate::media::range::{Wanted, wanted};
use crate::media::{
    MadeBy, Media, MediaError, Variant, VariantFailure, VariantFormat, content_type_of_id,
    object_key, variant_key,
};
use crate::relay::Reply;
use crate::state::AppState;

/// Which shape of answer carries the media.
#[derive(Debug, Clone, Copy)]
pub enum AnswerShape {
    /// OpenAI's images answer: `data[].b64_json` becomes `url`.
    OpenAiImages,
    /// A Gemini `GenerateContentResponse`: `inlineData` parts become
    /// `fileData` parts.
    GeminiContent,
}

/// A successful answer with its media stored and given as URLs, when the
/// request asked for URLs (`x-airlock-media: url`, or `asked_urls`: the
/// request's own `response_format: "url"`) or media is configured to be
/// handed out as URLs; any other answer as it is. A media store that
/// fails is a 503: no answer goes out with media missing. The stored
/// objects' digests go to the request's receipt.
pub async fn as_urls(
    state: &AppState,
    (context, headers): (&RequestContext, &HeaderMap),
    exchange: &mut Exchange,
    shape: AnswerShape,
    asked_urls: bool,
    result: Result<Reply, ApiError>,
) -> Result<Reply, ApiError> {
    let Some(media) = state.media() else {
        return result;
    };
    let project = context.principal.grant();
    let project = project.and_then(|grant| grant.project.settings.media_answers);
    if !asked_urls && !wants_urls(media, headers, project) {
        return result;
    }
    let (status, body, usage) = match result? {
        Reply::Json {
            status,
            body,
            usage,
        } if status.is_success() => (status, body, usage),
        other => return Ok(other),
    };
    let mut answer: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| ApiError::BadUpstreamAnswer)?;
    let record = exchange.record();
    let made_by = MadeBy {
        request_id: Some(record.id.clone()),
        project_id: record.project_id.clone(),
        end_user: record.end_user.clone(),
    };
    let origin = origin(headers);
    let linker = Linker {
        media,
        origin: &origin,
        made_by: &made_by,
    };
    let stored = match shape {
        AnswerShape::OpenAiImages => answers::openai_images(&linker, &mut answer).await,
        AnswerShape::GeminiContent => answers::gemini_parts(&linker, &mut answer).await,
    };
    match stored {
        Ok(stored) => {
            exchange.claim_media(stored.into_iter().map(|object| object.sha256));
            Ok(Reply::Json {
                status,
                body: answer.to_string().into(),
                usage,
            })
        }
        Err(MediaError::UnknownType(content_type)) => {
            tracing::warn!(
                content_type,
                "an answer held media of a type that is not stored"
            );
            Err(ApiError::BadUpstreamAnswer)
        }
        Err(MediaError::Blob(error)) => {
            tracing::warn!(%error, "storing an answer's media failed");
            Err(ApiError::MediaUnavailable)
        }
    }
}

/// A media URL's query.
#[derive(Deserialize)]
pub struct MediaQuery {
    exp: Option<String>,
    sig: Option<String>,
    w: Option<String>,
    format: Option<String>,
}

/// `GET /media/{id}` (and `HEAD`, which axum answers from it).
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<MediaQuery>,
    sends: Option<Extension<FileSends>>,
    headers: HeaderMap,
) -> Response {
    let Some(media) = state.media() else {
        return Refusal::new(StatusCode::NOT_FOUND, "Media storage is not configured.")
            .into_response();
    };
    let sends = sends.as_ref().map(|Extension(sends)| sends);
    match serve(media, &id, &query, &headers, sends).await {
        Ok(response) => response,
        Err(refused) => refused.into_response(),
    }
}

async fn serve(
    media: &Media,
    id: &str,
    query: &MediaQuery,
    headers: &HeaderMap,
    sends: Option<&FileSends>,
) -> Result<Response, Refusal> {
    let not_found = || Refusal::new(StatusCode::NOT_FOUND, "No such media.");
    let original_type = content_type_of_id(id).ok_or_else(not_found)?;
    let variant = variant_of(media, query, original_type)?;
    let now = unix_secs();
    let expires = media
        .signer()
        .check(
            id,
            variant.as_ref(),
            query.exp.as_deref(),
            query.sig.as_deref(),
            now,
        )
        .map_err(|error| Refusal::new(StatusCode::FORBIDDEN, error.message()))?;
    let (key, content_type, etag) = match &variant {
        Some(v) => (
            variant_key(id, v),
            v.format.content_type(),
            format!("\"{id}-w{}.{}\"", v.width, v.format.name()),
        ),
        None => (object_key(id), original_type, format!("\"{id}\"")),
    };
    let mut response_headers = HeaderMap::new();
    let cache = format!("public, max-age={}, immutable", expires - now);
    for (name, value) in [
        (header::CONTENT_TYPE, content_type.to_string()),
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, cache),
        (header::ACCEPT_RANGES, "bytes".to_string()),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response_headers.insert(name, value);
        }
    }
    if none_match(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    if let Some(variant) = variant {
        media
            .make_variant(id, variant)
            .await
            .map_err(|failure| match failure {
                VariantFailure::Blob(error) => Refusal::of_blob(&error),
                VariantFailure::Render(error) => {
                    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
                }
                VariantFailure::Interrupted => {
                    Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
                }
            })?;
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    if let Some(object) = media.hot().get(&key) {
        return from_memory(&object, range, response_headers, sends);
    }
    let (status, range) = match range {
        None => (StatusCode::OK, None),
        Some(range) => {
            let size = media
                .blobs()
                .head(&key)
                .await
                .map_err(|error| Refusal::of_blob(&error))?
                .size;
            match wanted(Some(range), size) {
                Wanted::Whole => (StatusCode::OK, None),
                Wanted::Part(part) => (StatusCode::PARTIAL_CONTENT, Some(part)),
                Wanted::Unsatisfiable => return Err(Refusal::unsatisfiable(size)),
            }
        }
    };
    let object = match media.blobs().get(&key, range).await {
        Ok(object) => object,
        Err(error) => return Err(Refusal::of_blob(&error)),
    };
    if status == StatusCode::OK && media.hot().may_hold(object.size) {
        // Read whole once, then served from memory: the bytes behind an
        // id never change.
        let file = object.local_file();
        let bytes = object.bytes().await.map_err(|e| Refusal::of_blob(&e))?;
        let object = media.hot().keep(&key, bytes, file);
        return from_memory(&object, None, response_headers, sends);
    }
    let length = object.range.end - object.range.start;
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) = HeaderValue::from_str(&format!(
            "bytes {}-{}/{}",
            object.range.start,
            object.range.end.saturating_sub(1),
            object.size
        ))
    {
        response_headers.insert(header::CONTENT_RANGE, value);
    }
    let body = Body::from_stream(object.into_stream());
    Ok((status, response_headers, body).into_response())
}

/// An object held in memory, whole or the one range asked for; sent from
/// its file when the connection can (see [`FileSends`]).
fn from_memory(
    object: &HotObject,
    range: Option<&str>,
    mut headers: HeaderMap,
    sends: Option<&FileSends>,
) -> Result<Response, Refusal> {
    let bytes = object.bytes().clone();
    let size = bytes.len() as u64;
    if let (Some(sends), Some(file_bytes)) = (sends, object.file_bytes()) {
        sends.hold(file_bytes);
    }
    let (status, bytes) = match wanted(range, size) {
        Wanted::Whole => (StatusCode::OK, bytes),
        Wanted::Unsatisfiable => return Err(Refusal::unsatisfiable(size)),
        Wanted::Part(part) => {
            if let Ok(value) =
                HeaderValue::from_str(&format!("bytes {}-{}/{size}", part.start, part.end - 1))
            {
                headers.insert(header::CONTENT_RANGE, value);
            }
            let slice = bytes.slice(part.start as usize..part.end as usize);
            (StatusCode::PARTIAL_CONTENT, slice)
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Ok((status, headers, Body::from(bytes)).into_response())
}

/// The variant a query asks for: both `w` (one of the configured widths)
/// and `format`, of a picture; none when neither is given.
fn variant_of(
    media: &Media,
    query: &MediaQuery,
    original_type: &str,
) -> Result<Option<Variant>, Refusal> {
    let (width, format) = match (&query.w, &query.format) {
        (None, None) => return Ok(None),
        (Some(width), Some(format)) => (width, format),
        _ => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "A resized image needs both `w` and `format`.",
            ));
        }
    };
    if !original_type.starts_with("image/") {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "Only images can be resized.",
        ));
    }
    let widths = &media.settings().variant_widths;
    let width = width
        .parse::<u32>()
        .ok()
        .filter(|w| widths.contains(w))
        .ok_or_else(|| {
            let allowed: Vec<String> = widths.iter().map(u32::to_string).collect();
            Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("`w` must be one of {}.", allowed.join(", ")),
            )
        })?;
    let format = VariantFormat::parse(format).ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "`format` must be png, jpeg or webp.",
        )
    })?;
    Ok(Some(Variant { width, format }))
}

/// Whether `If-None-Match` names the ETag (or is `*`).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// Why a media request is refused: a status and a message, and for a
/// range outside the object, its size.
pub struct Refusal {
    status: StatusCode,
    message: String,
    size: Option<u64>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
            size: None,
        }
    }

    fn unsatisfiable(size: u64) -> Refusal {
        Refusal {
            size: Some(size),
            ..Refusal::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("The range asked for is outside the media's {size} bytes."),
            )
        }
    }

    fn of_blob(error: &BlobError) -> Refusal {
        match error {
            BlobError::NotFound | BlobError::InvalidKey(_) => {
                Refusal::new(StatusCode::NOT_FOUND, "No such media.")
            }
            BlobError::RangeNotSatisfiable { size } => Refusal::unsatisfiable(*size),
            BlobError::Unavailable { .. } | BlobError::Config { .. } => {
                tracing::warn!(%error, "media storage failed");
                Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Media storage is unavailable; retry shortly.",
                )
            }
        }
    }
}

impl IntoResponse for Refusal {
    /// `{"error": {"message", "code"}}`, with `Content-Range: bytes */size`
    /// for a range outside the object.
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({"error": {"message": self.message, "code": self.status.as_u16()}});
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(size) = self.size
            && let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            headers.insert(header::CONTENT_RANGE, value);
        }
        response
    }
}
