//! The model paths both surfaces share: `GET /{version}/models`,
//! `GET /{version}/models/{model}` and `POST /{version}/models/{model}:{method}`.
//!
//! google-genai 3.x calls `/v1/...` by default, the same paths as OpenAI's
//! SDK; the client's way of authenticating tells the two apart.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, Method, Uri};

use crate::context::RequestContext;
use crate::dispatch::dispatch;
use crate::error::{ApiError, Surface};
use crate::exchange::Exchange;
use crate::relay::{Reply, respond};
use crate::state::AppState;
use crate::surface::gemini::{self, GeminiMethod, ModelPath};
use crate::surface::media::{AnswerShape, as_urls};
use crate::surface::{detect, openai};

/// The API version: the path's first segment (only the served versions are routed here).
fn version(uri: &Uri) -> &'static str {
    let first = uri.path().trim_start_matches('/').split('/').next();
    gemini::VERSIONS
        .into_iter()
        .find(|version| Some(*version) == first)
        .unwrap_or("v1")
}

pub async fn list(
    State(state): State<AppState>,
    Extension(request): Extension<RequestContext>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let surface = detect(&Method::GET, uri.path(), &headers, query.as_deref());
    let exchange = Exchange::begin(&state, &request, surface, "models.list");
    let trace = exchange.upstream_headers();
    let result = match surface {
        Surface::Gemini => {
            gemini::passthrough_list_models(&state, version(&uri), query.as_deref(), &trace).await
        }
        Surface::OpenAi => openai::models::list_models(&state, &trace).await,
    };
    respond(surface, exchange, result).await
}

pub async fn get(
    State(state): State<AppState>,
    Extension(request): Extension<RequestContext>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Path(rest): Path<String>,
) -> Response {
    let surface = detect(&Method::GET, uri.path(), &headers, query.as_deref());
    let mut exchange = Exchange::begin(&state, &request, surface, "models.get");
    let trace = exchange.upstream_headers();
    let result = match surface {
        Surface::OpenAi => {
            exchange.set_model(&rest);
            openai::models::retrieve_model(&state, &rest, &trace).await
        }
        Surface::Gemini => match gemini::parse_model_path(&rest) {
            Ok(ModelPath::Model(model)) => {
                exchange.set_model(model);
                gemini::passthrough_get_model(&state, version(&uri), model, &trace).await
            }
            Ok(ModelPath::Method { .. }) => Err(method_not_allowed(&uri)),
            Err(error) => Err(error),
        },
    };
    respond(surface, exchange, result).await
}

pub async fn post(
    State(state): State<AppState>,
    Extension(request): Extension<RequestContext>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Path(rest): Path<String>,
    body: Body,
) -> Response {
    if let Some(model) = rest.strip_suffix(":batchGenerateContent") {
        return gemini::batches::create(state, request, &uri, &headers, model, body).await;
    }
    let parsed = gemini::parse_model_path(&rest);
    let operation = match &parsed {
        Ok(ModelPath::Method { method, .. }) => method.name(),
        _ => "models.post",
    };
    let mut exchange = Exchange::begin(&state, &request, Surface::Gemini, operation);
    let result: Result<Reply, ApiError> = match parsed {
        Ok(ModelPath::Method { model, method }) => {
            exchange.set_model(model);
            let address = gemini::MethodAddress {
                model,
                method,
                version: version(&uri),
                sse: query
                    .as_deref()
                    .is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse")),
            };
            match gemini::read_request(&state, &headers, body, address).await {
                Ok(client) => {
                    let result = dispatch(client, &mut exchange).await;
                    match method {
                        // A complete answer's images and audio as URLs, when asked.
                        GeminiMethod::GenerateContent => {
                            let shape = AnswerShape::GeminiContent;
                            let asking = (&request, &headers);
                            as_urls(&state, asking, &mut exchange, shape, false, result).await
                        }
                        _ => result,
                    }
                }
                Err(error) => Err(error),
            }
        }
        Ok(ModelPath::Model(_)) => Err(method_not_allowed(&uri)),
        Err(error) => Err(error),
    };
    respond(Surface::Gemini, exchange, result).await
}

fn method_not_allowed(uri: &Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: "POST".to_string(),
        path: uri.path().to_string(),
    }
}
