//! The Files API paths OpenAI and Gemini's `v1` share (`GET /v1/files`,
//! `GET` and `DELETE /v1/files/{id}`): a client authenticating as Google's
//! SDK does (`x-goog-api-key`, `?key=`) is answered by the Gemini surface,
//! any other by OpenAI's, as `GET /v1/models` is.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, Method, Uri};

use crate::context::RequestContext;
use crate::error::Surface;
use crate::state::AppState;
use crate::surface::{detect, gemini, openai};

/// `GET /v1/files`.
pub async fn list(
    state: State<AppState>,
    context: Extension<RequestContext>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match detect(&Method::GET, uri.path(), &headers, uri.query()) {
        Surface::Gemini => gemini::files::list(state, context, uri, headers).await,
        Surface::OpenAi => openai::files::list(state, context, uri).await,
    }
}

/// `GET /v1/files/{id}`.
pub async fn get(
    state: State<AppState>,
    context: Extension<RequestContext>,
    id: Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match detect(&Method::GET, uri.path(), &headers, uri.query()) {
        Surface::Gemini => gemini::files::get(state, context, id, uri, headers).await,
        Surface::OpenAi => openai::files::retrieve(state, context, id).await,
    }
}

/// `DELETE /v1/files/{id}`.
pub async fn delete(
    state: State<AppState>,
    context: Extension<RequestContext>,
    id: Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match detect(&Method::DELETE, uri.path(), &headers, uri.query()) {
        Surface::Gemini => gemini::files::delete(state, context, id).await,
        Surface::OpenAi => openai::files::delete(state, context, id).await,
    }
}
