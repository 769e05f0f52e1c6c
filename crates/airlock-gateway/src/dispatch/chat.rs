//! OpenAI chat completions: passed through to OpenAI-protocol providers
//! (with the model renamed for an alias, and the usage chunk asked for),
//! translated for Gemini ones.

use airlock_providers::translate::{self, ChatStreamTranslator};
use airlock_providers::{UpstreamCall, gemini, usage};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{ClientRequest, Complete, Plan, Streamed, from_gemini};
use crate::body::parse_json_object;
use crate::clock::unix_secs;
use crate::error::ApiError;
use crate::framing::{GeminiToOpenAiChat, OpenAiSse};
use crate::routing::Route;

pub fn to_openai(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let mut inject_usage = false;
    // Most requests pass as the bytes they came as; an alias or a stream
    // (which may need the usage chunk asked for) is looked at whole.
    let body = if request.stream || route.upstream_model != request.model {
        let mut json = parse_json_object(&request.body)?;
        let mut rewritten = rename_model(&mut json, &request.model, route);
        // Ask for the usage chunk so the log has token counts, and keep it
        // from a client that did not ask for it.
        inject_usage = request.stream && !json.contains_key("stream_options");
        if inject_usage {
            json.insert("stream_options".into(), json!({"include_usage": true}));
            rewritten = true;
        }
        if rewritten {
            Bytes::from(Value::Object(json).to_string())
        } else {
            request.body
        }
    } else {
        request.body
    };
    Ok(Plan {
        call: UpstreamCall::OpenAiPost {
            path: "chat/completions",
        },
        body,
        body_type: None,
        stream: request.stream.then(|| Streamed {
            framer: Box::new(OpenAiSse::new(inject_usage)),
            content_type: "text/event-stream",
        }),
        complete: Complete::Relay {
            usage: Some(usage::from_openai),
        },
    })
}

pub fn to_gemini(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    // The routed model decides how reasoning effort is said (level or budget).
    let translated = translate::chat_request_to_gemini(
        &Value::Object(parse_json_object(&request.body)?),
        &route.upstream_model,
    )?;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = unix_secs();
    let model = request.model;
    let stream = request.stream.then(|| Streamed {
        framer: Box::new(GeminiToOpenAiChat::new(ChatStreamTranslator::new(
            &model,
            &id,
            created,
            translated.include_usage,
        ))),
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
                (
                    translate::gemini_response_to_chat(&answer, &model, &id, created),
                    usage,
                )
            })
        })),
    })
}

/// The Gemini call a translated generation makes: streamed or not.
pub fn gemini_generate(route: &Route, stream: bool) -> UpstreamCall<'_> {
    UpstreamCall::GeminiModelMethod {
        version: gemini::API_VERSION,
        model: &route.upstream_model,
        method: if stream {
            "streamGenerateContent"
        } else {
            "generateContent"
        },
    }
}

/// The body as sent to an OpenAI-protocol provider: as it came, or with the
/// routed model's name for an alias.
pub fn with_routed_model(request: ClientRequest, route: &Route) -> Result<Bytes, ApiError> {
    if route.upstream_model == request.model {
        return Ok(request.body);
    }
    let mut json = parse_json_object(&request.body)?;
    rename_model(&mut json, &request.model, route);
    Ok(Bytes::from(Value::Object(json).to_string()))
}

/// Puts the routed model's name in the body for an alias; whether it did.
pub fn rename_model(json: &mut Map<String, Value>, model: &str, route: &Route) -> bool {
    if route.upstream_model == model {
        return false;
    }
    json.insert("model".into(), Value::String(route.upstream_model.clone()));
    true
}
