//! OpenAI's Responses API: the turn (whose history the conversations module
//! has already put in its `input`) passed to OpenAI with the model renamed
//! for an alias, its stream's events forwarded as they come; sent as a chat
//! completion to OpenAI-compatible servers (which serve chat completions,
//! not always the Responses API); translated for Gemini ones, so a
//! conversation can move between any of them.

use airlock_providers::translate::responses::ResponsesStreamTranslator;
use airlock_providers::translate::{self, ChatStreamTranslator};
use airlock_providers::{ProviderKind, UpstreamCall, usage};
use bytes::Bytes;
use serde_json::{Value, json};

use super::chat::{gemini_generate, with_routed_model};
use super::{ClientRequest, Complete, Plan, Streamed, from_gemini};
use crate::body::parse_json_object;
use crate::clock::unix_secs;
use crate::error::ApiError;
use crate::framing::{ChatToResponses, GeminiToResponses, ResponsesSse};
use crate::relay::Reply;
use crate::routing::Route;

pub fn to_openai(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    if route.provider.kind() == ProviderKind::OpenaiCompatible {
        return to_chat_completions(request, route);
    }
    let stream = request.stream;
    let body = with_routed_model(request, route)?;
    Ok(Plan {
        call: UpstreamCall::OpenAiPost { path: "responses" },
        body,
        body_type: None,
        stream: stream.then(|| Streamed {
            framer: Box::new(ResponsesSse::default()),
            content_type: "text/event-stream",
        }),
        complete: Complete::Relay {
            usage: Some(usage::from_openai_responses),
        },
    })
}

/// The turn as a chat completion, its answer (or stream) back as a
/// Responses object (or its typed events).
fn to_chat_completions(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let responses = Value::Object(parse_json_object(&request.body)?);
    let mut chat = translate::responses::responses_request_to_chat(&responses)?;
    chat["model"] = Value::String(route.upstream_model.clone());
    if request.stream {
        chat["stream"] = Value::Bool(true);
        chat["stream_options"] = json!({"include_usage": true});
    }
    let id = format!("resp_{}", uuid::Uuid::new_v4().simple());
    let created = unix_secs();
    let stream = request.stream.then(|| Streamed {
        framer: Box::new(ChatToResponses::new(ResponsesStreamTranslator::new(
            &responses, &id, created,
        ))),
        content_type: "text/event-stream",
    });
    Ok(Plan {
        call: UpstreamCall::OpenAiPost {
            path: "chat/completions",
        },
        body: Bytes::from(chat.to_string()),
        body_type: None,
        stream,
        complete: Complete::Translate(Box::new(move |status, body| {
            if !status.is_success() {
                // The server's error, in OpenAI's shape already.
                return Ok(Reply::Json {
                    status,
                    body,
                    usage: None,
                });
            }
            let chat: Value =
                serde_json::from_slice(&body).map_err(|_| ApiError::BadUpstreamAnswer)?;
            let answer =
                translate::responses::chat_response_to_responses(&chat, &responses, &id, created);
            Ok(Reply::Json {
                status,
                body: Bytes::from(answer.to_string()),
                usage: usage::from_openai(&chat),
            })
        })),
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
        body_type: None,
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
