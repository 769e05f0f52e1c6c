//! Gemini model method requests read for the dispatch seam, and the model
//! lookups relayed to Gemini providers.

use airlock_providers::{Protocol, UpstreamCall};
use http::HeaderMap;
use serde_json::Value;

use super::path::GeminiMethod;
use crate::admission::RequestCost;
use crate::body::{parse_json_object, read_json_bytes};
use crate::dispatch::{ClientRequest, Operation};
use crate::error::ApiError;
use crate::relay::{Reply, read_whole};
use crate::resilience::CallLimits;
use crate::state::AppState;

/// What a `POST /{version}/models/{model}:{method}` path and query say.
pub struct MethodAddress<'a> {
    pub model: &'a str,
    pub method: GeminiMethod,
    /// One of the served API versions.
    pub version: &'static str,
    /// `alt=sse` was asked (a stream as SSE rather than a JSON array).
    pub sse: bool,
}

/// A model method's body, for the dispatch seam: read within the size limit
/// and passed on as bytes (its JSON syntax is checked when it is planned).
pub async fn read_request(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
    address: MethodAddress<'_>,
) -> Result<ClientRequest, ApiError> {
    let bytes = read_json_bytes(headers, body, state.config().max_body_bytes).await?;
    Ok(ClientRequest {
        operation: Operation::GeminiMethod(address.method),
        model: address.model.to_string(),
        cost: RequestCost {
            body_len: bytes.len(),
            max_output: None,
        },
        body: bytes,
        stream: address.method == GeminiMethod::StreamGenerateContent,
        gemini_version: address.version,
        gemini_sse: address.sse,
        upload: None,
    })
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
    let limits = CallLimits::from_now(provider.timeouts());
    let (status, body) = read_whole(upstream, provider, limits).await?;
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
    let limits = CallLimits::from_now(&route.timeouts);
    let (status, body) = read_whole(upstream, &route.provider, limits).await?;
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
