//! The Batch API paths OpenAI and Gemini's `v1` share (`GET /v1/batches`,
//! `GET /v1/batches/{id}`): a client authenticating as Google's SDK does
//! (`x-goog-api-key`, `?key=`) is answered by the Gemini surface, any
//! other by OpenAI's, as the shared Files paths are.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, Method, Uri};

use crate::context::RequestContext;
use crate::error::Surface;
use crate::state::AppState;
use crate::surface::{detect, gemini, openai};

/// `GET /v1/batches`.
pub async fn list(
    state: State<AppState>,
    context: Extension<RequestContext>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match detect(&Method::GET, uri.path(), &headers, uri.query()) {
        Surface::Gemini => gemini::batches::list(state, context, uri).await,
        Surface::OpenAi => openai::batches::list(state, context, uri).await,
    }
}

/// `GET /v1/batches/{id}`.
pub async fn get(
    state: State<AppState>,
    context: Extension<RequestContext>,
    id: Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match detect(&Method::GET, uri.path(), &headers, uri.query()) {
        Surface::Gemini => gemini::batches::get(state, context, id).await,
        Surface::OpenAi => openai::batches::retrieve(state, context, id).await,
    }
}
