//! OpenAI's Responses API: the turn (whose history the conversations module
//! has already put in its `input`) passed to OpenAI-protocol providers with
//! the model renamed for an alias; its stream's events forwarded as they
//! come. Gemini models are not reached through this API yet.

use airlock_providers::UpstreamCall;
use airlock_providers::usage;
use bytes::Bytes;
use serde_json::Value;

use super::chat::rename_model;
use super::{ClientRequest, Complete, Plan, Streamed};
use crate::body::parse_json_object;
use crate::error::ApiError;
use crate::framing::ResponsesSse;
use crate::routing::Route;

pub fn to_openai(request: ClientRequest, route: &Route) -> Result<Plan<'_>, ApiError> {
    let body = if route.upstream_model == request.model {
        request.body
    } else {
        let mut json = parse_json_object(&request.body)?;
        rename_model(&mut json, &request.model, route);
        Bytes::from(Value::Object(json).to_string())
    };
    Ok(Plan {
        call: UpstreamCall::OpenAiPost { path: "responses" },
        body,
        stream: request.stream.then(|| Streamed {
            framer: Box::new(ResponsesSse::default()),
            content_type: "text/event-stream",
        }),
        complete: Complete::Relay {
            usage: Some(usage::from_openai_responses),
        },
    })
}

pub fn to_gemini(request: ClientRequest, _route: &Route) -> Result<Plan<'_>, ApiError> {
    Err(ApiError::WrongSurface {
        model: request.model,
        protocol: "Gemini",
    })
}
