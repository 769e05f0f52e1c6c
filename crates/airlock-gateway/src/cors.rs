//! CORS for browsers calling the model routes with publishable keys.
//!
//! A preflight carries no key, so it is answered for any origin some project
//! allows; the request that follows is then held to its own key's project
//! (a publishable key works only from its project's origins). The allowed
//! origin is echoed, never `*`, and credentials are never allowed.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

use crate::state::AppState;

/// Response headers a browser script may read.
const EXPOSED: &str = "x-request-id, retry-after, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, \
     x-ratelimit-reset-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens";
/// Request headers allowed when a preflight names none we can echo.
const DEFAULT_ALLOWED: &str =
    "authorization, content-type, x-goog-api-key, x-airlock-user-token, x-request-id";

pub async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| {
            origin
                .to_str()
                .is_ok_and(|o| state.config().auth.tenancy().origin_allowed(o))
        })
        .cloned();
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = match &origin {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => (StatusCode::FORBIDDEN, "origin not allowed").into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
        if let Some(origin) = origin {
            let requested = request
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .filter(|v| {
                    v.as_bytes()
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_, ".contains(b))
                })
                .cloned()
                .unwrap_or(HeaderValue::from_static(DEFAULT_ALLOWED));
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    response
}
