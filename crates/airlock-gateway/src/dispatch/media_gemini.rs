//! OpenAI's image and audio operations for a Gemini model, translated
//! (`airlock_providers::translate`): `images.generate` and `images.edit`
//! for an image model, `audio.speech` for a TTS model (PCM wrapped as
//! WAV or FLAC, or streamed as `speech.audio.*` events), transcription by
//! a model that understands audio.

use airlock_providers::media::sniff_image;
use airlock_providers::translate::{
    self, FormFile, ImageEditForm, ImageTranslation, MediaAnswerError, TranscriptionForm,
};
use airlock_providers::usage::{self, Usage};
use airlock_providers::{UpstreamCall, gemini};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::Value;

use super::{ClientRequest, Complete, Plan, Streamed};
use crate::body::parse_json_object;
use crate::clock::unix_secs;
use crate::error::ApiError;
use crate::framing::GeminiToSpeechEvents;
use crate::multipart::Upload;
use crate::relay::Reply;
use crate::routing::Route;

pub fn image_generations(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let json = Value::Object(parse_json_object(&request.body)?);
    let translation = translate::openai_image_generation_to_gemini(&json, &route.upstream_model)?;
    Ok(images_plan(translation, route))
}

pub fn image_edits(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let form = edit_form(upload(&request)?)?;
    let translation = translate::openai_image_edit_to_gemini(&form, &route.upstream_model)?;
    Ok(images_plan(translation, route))
}

/// An image edit's form as the translation reads it: its text fields, and
/// its images and mask with the types their bytes say.
pub(crate) fn edit_form(upload: &Upload) -> Result<ImageEditForm, ApiError> {
    let file = |field: &crate::multipart::Field| FormFile {
        mime: sniff_image(&field.bytes).unwrap_or("application/octet-stream"),
        bytes: field.bytes.clone(),
    };
    Ok(ImageEditForm {
        fields: upload.form.text_fields()?,
        images: upload.form.all(&["image", "image[]"]).map(file).collect(),
        mask: upload.form.all(&["mask"]).next().map(file),
    })
}

fn images_plan(translation: ImageTranslation, route: &Route) -> Plan<'_> {
    let body = translation.body.to_string();
    complete_plan(route, body, move |answer| {
        let created = i64::try_from(unix_secs()).unwrap_or(i64::MAX);
        translate::gemini_images_to_openai(answer, created, &translation)
            .map(|value| (value.to_string().into_bytes(), "application/json"))
    })
}

pub fn speech(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let json = Value::Object(parse_json_object(&request.body)?);
    let translation = translate::openai_speech_to_gemini(&json)?;
    let body = translation.body.to_string();
    if translation.sse {
        return Ok(Plan {
            call: UpstreamCall::GeminiModelMethod {
                version: gemini::API_VERSION,
                model: &route.upstream_model,
                method: "streamGenerateContent",
            },
            body: Bytes::from(body),
            body_type: None,
            stream: Some(Streamed {
                framer: Box::new(GeminiToSpeechEvents::new()),
                content_type: "text/event-stream",
            }),
            complete: Complete::Translate(Box::new(|status, body| {
                from_gemini(status, &body, |_| {
                    Err(MediaAnswerError::Unreadable(
                        "a stream answered as one body".into(),
                    ))
                })
            })),
        });
    }
    Ok(complete_plan(route, body, move |answer| {
        translate::gemini_speech_to_openai(answer, &translation)
    }))
}

pub fn transcriptions(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let form = transcription_form(upload(&request)?)?;
    let translation = translate::openai_transcription_to_gemini(&form)?;
    Ok(complete_plan(
        route,
        translation.body.to_string(),
        move |answer| translate::gemini_transcript_to_openai(answer, &translation),
    ))
}

/// A transcription's form as the translation reads it: its text fields,
/// and its file with the type its bytes say.
pub(crate) fn transcription_form(upload: &Upload) -> Result<TranscriptionForm, ApiError> {
    let file = upload
        .form
        .all(&["file"])
        .next()
        .ok_or_else(|| ApiError::BadRequest {
            message: "Missing required parameter: 'file'.".into(),
            param: Some("file".into()),
        })?;
    Ok(TranscriptionForm {
        fields: upload.form.text_fields()?,
        file: FormFile {
            mime: airlock_providers::media::sniff_audio(&file.bytes)
                .unwrap_or("application/octet-stream"),
            bytes: file.bytes.clone(),
        },
    })
}

/// A `generateContent` call with `body`, its complete answer read by
/// `read` into the bytes the client gets and their content type.
fn complete_plan(
    route: &Route,
    body: String,
    read: impl FnOnce(&Value) -> Result<(Vec<u8>, &'static str), MediaAnswerError> + Send + 'static,
) -> Plan<'_> {
    Plan {
        call: UpstreamCall::GeminiModelMethod {
            version: gemini::API_VERSION,
            model: &route.upstream_model,
            method: "generateContent",
        },
        body: Bytes::from(body),
        body_type: None,
        stream: None,
        complete: Complete::Translate(Box::new(move |status, body| {
            from_gemini(status, &body, read)
        })),
    }
}

fn upload(request: &ClientRequest) -> Result<&Upload, ApiError> {
    request.upload.as_deref().ok_or(ApiError::Internal)
}

/// A complete Gemini answer for an OpenAI media client: an error answer
/// through the one error translation; a success through `answer` (its
/// bytes and their type), with the usage Gemini reported; media the model
/// did not give (blocked, or text only) is OpenAI's 400 saying why.
fn from_gemini(
    status: StatusCode,
    body: &[u8],
    answer: impl FnOnce(&Value) -> Result<(Vec<u8>, &'static str), MediaAnswerError>,
) -> Result<Reply, ApiError> {
    if !status.is_success() {
        return Ok(Reply::json(
            status,
            &translate::gemini_error_to_openai(status.as_u16(), body),
        ));
    }
    let gemini: Value = serde_json::from_slice(body).map_err(|_| ApiError::BadUpstreamAnswer)?;
    let usage: Option<Usage> = usage::from_gemini(&gemini);
    match answer(&gemini) {
        Ok((body, "application/json")) => Ok(Reply::Json {
            status,
            body: Bytes::from(body),
            usage,
        }),
        Ok((body, content_type)) => Ok(Reply::Body {
            status,
            body: Bytes::from(body),
            content_type: HeaderValue::from_static(content_type),
            usage,
        }),
        Err(MediaAnswerError::Refused(error)) => Ok(Reply::json(StatusCode::BAD_REQUEST, &error)),
        Err(MediaAnswerError::Unreadable(reason)) => {
            tracing::warn!(reason, "a Gemini media answer could not be read");
            Err(ApiError::BadUpstreamAnswer)
        }
    }
}
