//! OpenAI embeddings: passed through to OpenAI-protocol providers (the model
//! renamed for an alias), translated to Gemini's `batchEmbedContents`.

use airlock_providers::translate;
use airlock_providers::usage::{self, Usage};
use airlock_providers::{UpstreamCall, gemini};
use bytes::Bytes;
use serde_json::Value;

use super::chat::with_routed_model;
use super::{ClientRequest, Complete, Plan, from_gemini};
use crate::body::parse_json_object;
use crate::error::ApiError;
use crate::routing::Route;

pub fn to_openai(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let body = with_routed_model(request, route)?;
    Ok(Plan {
        call: UpstreamCall::OpenAiPost { path: "embeddings" },
        body,
        body_type: None,
        stream: None,
        complete: Complete::Relay {
            usage: Some(usage::from_openai),
        },
    })
}

pub fn to_gemini(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let json = Value::Object(parse_json_object(&request.body)?);
    let translated = translate::embeddings_request_to_gemini(&json, &route.upstream_model)?;
    // Gemini reports no usage for embeddings: estimate four characters a token.
    let prompt_tokens = estimate_input_tokens(&json["input"]);
    let model = request.model;
    let base64 = translated.encoding_format_base64;
    Ok(Plan {
        call: UpstreamCall::GeminiModelMethod {
            version: gemini::API_VERSION,
            model: &route.upstream_model,
            method: "batchEmbedContents",
        },
        body: Bytes::from(translated.body.to_string()),
        body_type: None,
        stream: None,
        complete: Complete::Translate(Box::new(move |status, body| {
            from_gemini(status, &body, |answer| {
                let usage = Usage {
                    input: Some(prompt_tokens),
                    ..Usage::default()
                };
                (
                    translate::gemini_embeddings_to_openai(&answer, &model, base64, prompt_tokens),
                    Some(usage),
                )
            })
        })),
    })
}

fn estimate_input_tokens(input: &Value) -> u64 {
    let chars: usize = match input {
        Value::String(text) => text.chars().count(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|t| t.chars().count())
            .sum(),
        _ => 0,
    };
    chars.div_ceil(4) as u64
}
