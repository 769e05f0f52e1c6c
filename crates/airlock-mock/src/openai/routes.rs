//! OpenAI's REST surface: `POST /v1/chat/completions`,
//! `POST /v1/embeddings`, `GET /v1/models[/{id}]`.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use serde_json::Value;

use super::catalog::{self, Kind};
use super::completion::Completion;
use super::{caching, embeddings, errors, params, request, validate};
use crate::body::{self, BodyError};
use crate::delivery::Payload;
use crate::prng::Digest;
use crate::routes::Call;

/// A 200 JSON answer with the headers OpenAI always sends.
pub(super) fn success(call: &Call<'_>, value: &Value) -> Payload {
    let bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    with_openai_headers(
        call,
        Payload::json(StatusCode::OK, "application/json", bytes),
    )
}

pub(super) fn with_openai_headers(call: &Call<'_>, payload: Payload) -> Payload {
    let id = Digest::new(call.server.seed())
        .part("request-id")
        .number(call.serial)
        .value();
    let request_id = HeaderValue::from_str(&format!("req_{id:016x}{:016x}", call.serial)).ok();
    let payload = payload.with_header("openai-version", HeaderValue::from_static("2020-10-01"));
    match request_id {
        Some(v) => payload.with_header("x-request-id", v),
        None => payload,
    }
}

pub(super) fn wrong_method(call: &Call<'_>, allowed: Method) -> Option<Payload> {
    (call.parts.method != allowed)
        .then(|| errors::invalid_method(call.parts.method.as_str(), call.parts.uri.path()))
}

pub(super) async fn read(call: &Call<'_>, body: Body) -> Result<Value, Payload> {
    match body::read_json(call, body).await {
        Ok(v) => Ok(v),
        Err(BodyError::TooLarge) => Err(errors::too_large()),
        Err(BodyError::Empty | BodyError::Unreadable | BodyError::Malformed(_)) => {
            Err(errors::unparsable_body())
        }
    }
}

pub async fn chat(call: &Call<'_>, body: Body) -> Payload {
    if let Some(p) = wrong_method(call, Method::POST) {
        return p;
    }
    let body = match read(call, body).await {
        Ok(b) => b,
        Err(p) => return p,
    };
    if let Err(e) = validate::check(params::CHAT_COMPLETION, &body) {
        return e.payload();
    }
    let name = body["model"].as_str().unwrap_or("");
    let Some(model) = catalog::find(name) else {
        return errors::model_not_found(name);
    };
    if !matches!(model.kind, Kind::Chat { .. }) {
        return errors::wrong_endpoint("v1/chat/completions");
    }
    if let Err(e) = super::checks::check(&body, model) {
        return e.payload();
    }
    let mut completion = Completion::new(&body, model, call.server.seed(), call.serial);
    completion.cached_tokens =
        caching::cached_tokens(call.server, model, &completion.prompt, |prefix| {
            request::read_prompt(&body, prefix);
        });
    if body["stream"] == Value::Bool(true) {
        let include_usage = body["stream_options"]["include_usage"] == Value::Bool(true);
        let events = completion
            .chunks(include_usage)
            .iter()
            .map(|c| Bytes::from(format!("data: {c}\n\n")))
            .collect();
        let done = Some(Bytes::from_static(b"data: [DONE]\n\n"));
        with_openai_headers(
            call,
            Payload::stream("text/event-stream; charset=utf-8", events, done),
        )
    } else {
        let pace = completion.chunks(false).len();
        success(call, &completion.whole()).paced(pace)
    }
}

pub async fn embeddings(call: &Call<'_>, body: Body) -> Payload {
    if let Some(p) = wrong_method(call, Method::POST) {
        return p;
    }
    let body = match read(call, body).await {
        Ok(b) => b,
        Err(p) => return p,
    };
    if let Err(e) = validate::check(params::EMBEDDINGS, &body) {
        return e.payload();
    }
    let name = body["model"].as_str().unwrap_or("");
    let Some(model) = catalog::find(name) else {
        return errors::model_not_found(name);
    };
    match embeddings::respond(&body, model, call.server.seed()) {
        Ok(v) => success(call, &v).paced(1),
        Err(e) => e.payload(),
    }
}

pub fn models(call: &Call<'_>, id: Option<&str>) -> Payload {
    if let Some(p) = wrong_method(call, Method::GET) {
        return p;
    }
    match id {
        None => success(call, &catalog::listing()),
        Some(id) => match catalog::find(id) {
            Some(m) => success(call, &m.object(id)),
            None => errors::model_not_found(id),
        },
    }
}

pub fn unknown_url(call: &Call<'_>) -> Payload {
    errors::invalid_url(call.parts.method.as_str(), call.parts.uri.path())
}
