//! OpenAI's Responses API: the turn (whose history the conversations module
//! has already put in its `input`) passed to OpenAI-protocol providers with
//! the model renamed for an alias, its stream's events forwarded as they
//! come; translated for Gemini ones (by way of the chat translation, so a
//! conversation can move between a GPT and a Gemini model).

use airlock_providers::translate::responses::ResponsesStreamTranslator;
use airlock_providers::translate::{self, ChatStreamTranslator};
use airlock_providers::{UpstreamCall, usage};
use bytes::Bytes;
use serde_json::Value;

use super::chat::{gemini_generate, with_routed_model};
use super::{ClientRequest, Complete, Plan, Streamed, from_gemini};
use crate::body::parse_json_object;
use crate::clock::unix_secs;
use crate::error::ApiError;
use crate::framing::{GeminiToResponses, ResponsesSse};
use crate::routing::Route;

pub fn to_openai(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let stream = request.stream;
    let body = with_routed_model(request, route)?;
    Ok(Plan {
        call: UpstreamCall::OpenAiPost { path: "responses" },
        body,
        stream: stream.then(|| Streamed {
            framer: Box::new(ResponsesSse::default()),
            content_type: "text/event-stream",
        }),
        complete: Complete::Relay {
            usage: Some(usage::from_openai_responses),
        },
    })
}

pub fn to_gemini(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let responses = Value::Object(parse_json_object(&request.body)?);
    // The routed model decides how reasoning effort is said (level or budget).
    let translated =
        translate::responses::responses_request_to_gemini(&responses, &route.upstream_model)?;
    // The handler gives the answer its turn's id; this one is the translation's.
    let id = format!("resp_{}", uuid::Uuid::new_v4().simple());
    let created = unix_secs();
    let model = request.model;
    let stream = request.stream.then(|| Streamed {
        framer: Box::new(GeminiToResponses::new(
            ChatStreamTranslator::new(&model, &id, created, translated.include_usage),
            ResponsesStreamTranslator::new(&responses, &id, created),
        )),
        content_type: "text/event-stream",
    });
    Ok(Plan {
        call: gemini_generate(route, request.stream),
        body: Bytes::from(translated.body.to_string()),
        stream,
        complete: Complete::Translate(Box::new(move |status, body| {
            from_gemini(status, &body, |answer| {
                let usage = usage::from_gemini(&answer);
                let answer = translate::responses::gemini_response_to_responses(
                    &answer, &responses, &model, &id, created,
                );
                (answer, usage)
            })
        })),
    })
}
