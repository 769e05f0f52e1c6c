//! OpenAI's image and audio operations: passed through to OpenAI-protocol
//! providers (JSON bodies renamed for an alias, multipart forms encoded
//! again with the routed model), with the usage of their answers and
//! streams read by modality.

use airlock_providers::UpstreamCall;
use airlock_providers::usage::{self, Usage};
use bytes::Bytes;
use serde::Deserialize;

use super::chat::with_routed_model;
use super::{ClientRequest, Complete, Plan, Streamed, UsageReader};
use crate::error::ApiError;
use crate::framing::{AudioBytes, MediaSse};
use crate::routing::Route;

/// `images/generations`, streamed when asked (`image_generation.*` events).
pub fn image_generations_to_openai(
    request: ClientRequest,
    route: &Route,
) -> Result<Plan<'_>, ApiError> {
    let stream = request.stream.then(|| events(usage::from_openai_images));
    let body = with_routed_model(request, route)?;
    Ok(Plan {
        call: UpstreamCall::OpenAiPost {
            path: "images/generations",
        },
        body,
        body_type: None,
        stream,
        complete: Complete::Relay {
            usage: Some(usage::from_openai_images),
        },
    })
}

/// `images/edits`: the client's form, the model renamed for an alias.
pub fn image_edits_to_openai(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let stream = request.stream.then(|| events(usage::from_openai_images));
    let (body, body_type) = routed_form(request, route)?;
    Ok(Plan {
        call: UpstreamCall::OpenAiPost {
            path: "images/edits",
        },
        body,
        body_type: Some(body_type),
        stream,
        complete: Complete::Relay {
            usage: Some(usage::from_openai_images),
        },
    })
}

/// `audio/speech`: audio bytes relayed as they arrive, or (with
/// `stream_format: "sse"`) `speech.audio.*` events.
pub fn speech_to_openai(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let asked: SpeechFormat = serde_json::from_slice(&request.body).unwrap_or_default();
    let stream = match asked.stream_format.as_deref() {
        Some("sse") => events(usage::from_openai_speech),
        _ => Streamed {
            framer: Box::new(AudioBytes {
                usage: characters_billed(&route.upstream_model, asked.input.as_deref()),
            }),
            content_type: audio_type(asked.response_format.as_deref()),
        },
    };
    let body = with_routed_model(request, route)?;
    Ok(Plan {
        call: UpstreamCall::OpenAiPost {
            path: "audio/speech",
        },
        body,
        body_type: None,
        stream: Some(stream),
        complete: Complete::Relay { usage: None },
    })
}

/// `audio/transcriptions`: the client's form, the model renamed for an
/// alias; streamed as `transcript.text.*` events when asked.
pub fn transcriptions_to_openai(
    request: ClientRequest,
    route: &Route,
) -> Result<Plan<'_>, ApiError> {
    let stream = request
        .stream
        .then(|| events(usage::from_openai_transcription));
    let (body, body_type) = routed_form(request, route)?;
    Ok(Plan {
        call: UpstreamCall::OpenAiPost {
            path: "audio/transcriptions",
        },
        body,
        body_type: Some(body_type),
        stream,
        complete: Complete::Relay {
            usage: Some(usage::from_openai_transcription),
        },
    })
}

/// What a speech request asks of its answer's form, and its text.
#[derive(Deserialize, Default)]
struct SpeechFormat {
    input: Option<String>,
    response_format: Option<String>,
    stream_format: Option<String>,
}

/// The usage of a `tts-1` or `tts-1-hd` call, which OpenAI bills by the
/// input's characters (the price table's input rate is per million
/// characters) and reports nothing of. Other speech models report their
/// tokens only in SSE streams; as audio bytes their usage is unknown.
fn characters_billed(model: &str, input: Option<&str>) -> Option<Usage> {
    let billed_by_character = model == "tts-1" || model.starts_with("tts-1-");
    billed_by_character.then(|| Usage {
        input: Some(input.map_or(0, |text| text.chars().count() as u64)),
        ..Usage::default()
    })
}

/// The content type OpenAI answers speech in, by `response_format`
/// (mp3 when not given; an unknown format is the provider's 400, never
/// a success).
pub fn audio_type(response_format: Option<&str>) -> &'static str {
    match response_format {
        Some("opus") => "audio/opus",
        Some("aac") => "audio/aac",
        Some("flac") => "audio/flac",
        Some("wav") => "audio/wav",
        Some("pcm") => "audio/pcm",
        _ => "audio/mpeg",
    }
}

/// OpenAI media events relayed with their usage read by `read_usage`.
fn events(read_usage: UsageReader) -> Streamed {
    Streamed {
        framer: Box::new(MediaSse::new(read_usage)),
        content_type: "text/event-stream",
    }
}

/// A multipart request's body as sent upstream, with its content type.
fn routed_form(
    request: ClientRequest,
    route: &Route,
) -> Result<(Bytes, http::HeaderValue), ApiError> {
    let upload = request.upload.ok_or(ApiError::Internal)?;
    let body = match route.upstream_model == request.model {
        true => request.body,
        false => upload.with_text("model", &route.upstream_model),
    };
    Ok((body, upload.content_type.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tts_1_is_billed_by_the_characters_of_its_input() {
        let usage = characters_billed("tts-1-hd", Some("héllo")).unwrap();
        assert_eq!(usage.input, Some(5));
        assert_eq!(characters_billed("tts-1", None).unwrap().input, Some(0));
        assert_eq!(characters_billed("gpt-4o-mini-tts", Some("hello")), None);
    }

    #[test]
    fn speech_content_types_follow_the_asked_format() {
        assert_eq!(audio_type(None), "audio/mpeg");
        assert_eq!(audio_type(Some("mp3")), "audio/mpeg");
        assert_eq!(audio_type(Some("wav")), "audio/wav");
        assert_eq!(audio_type(Some("pcm")), "audio/pcm");
        assert_eq!(audio_type(Some("opus")), "audio/opus");
    }
}
