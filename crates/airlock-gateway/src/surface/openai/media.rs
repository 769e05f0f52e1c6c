//! OpenAI's image and audio routes: `/v1/images/generations`,
//! `/v1/images/edits` (multipart), `/v1/audio/speech` and
//! `/v1/audio/transcriptions` (multipart), read into a `ClientRequest`
//! and served through the dispatch seam. The files of a form are sniffed:
//! bytes that are not the image or audio a field takes are refused here,
//! whatever type the client declared.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;

use super::{client_request, required_model, serve_read};
use crate::admission::RequestCost;
use crate::body::read_json_bytes;
use crate::context::RequestContext;
use crate::dispatch::{ClientRequest, Operation, dispatch};
use crate::error::{ApiError, Surface};
use crate::exchange::Exchange;
use crate::multipart::{Upload, read_upload};
use crate::relay::respond;
use crate::state::AppState;
use crate::surface::media::{AnswerShape, as_urls};

/// `POST /v1/images/generations`.
pub async fn image_generations(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let operation = Operation::ImageGenerations;
    let read = async {
        let bytes = read_json_bytes(&headers, body, state.config().max_body_bytes).await?;
        client_request(bytes, operation)
    };
    let request = read.await;
    let asked_urls = request
        .as_ref()
        .is_ok_and(|r| asks_for_urls(serde_json::from_slice(&r.body).ok()));
    serve_images(&state, &context, &headers, operation, request, asked_urls).await
}

/// What an images request asks of its answer's form.
#[derive(serde::Deserialize)]
struct ImagesFormat {
    response_format: Option<String>,
}

fn asks_for_urls(format: Option<ImagesFormat>) -> bool {
    format.and_then(|f| f.response_format).as_deref() == Some("url")
}

fn form_asks_for_urls(request: &ClientRequest) -> bool {
    let Some(upload) = &request.upload else {
        return false;
    };
    matches!(upload.form.text("response_format"), Ok(Some("url")))
}

/// `POST /v1/audio/speech`: the answer is always relayed as it arrives
/// (audio bytes, or `speech.audio.*` events).
pub async fn speech(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let operation = Operation::Speech;
    let read = async {
        let bytes = read_json_bytes(&headers, body, state.config().max_body_bytes).await?;
        let mut request = client_request(bytes, operation)?;
        request.stream = true;
        Ok(request)
    };
    serve_read(&state, &context, operation, read.await).await
}

/// `POST /v1/images/edits`.
pub async fn image_edits(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let operation = Operation::ImageEdits;
    let request = form_request(&state, &headers, body, operation, check_edit_files).await;
    let asked_urls = request.as_ref().is_ok_and(form_asks_for_urls);
    serve_images(&state, &context, &headers, operation, request, asked_urls).await
}

/// `POST /v1/audio/transcriptions`.
pub async fn transcriptions(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let operation = Operation::Transcriptions;
    let read = form_request(&state, &headers, body, operation, check_audio_file);
    serve_read(&state, &context, operation, read.await).await
}

/// Serves an images request; its answer's images as URLs when asked
/// ([`as_urls`]).
async fn serve_images(
    state: &AppState,
    context: &RequestContext,
    headers: &HeaderMap,
    operation: Operation,
    request: Result<ClientRequest, ApiError>,
    asked_urls: bool,
) -> Response {
    let mut exchange = Exchange::begin(state, context, Surface::OpenAi, operation.name());
    let result = match request {
        Ok(request) => dispatch(request, &mut exchange).await,
        Err(error) => Err(error),
    };
    let shape = AnswerShape::OpenAiImages;
    let asking = (context, headers);
    let result = as_urls(state, asking, &mut exchange, shape, asked_urls, result).await;
    respond(Surface::OpenAi, exchange, result).await
}

/// A multipart request: its form read within the size limit, its files
/// checked by `check_files`, its model and stream flag read.
async fn form_request(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    operation: Operation,
    check_files: fn(&Upload) -> Result<(), ApiError>,
) -> Result<ClientRequest, ApiError> {
    let (bytes, upload) = read_upload(headers, body, state.config().max_body_bytes).await?;
    check_files(&upload)?;
    let model = required_model(upload.form.text("model")?.map(|m| m.into()))?;
    let stream = upload.form.text("stream")?.is_some_and(|s| s == "true");
    Ok(ClientRequest {
        operation,
        model,
        cost: RequestCost {
            body_len: bytes.len(),
            max_output: None,
        },
        body: bytes,
        upload: Some(Arc::new(upload)),
        stream,
        gemini_version: airlock_providers::gemini::API_VERSION,
        gemini_sse: false,
    })
}

/// An edit's `image` (or `image[]`) files and its `mask` must be images.
fn check_edit_files(upload: &Upload) -> Result<(), ApiError> {
    let images: Vec<_> = upload.form.all(&["image", "image[]"]).collect();
    if images.is_empty() {
        return Err(ApiError::BadRequest {
            message: "Missing required parameter: 'image'.".into(),
            param: Some("image".into()),
        });
    }
    for (index, field) in images.iter().enumerate() {
        if airlock_providers::media::sniff_image(&field.bytes).is_none() {
            return Err(ApiError::BadRequest {
                message: format!(
                    "Invalid image file for image {}: its bytes are not a PNG, JPEG, WebP or GIF image.",
                    index + 1
                ),
                param: Some("image".into()),
            });
        }
    }
    if let Some(mask) = upload.form.all(&["mask"]).next()
        && airlock_providers::media::sniff_image(&mask.bytes) != Some("image/png")
    {
        return Err(ApiError::BadRequest {
            message: "Invalid mask: its bytes are not a PNG image.".into(),
            param: Some("mask".into()),
        });
    }
    Ok(())
}

/// A transcription's `file` must be audio (or a video container with it).
fn check_audio_file(upload: &Upload) -> Result<(), ApiError> {
    let Some(file) = upload.form.all(&["file"]).next() else {
        return Err(ApiError::BadRequest {
            message: "Missing required parameter: 'file'.".into(),
            param: Some("file".into()),
        });
    };
    if airlock_providers::media::sniff_audio(&file.bytes).is_none() {
        return Err(ApiError::BadRequest {
            message: "Invalid file format: its bytes are not audio of a supported format (flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm).".into(),
            param: Some("file".into()),
        });
    }
    Ok(())
}
