//! `POST /v1/embeddings`.

use airlock_providers::translate;
use airlock_providers::usage::{self, Usage};
use airlock_providers::{Protocol, UpstreamCall};
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use super::required_model;
use crate::body::{parse_json_object, read_json_bytes};
use crate::error::{ApiError, Surface};
use crate::exchange::{Exchange, RequestCost};
use crate::relay::{Reply, read_whole, respond};
use crate::server::RequestContext;
use crate::state::AppState;

pub async fn embeddings(
    State(state): State<AppState>,
    Extension(request): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut exchange = state.exchange(&request, Surface::OpenAi, "embeddings");
    let result = embed(&state, &headers, body, &mut exchange).await;
    respond(Surface::OpenAi, exchange, result)
}

async fn embed(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    exchange: &mut Exchange,
) -> Result<Reply, ApiError> {
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    let mut request = parse_json_object(&bytes)?;
    let model = required_model(&request)?;
    let cost = RequestCost {
        body_len: bytes.len(),
        max_output: Some(0),
    };
    let route = exchange.route(&model, Some(cost)).await?;

    match route.provider.protocol() {
        Protocol::OpenAi => {
            let body = if route.upstream_model == model {
                bytes
            } else {
                request.insert("model".into(), Value::String(route.upstream_model.clone()));
                Bytes::from(Value::Object(request).to_string())
            };
            let upstream = route
                .provider
                .send(
                    &UpstreamCall::OpenAiPost { path: "embeddings" },
                    Some(body),
                    &exchange.upstream_headers(),
                )
                .await?;
            exchange.set_key(upstream.key_id.clone());
            let (status, body) = read_whole(upstream).await?;
            let usage = serde_json::from_slice::<Value>(&body)
                .ok()
                .as_ref()
                .and_then(usage::from_openai);
            Ok(Reply::Json {
                status,
                body,
                usage,
            })
        }
        Protocol::Gemini => {
            let request = Value::Object(request);
            let translated =
                translate::embeddings_request_to_gemini(&request, &route.upstream_model)?;
            let call = UpstreamCall::GeminiModelMethod {
                version: "v1beta",
                model: &route.upstream_model,
                method: "batchEmbedContents",
            };
            let upstream = route
                .provider
                .send(
                    &call,
                    Some(Bytes::from(translated.body.to_string())),
                    &exchange.upstream_headers(),
                )
                .await?;
            exchange.set_key(upstream.key_id.clone());
            if !upstream.status.is_success() {
                let (status, body) = read_whole(upstream).await?;
                return Ok(Reply::json(
                    status,
                    &translate::gemini_error_to_openai(status.as_u16(), &body),
                ));
            }
            let (status, body) = read_whole(upstream).await?;
            let gemini: Value =
                serde_json::from_slice(&body).map_err(|_| ApiError::BadUpstreamAnswer)?;
            // Gemini reports no usage for embeddings: estimate four characters a token.
            let prompt_tokens = estimate_input_tokens(&request["input"]);
            let answer = translate::gemini_embeddings_to_openai(
                &gemini,
                &model,
                translated.encoding_format_base64,
                prompt_tokens,
            );
            let usage = Usage {
                input: Some(prompt_tokens),
                output: None,
            };
            Ok(Reply::Json {
                status,
                body: Bytes::from(answer.to_string()),
                usage: Some(usage),
            })
        }
    }
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
