//! Gemini model methods: passed through to Gemini providers as bytes (a
//! batch's per-request model names renamed for an alias); an OpenAI-protocol
//! provider cannot serve them.

use airlock_providers::{UpstreamCall, usage};
use bytes::Bytes;
use serde_json::Value;

use super::{ClientRequest, Complete, Plan, Streamed};
use crate::body::{check_json_syntax, parse_json_object};
use crate::error::ApiError;
use crate::framing::{GeminiJsonArray, GeminiSse};
use crate::routing::Route;
use crate::surface::gemini::GeminiMethod;

pub fn generate_content(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    passthrough(request, route, GeminiMethod::GenerateContent)
}

pub fn stream_generate_content(
    request: ClientRequest,
    route: &Route,
) -> Result<Plan<'_>, ApiError> {
    passthrough(request, route, GeminiMethod::StreamGenerateContent)
}

pub fn count_tokens(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    passthrough(request, route, GeminiMethod::CountTokens)
}

pub fn embed_content(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    passthrough(request, route, GeminiMethod::EmbedContent)
}

pub fn batch_embed_contents(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    passthrough(request, route, GeminiMethod::BatchEmbedContents)
}

fn passthrough(
    request: ClientRequest,
    route: &Route,
    method: GeminiMethod,
) -> Result<Plan<'_>, ApiError> {
    let body =
        if method == GeminiMethod::BatchEmbedContents && route.upstream_model != request.model {
            rename_batch_models(&request.body, &route.upstream_model)?
        } else {
            check_json_syntax(&request.body)?;
            request.body
        };
    let stream = (method == GeminiMethod::StreamGenerateContent).then(|| {
        if request.gemini_sse {
            Streamed {
                framer: Box::new(GeminiSse::new()),
                content_type: "text/event-stream",
            }
        } else {
            Streamed {
                framer: Box::new(GeminiJsonArray::new()),
                content_type: "application/json",
            }
        }
    });
    Ok(Plan {
        call: UpstreamCall::GeminiModelMethod {
            version: request.gemini_version,
            model: &route.upstream_model,
            method: method.name(),
        },
        body,
        body_type: None,
        stream,
        complete: Complete::Relay {
            usage: (method == GeminiMethod::GenerateContent).then_some(usage::from_gemini as _),
        },
    })
}

pub fn to_openai(request: ClientRequest, _route: &Route) -> Result<Plan<'_>, ApiError> {
    Err(ApiError::WrongSurface {
        model: request.model,
        protocol: "OpenAI",
    })
}

/// An aliased batch names the model in each request too: rename those.
fn rename_batch_models(bytes: &[u8], upstream_model: &str) -> Result<Bytes, ApiError> {
    let mut request = parse_json_object(bytes)?;
    if let Some(Value::Array(requests)) = request.get_mut("requests") {
        for item in requests.iter_mut().filter_map(Value::as_object_mut) {
            if item.contains_key("model") {
                item.insert(
                    "model".into(),
                    Value::String(format!("models/{upstream_model}")),
                );
            }
        }
    }
    Ok(Bytes::from(Value::Object(request).to_string()))
}
