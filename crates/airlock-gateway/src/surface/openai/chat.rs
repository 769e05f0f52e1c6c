//! `POST /v1/chat/completions`.

use airlock_providers::translate::{self, ChatStreamTranslator};
use airlock_providers::usage;
use airlock_providers::{Protocol, UpstreamCall};
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Value, json};

use super::required_model;
use crate::body::{parse_json_object, read_json_bytes};
use crate::error::{ApiError, Surface};
use crate::exchange::{Exchange, RequestCost};
use crate::framing::{GeminiToOpenAiChat, OpenAiSse};
use crate::relay::{Reply, read_whole, respond};
use crate::server::RequestContext;
use crate::state::AppState;
use crate::surface::unix_now;

pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(request): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut exchange = state.exchange(&request, Surface::OpenAi, "chat.completions");
    let result = chat(&state, &headers, body, &mut exchange).await;
    respond(Surface::OpenAi, exchange, result)
}

async fn chat(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    exchange: &mut Exchange,
) -> Result<Reply, ApiError> {
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    let mut request = parse_json_object(&bytes)?;
    let model = required_model(&request)?;
    let max_output = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|field| request.get(*field).and_then(Value::as_u64));
    let cost = RequestCost {
        body_len: bytes.len(),
        max_output,
    };
    let route = exchange.route(&model, Some(cost)).await?;
    let stream = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    match route.provider.protocol() {
        Protocol::OpenAi => {
            let mut rewritten = false;
            if route.upstream_model != model {
                request.insert("model".into(), Value::String(route.upstream_model.clone()));
                rewritten = true;
            }
            // Ask for the usage chunk so the log has token counts, and keep it
            // from a client that did not ask for it.
            let client_wants_usage = request
                .get("stream_options")
                .and_then(|options| options.get("include_usage"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let inject_usage =
                stream && !client_wants_usage && !request.contains_key("stream_options");
            if inject_usage {
                request.insert("stream_options".into(), json!({"include_usage": true}));
                rewritten = true;
            }
            let body = if rewritten {
                Bytes::from(Value::Object(request).to_string())
            } else {
                bytes
            };
            let call = UpstreamCall::OpenAiPost {
                path: "chat/completions",
            };
            let upstream = route
                .provider
                .send(&call, Some(body), &exchange.upstream_headers())
                .await?;
            exchange.set_key(upstream.key_id.clone());
            if stream && upstream.status.is_success() {
                return Ok(Reply::Stream {
                    upstream: Box::new(upstream),
                    framer: Box::new(OpenAiSse::new(inject_usage)),
                    content_type: "text/event-stream",
                });
            }
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
            let translated = translate::chat_request_to_gemini(&Value::Object(request))?;
            let method = if stream {
                "streamGenerateContent"
            } else {
                "generateContent"
            };
            let call = UpstreamCall::GeminiModelMethod {
                version: "v1beta",
                model: &route.upstream_model,
                method,
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
            let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
            if !upstream.status.is_success() {
                let (status, body) = read_whole(upstream).await?;
                return Ok(Reply::json(
                    status,
                    &translate::gemini_error_to_openai(status.as_u16(), &body),
                ));
            }
            if stream {
                let translator =
                    ChatStreamTranslator::new(&model, &id, unix_now(), translated.include_usage);
                return Ok(Reply::Stream {
                    upstream: Box::new(upstream),
                    framer: Box::new(GeminiToOpenAiChat::new(translator)),
                    content_type: "text/event-stream",
                });
            }
            let (status, body) = read_whole(upstream).await?;
            let gemini: Value =
                serde_json::from_slice(&body).map_err(|_| ApiError::BadUpstreamAnswer)?;
            let answer = translate::gemini_response_to_chat(&gemini, &model, &id, unix_now());
            Ok(Reply::Json {
                status,
                body: Bytes::from(answer.to_string()),
                usage: usage::from_gemini(&gemini),
            })
        }
    }
}
