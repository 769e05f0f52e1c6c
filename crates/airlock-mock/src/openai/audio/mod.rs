//! OpenAI's audio endpoints: `POST /v1/audio/speech` (JSON; module
//! `speech`) and `POST /v1/audio/transcriptions` (a `multipart/form-data`
//! form with a `file`, at most 25 MiB; module `transcription`), with the
//! audio containers the simulator writes and reads (`formats`, `flac`,
//! `mpeg`, `adts`, `ogg`, `listen`), the timing of transcripts (`timing`)
//! and Whisper's languages (`languages`); their tests read that audio back
//! through a real decoder (`decoding`).

pub mod adts;
#[cfg(test)]
mod decoding;
pub mod flac;
pub mod formats;
pub mod languages;
pub mod listen;
pub mod mpeg;
pub mod ogg;
pub mod speech;
pub mod timing;
pub mod transcription;

use axum::body::Body;
use http::{Method, StatusCode};

use self::transcription::Answer;
use super::routes::{read, success, with_openai_headers, wrong_method};
use super::{form, params, validate};
use crate::delivery::Payload;
use crate::routes::Call;

/// The largest transcription form (OpenAI's 25 MB limit, in its own bytes).
pub const TRANSCRIPTION_FORM_LIMIT: u64 = 26_214_400;

pub async fn speech(call: &Call<'_>, body: Body) -> Payload {
    if let Some(p) = wrong_method(call, Method::POST) {
        return p;
    }
    let body = match read(call, body).await {
        Ok(b) => b,
        Err(p) => return p,
    };
    if let Err(e) = validate::check(params::SPEECH, &body) {
        return e.payload();
    }
    match speech::check(&body) {
        Ok(speech) => with_openai_headers(
            call,
            Payload::stream(speech.content_type(), speech.body(), None),
        ),
        Err(p) => p,
    }
}

pub async fn transcriptions(call: &Call<'_>, body: Body) -> Payload {
    if let Some(p) = wrong_method(call, Method::POST) {
        return p;
    }
    let form = match form::read(call, body, params::TRANSCRIPTION, TRANSCRIPTION_FORM_LIMIT).await {
        Ok(f) => f,
        Err(p) => return p,
    };
    let checked = validate::check(params::TRANSCRIPTION, &form.body)
        .and_then(|()| transcription::check(&form, call.server.seed()));
    let transcription = match checked {
        Ok(t) => t,
        Err(e) => return e.payload(),
    };
    let pace = transcription.text.split(' ').count().div_ceil(8);
    match transcription.answer() {
        Answer::Json(value) => success(call, &value).paced(pace),
        Answer::Text(text) => with_openai_headers(
            call,
            Payload::json(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                text.into_bytes(),
            ),
        )
        .paced(pace),
        Answer::Events(events) => with_openai_headers(
            call,
            Payload::stream("text/event-stream; charset=utf-8", events, None),
        ),
    }
}
