//! `GET /v1/models` and `GET /v1/models/{id}` in OpenAI's shape, gathered from
//! every provider: a model is listed under the provider its name routes to.

use std::sync::Arc;

use airlock_providers::{Protocol, Provider, UpstreamCall, catalog, gemini};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::relay::{Reply, read_whole};
use crate::resilience::CallLimits;
use crate::state::AppState;

/// Gemini's list is paged; one large page is enough for every public model.
const GEMINI_PAGE_SIZE: &str = "1000";

pub async fn list_models(state: &AppState, trace: &HeaderMap) -> Result<Reply, ApiError> {
    let providers = &state.config().providers;
    let listings = futures_util::future::join_all(
        providers
            .iter()
            .map(|provider| provider_models(provider, trace)),
    )
    .await;
    let mut data = Vec::new();
    for (provider, listing) in providers.iter().zip(listings) {
        for model in listing {
            let id = model["id"].as_str().unwrap_or_default();
            let served_here = state.config().routes.resolve(id).is_some_and(|route| {
                Arc::ptr_eq(&route.provider, provider) && route.upstream_model == id
            });
            if served_here {
                data.push(model);
            }
        }
    }
    for (alias, rule) in state.config().routes.aliases() {
        data.push(catalog::openai_model_object(alias, rule.provider().name()));
    }
    Ok(Reply::json(
        StatusCode::OK,
        &json!({"object": "list", "data": data}),
    ))
}

pub async fn retrieve_model(
    state: &AppState,
    model: &str,
    trace: &HeaderMap,
) -> Result<Reply, ApiError> {
    let route = state.route(model)?;
    let not_found = || ApiError::ModelNotFound {
        model: model.to_string(),
    };
    let found = match route.provider.protocol() {
        Protocol::OpenAi => {
            let upstream = route
                .provider
                .send(
                    &UpstreamCall::OpenAiGetModel {
                        model: &route.upstream_model,
                    },
                    None,
                    trace,
                )
                .await?;
            if upstream.status == StatusCode::NOT_FOUND {
                return Err(not_found());
            }
            let limits = CallLimits::from_now(&route.timeouts);
            let (status, body) = read_whole(upstream, &route.provider, limits).await?;
            if !status.is_success() {
                return Ok(Reply::Json {
                    status,
                    body,
                    usage: None,
                });
            }
            let mut object: Value =
                serde_json::from_slice(&body).map_err(|_| ApiError::BadUpstreamAnswer)?;
            object["id"] = Value::String(model.to_string());
            object
        }
        Protocol::Gemini => {
            let call = UpstreamCall::GeminiGetModel {
                version: gemini::API_VERSION,
                model: &route.upstream_model,
            };
            let upstream = route.provider.send(&call, None, trace).await?;
            if !upstream.status.is_success() {
                return Err(not_found());
            }
            catalog::openai_model_object(model, "google")
        }
    };
    Ok(Reply::json(StatusCode::OK, &found))
}

/// The models one provider lists, as OpenAI model objects; empty (and
/// logged) when the provider cannot be listed.
async fn provider_models(provider: &Arc<Provider>, trace: &HeaderMap) -> Vec<Value> {
    let call = match provider.protocol() {
        Protocol::OpenAi => UpstreamCall::OpenAiListModels,
        Protocol::Gemini => UpstreamCall::GeminiListModels {
            version: gemini::API_VERSION,
            page_size: Some(GEMINI_PAGE_SIZE),
            page_token: None,
        },
    };
    let listing = match provider.send(&call, None, trace).await {
        Ok(upstream) if upstream.status.is_success() => upstream.into_bytes().await.ok(),
        Ok(upstream) => {
            tracing::warn!(
                provider = provider.name(),
                status = upstream.status.as_u16(),
                "listing models failed"
            );
            None
        }
        Err(error) => {
            tracing::warn!(provider = provider.name(), %error, "listing models failed");
            None
        }
    };
    listing
        .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
        .map(|value| catalog::openai_model_objects(provider.protocol(), &value))
        .unwrap_or_default()
}
