//! The Gemini model methods and model lookups, relayed to Gemini providers.

use airlock_providers::usage;
use airlock_providers::{Protocol, UpstreamCall};
use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use super::path::GeminiMethod;
use crate::body::{check_json_syntax, parse_json_object, read_json_bytes};
use crate::error::ApiError;
use crate::exchange::{Exchange, RequestCost};
use crate::framing::{GeminiJsonArray, GeminiSse};
use crate::relay::{Reply, read_whole};
use crate::state::AppState;

/// One `POST /{version}/models/{model}:{method}` as addressed.
pub struct MethodCall<'a> {
    pub version: &'a str,
    pub model: &'a str,
    pub method: GeminiMethod,
    pub query: Option<&'a str>,
}

/// `POST /{version}/models/{model}:{method}`.
pub async fn model_method(
    state: &AppState,
    call: MethodCall<'_>,
    headers: &HeaderMap,
    body: axum::body::Body,
    exchange: &mut Exchange,
) -> Result<Reply, ApiError> {
    let MethodCall {
        version,
        model,
        method,
        query,
    } = call;
    exchange.set_model(model);
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    let cost = RequestCost {
        body_len: bytes.len(),
        max_output: None,
    };
    let route = exchange.route(model, Some(cost)).await?;
    if route.provider.protocol() != Protocol::Gemini {
        return Err(ApiError::WrongSurface {
            model: model.to_string(),
            protocol: "OpenAI",
        });
    }
    let bytes = if method == GeminiMethod::BatchEmbedContents && route.upstream_model != model {
        rename_batch_models(&bytes, &route.upstream_model)?
    } else {
        check_json_syntax(&bytes)?;
        bytes
    };
    let call = UpstreamCall::GeminiModelMethod {
        version,
        model: &route.upstream_model,
        method: method.name(),
    };
    let upstream = route
        .provider
        .send(&call, Some(bytes), &exchange.upstream_headers())
        .await?;
    exchange.set_key(upstream.key_id.clone());
    if method == GeminiMethod::StreamGenerateContent && upstream.status.is_success() {
        let sse = query.is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse"));
        return Ok(if sse {
            Reply::Stream {
                upstream: Box::new(upstream),
                framer: Box::new(GeminiSse::new()),
                content_type: "text/event-stream",
            }
        } else {
            Reply::Stream {
                upstream: Box::new(upstream),
                framer: Box::new(GeminiJsonArray::new()),
                content_type: "application/json",
            }
        });
    }
    let (status, body) = read_whole(upstream).await?;
    let usage = match method {
        GeminiMethod::GenerateContent => serde_json::from_slice::<Value>(&body)
            .ok()
            .as_ref()
            .and_then(usage::from_gemini),
        _ => None,
    };
    Ok(Reply::Json {
        status,
        body,
        usage,
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

/// `GET /{version}/models` relayed to the first Gemini provider.
pub async fn passthrough_list_models(
    state: &AppState,
    version: &str,
    query: Option<&str>,
    trace: &HeaderMap,
) -> Result<Reply, ApiError> {
    let Some(provider) = state
        .config()
        .providers
        .iter()
        .find(|p| p.protocol() == Protocol::Gemini)
    else {
        return Ok(Reply::json(
            http::StatusCode::OK,
            &serde_json::json!({"models": []}),
        ));
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let call = UpstreamCall::GeminiListModels {
        version,
        page_size: param("pageSize"),
        page_token: param("pageToken"),
    };
    let upstream = provider.send(&call, None, trace).await?;
    let (status, body) = read_whole(upstream).await?;
    Ok(Reply::Json {
        status,
        body,
        usage: None,
    })
}

/// `GET /{version}/models/{model}`, answered under the name the client used.
pub async fn passthrough_get_model(
    state: &AppState,
    version: &str,
    model: &str,
    trace: &HeaderMap,
) -> Result<Reply, ApiError> {
    let route = state.route(model)?;
    if route.provider.protocol() != Protocol::Gemini {
        return Err(ApiError::WrongSurface {
            model: model.to_string(),
            protocol: "OpenAI",
        });
    }
    let upstream = route
        .provider
        .send(
            &UpstreamCall::GeminiGetModel {
                version,
                model: &route.upstream_model,
            },
            None,
            trace,
        )
        .await?;
    let (status, body) = read_whole(upstream).await?;
    if !status.is_success() || route.upstream_model == model {
        return Ok(Reply::Json {
            status,
            body,
            usage: None,
        });
    }
    let mut answer = parse_json_object(&body).map_err(|_| ApiError::BadUpstreamAnswer)?;
    answer.insert("name".into(), Value::String(format!("models/{model}")));
    Ok(Reply::json(status, &Value::Object(answer)))
}
